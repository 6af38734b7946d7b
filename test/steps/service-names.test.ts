/**
 * A pipeline whose name differs from serverless.yml's `service:` (as published services have it),
 * with a serverless name over 32 characters: the steps package it under its real name and keep
 * its local releases under the pipeline's name, where the engine, rollback and `up` look for them.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDeploymentRecords } from '../../src/local/deployment-records.js';
import { StateStore } from '../../src/local/state-store.js';
import { nodeProcesses, nodeProcessTable } from '../../src/runtime/process.js';
import { systemClock } from '../../src/runtime/clock.js';
import { serveRelease, stopServersStartedBy } from '../../src/steps/local-deployments.js';
import { readServer } from '../../src/steps/local-server.js';
import { cleanEnv, copyExample, isRunning, makeHome, runCli, tempDir } from './support.js';

const SERVERLESS_NAME = 'ac-rest-api-published-under-a-longer-name';
const seams = { processes: nodeProcesses, processTable: nodeProcessTable, clock: systemClock };
const readJson = async <T>(file: string) => JSON.parse(await readFile(file, 'utf8')) as T;

describe('a pipeline named apart from its serverless service', () => {
  let root: { dir: string; remove: () => Promise<void> };
  let service: string;
  let home: string;
  const step = (args: string[], extra: Record<string, string> = {}) =>
    runCli(['step', ...args], { cwd: service, env: cleanEnv({ SERVICE_PIPELINES_HOME: home, SERVICE_NAME: 'hello', ...extra }) });

  beforeAll(async () => {
    root = await tempDir('names');
    service = await copyExample(path.join(root.dir, 'hello'));
    const yml = await readFile(path.join(service, 'serverless.yml'), 'utf8');
    await writeFile(path.join(service, 'serverless.yml'), yml.replace('service: ac-rest-api', `service: ${SERVERLESS_NAME}`));
    home = await makeHome(root.dir);
    expect((await step(['install'])).code).toBe(0);
    const packaged = await step(['package', '--stage', 'dev@us-east-1', '--stage', 'prod@us-east-1']);
    expect(packaged.stderr).not.toMatch(/^error:/m);
  }, 240_000);

  afterAll(async () => {
    if (home) await stopServersStartedBy(home, 'exec-a', seams).then(() => stopServersStartedBy(home, 'exec-b', seams)).then(() => stopServersStartedBy(home, 'exec-c', seams));
    await root?.remove();
  });

  it("GIVEN the package WHEN its manifest is read THEN it records the pipeline's name, the serverless name and the real stack names", async () => {
    const manifest = await readJson<{ service: string; serverlessService: string; stages: Array<{ stackName: string }> }>(path.join(service, '.pipeline', 'Package', 'manifest.json'));
    expect(manifest.service).toBe('hello');
    expect(manifest.serverlessService).toBe(SERVERLESS_NAME);
    expect(manifest.stages.map((s) => s.stackName)).toEqual([`${SERVERLESS_NAME}-dev`, `${SERVERLESS_NAME}-prod`]);
  });

  it("GIVEN a local deploy WHEN it is made THEN the release is kept under the pipeline's name, and rollback finds the last good one there", async () => {
    const first = await step(['deploy', '--stage', 'prod'], { SERVICE_PIPELINES_TARGET: 'local', SERVICE_PIPELINES_EXECUTION_ID: 'exec-a' });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    // What the engine reads after the acceptance tests pass, under the pipeline's name.
    const records = await openDeploymentRecords(home);
    try {
      expect((await records.get('hello', 'prod'))?.current).toMatchObject({ release: 1, executionId: 'exec-a' });
      expect(await records.markGood('hello', 'prod', 'exec-a', Date.now())).toBe(1);

      expect((await step(['deploy', '--stage', 'prod'], { SERVICE_PIPELINES_TARGET: 'local', SERVICE_PIPELINES_EXECUTION_ID: 'exec-b' })).code).toBe(0);
      const rollback = await step(['rollback', '--stage', 'prod'], { SERVICE_PIPELINES_TARGET: 'local', SERVICE_PIPELINES_EXECUTION_ID: 'exec-b' });
      expect(rollback.stderr).toBe('');
      expect(rollback.code).toBe(0);
      expect(await records.get('hello', 'prod')).toMatchObject({ current: { release: 1, executionId: 'exec-b' }, lastGood: { release: 1, executionId: 'exec-a' } });
      const outputs = await readJson<Record<string, string>>(path.join(service, '.pipeline', 'Outputs_prod', 'stack-outputs.json'));
      expect(((await (await fetch(`${outputs.ServiceEndpoint}/hello?name=Ada`)).json()) as { message: string }).message).toBe('Hello, Ada!');

      // Had exec-b died, its recovery puts back what was current before it, and stops what it served.
      const server = await readServer(home, 'hello', 'prod');
      expect(await records.revertChangesOf('exec-b')).toEqual([{ service: 'hello', environment: 'prod', restored: 1 }]);
      expect(await stopServersStartedBy(home, 'exec-b', seams)).toEqual(['hello/prod']);
      expect((await records.get('hello', 'prod'))?.current).toEqual(expect.objectContaining({ release: 1, executionId: 'exec-a' }));
      expect(await readServer(home, 'hello', 'prod')).toBeUndefined();
      expect(isRunning(server!.pid)).toBe(false);
      expect(await records.revertChangesOf('exec-b')).toEqual([]);
      expect(await records.releasesDeployedBy('exec-b')).toEqual([
        { service: 'hello', environment: 'prod', release: 2, packageSha256: expect.any(String), good: false },
        { service: 'hello', environment: 'prod', release: 1, packageSha256: expect.any(String), good: false },
      ]);

      // A deploy whose execution is over by the time its server is ready (another process found it dead) does not make its release current.
      const store = StateStore.open(home);
      store.createExecution({ id: 'exec-c', pipeline: 'hello', service: 'hello', trigger: 'push', executionMode: 'SUPERSEDED', process: { pid: process.pid }, processScope: nodeProcessTable.scope(), configFile: 'c.json', sourcePath: service, startedAt: Date.now(), stages: [] });
      store.endExecution('exec-c', 'FAILED', 'found dead', Date.now());
      store.close();
      await expect(serveRelease(home, records, 'hello', 'prod', seams, { release: 2, executionId: 'exec-c', env: cleanEnv() })).rejects.toThrow(
        'release 2 of hello/prod was not made current: the execution that deployed it is gone',
      );
      expect((await records.get('hello', 'prod'))?.current).toEqual(expect.objectContaining({ release: 1, executionId: 'exec-a' }));
      expect(await readServer(home, 'hello', 'prod')).toBeUndefined();
    } finally {
      records.close();
    }
  }, 120_000);
});
