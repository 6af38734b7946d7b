/**
 * A pipeline whose name differs from serverless.yml's `service:` (as published services have it),
 * with a serverless name over 32 characters: the steps package it under its real name and keep
 * its local releases under the pipeline's name, where the engine, rollback and `up` look for them.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCurrent, readServer, revertCurrentMadeBy, serveRelease, stopStagesStartedBy, writeLastGood } from '../../src/steps/local-stages.js';
import { cleanEnv, copyExample, isRunning, makeHome, runCli, tempDir } from './support.js';

const SERVERLESS_NAME = 'ac-rest-api-published-under-a-longer-name';
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
    if (home) await stopStagesStartedBy(home, 'exec-a').then(() => stopStagesStartedBy(home, 'exec-b'));
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
    const current = await readCurrent(home, 'hello', 'prod');
    expect(current).toMatchObject({ release: 1, executionId: 'exec-a' });
    await writeLastGood(home, 'hello', 'prod', { release: 1, executionId: 'exec-a', at: new Date().toISOString() });

    expect((await step(['deploy', '--stage', 'prod'], { SERVICE_PIPELINES_TARGET: 'local', SERVICE_PIPELINES_EXECUTION_ID: 'exec-b' })).code).toBe(0);
    const rollback = await step(['rollback', '--stage', 'prod'], { SERVICE_PIPELINES_TARGET: 'local', SERVICE_PIPELINES_EXECUTION_ID: 'exec-b' });
    expect(rollback.stderr).toBe('');
    expect(rollback.code).toBe(0);
    expect(await readCurrent(home, 'hello', 'prod')).toMatchObject({ release: 1, executionId: 'exec-b', previous: { release: 1, executionId: 'exec-a' } });
    const outputs = await readJson<Record<string, string>>(path.join(service, '.pipeline', 'Outputs_prod', 'stack-outputs.json'));
    expect(((await (await fetch(`${outputs.ServiceEndpoint}/hello?name=Ada`)).json()) as { message: string }).message).toBe('Hello, Ada!');

    // Had exec-b died, its recovery puts back what was current before it, and stops what it served.
    const server = await readServer(home, 'hello', 'prod');
    expect(await revertCurrentMadeBy(home, 'exec-b')).toEqual([{ stage: 'hello/prod', restored: 1 }]);
    expect(await readCurrent(home, 'hello', 'prod')).toEqual(expect.objectContaining({ release: 1, executionId: 'exec-a' }));
    expect(await readServer(home, 'hello', 'prod')).toBeUndefined();
    expect(isRunning(server!.pid)).toBe(false);
    expect(await revertCurrentMadeBy(home, 'exec-b')).toEqual([]);

    // A deploy whose execution is gone by the time its server is ready does not make its release current.
    await expect(serveRelease(home, 'hello', 'prod', { release: 2, executionId: 'exec-c', mayBecomeCurrent: async () => false })).rejects.toThrow(
      'release 2 of hello/prod was not made current: the execution that deployed it is gone',
    );
    expect(await readCurrent(home, 'hello', 'prod')).toEqual(expect.objectContaining({ release: 1, executionId: 'exec-a' }));
    expect(await readServer(home, 'hello', 'prod')).toBeUndefined();
  }, 120_000);
});
