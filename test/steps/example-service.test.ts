/**
 * The steps run for real on the example service (ac-rest-api), offline: install through the cache,
 * lint and tests, package once for three environments, deploy to a local stage served by
 * serverless-offline, acceptance tests against it, and rollback to the last good release.
 */
import { createHash } from 'node:crypto';
import { appendFile, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDeploymentRecords } from '../../src/local/deployment-records.js';
import { systemClock } from '../../src/runtime/clock.js';
import { nodeProcesses, nodeProcessTable } from '../../src/runtime/process.js';
import { listDeployments, serveRelease, stopServersStartedBy } from '../../src/steps/local-deployments.js';
import { cleanEnv, copyExample, isRunning, makeHome, runCli, tempDir, type CliRun } from './support.js';

const sha256 = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');
const readJson = async <T>(file: string) => JSON.parse(await readFile(file, 'utf8')) as T;
const seams = { processes: nodeProcesses, processTable: nodeProcessTable, clock: systemClock };
/** Use the local deployment records of the state folder, and close them. */
async function withRecords<T>(home: string, use: (records: Awaited<ReturnType<typeof openDeploymentRecords>>) => Promise<T>): Promise<T> {
  const records = await openDeploymentRecords(home);
  try {
    return await use(records);
  } finally {
    records.close();
  }
}

describe('the steps on the example service', () => {
  let root: { dir: string; remove: () => Promise<void> };
  let service: string;
  let home: string;
  let install: CliRun;
  const env = (extra: Record<string, string> = {}) =>
    cleanEnv({ SERVICE_PIPELINES_HOME: home, SERVICE_NAME: 'ac-rest-api', ...extra });
  const step = (args: string[], extra: Record<string, string> = {}) => runCli(['step', ...args], { cwd: service, env: env(extra) });

  beforeAll(async () => {
    root = await tempDir('example');
    service = await copyExample(path.join(root.dir, 'ac-rest-api'));
    home = await makeHome(root.dir);
    install = await step(['install']);
  }, 240_000);

  afterAll(async () => {
    if (home) await stopServersStartedBy(home, 'exec-1', seams).then(() => stopServersStartedBy(home, 'exec-2', seams));
    await root?.remove();
  });

  it('GIVEN the example WHEN `step install` runs THEN its node_modules is the cached install of its lockfile', async () => {
    expect(install.stderr).toBe('');
    expect(install.code).toBe(0);
    expect(install.stdout).toMatch(/install cache hit|installed into the cache/);
    const again = await step(['install']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('install cache hit');
    expect(await readdir(path.join(service, 'node_modules', '.bin'))).toEqual(expect.arrayContaining(['osls', 'eslint']));
  });

  it.each([
    ['lint', 'npm run lint'],
    ['test-unit', 'npm test'],
    ['test-integration', 'npm run test:integration'],
  ])('GIVEN the installed example WHEN `step %s` runs THEN it runs `%s` and passes', async (name, command) => {
    const run = await step([name]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`[step ${name}] $ ${command}`);
    expect(run.stdout).toContain(`${command} passed`);
  });

  it('GIVEN a failing unit test WHEN `step test-unit` runs THEN it exits 1 naming the step and the command, with the test output passed through', async () => {
    const failing = path.join(service, 'test', 'unit', 'zz-failing.test.js');
    await writeFile(failing, "import { it } from 'node:test';\nit('fails on purpose', () => { throw new Error('boom on purpose'); });\n");
    try {
      const run = await step(['test-unit']);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('step test-unit failed: `npm test` exited with code 1');
      expect(run.stdout).toContain('boom on purpose');
    } finally {
      await rm(failing);
    }
  });

  describe('package once, then deploy locally', () => {
    let packaged: CliRun;
    const packageDir = () => path.join(service, '.pipeline', 'Package');

    beforeAll(async () => {
      packaged = await step(['package', '--stage', 'dev@us-east-1', '--stage', 'staging@us-east-1', '--stage', 'prod@eu-west-1']);
    }, 120_000);

    it('GIVEN three environments WHEN `step package` runs THEN one bundle is built and every stage template references it', async () => {
      // osls reports its progress on stderr; the step's own errors would start with "error:".
      expect(packaged.stderr).not.toMatch(/^error:/m);
      expect(packaged.code).toBe(0);
      const manifest = await readJson<{
        bundle: { file: string; sha256: string };
        stages: Array<{ name: string; region: string; directory: string; stackName: string }>;
      }>(path.join(packageDir(), 'manifest.json'));
      expect(manifest.bundle.sha256).toBe(await sha256(path.join(packageDir(), manifest.bundle.file)));
      // Beside the artifact, not in it: what the Package action exports as PACKAGE_SHA256.
      expect(await readFile(path.join(service, '.pipeline', 'Package.sha256'), 'utf8')).toBe(`${manifest.bundle.sha256}\n`);
      expect(manifest.stages.map((s) => [s.name, s.region, s.stackName])).toEqual([
        ['dev', 'us-east-1', 'ac-rest-api-dev'],
        ['staging', 'us-east-1', 'ac-rest-api-staging'],
        ['prod', 'eu-west-1', 'ac-rest-api-prod'],
      ]);
      // Lambda checks the code it is given against CodeSha256: the packaged bundle's digest, in every stage.
      const bundleBase64 = Buffer.from(manifest.bundle.sha256, 'hex').toString('base64');
      for (const stage of manifest.stages) {
        const files = await readdir(path.join(packageDir(), stage.directory));
        expect(files.filter((f) => f.endsWith('.zip'))).toEqual([]);
        const template = await readJson<{ Resources: Record<string, { Type: string; Properties: { Code?: { S3Key: string }; Environment?: { Variables: Record<string, string> } } }> }>(
          path.join(packageDir(), stage.directory, 'cloudformation-template-update-stack.json'),
        );
        const fn = Object.values(template.Resources).find((r) => r.Type === 'AWS::Lambda::Function')!;
        expect(fn.Properties.Environment?.Variables.STAGE).toBe(stage.name);
        expect(path.posix.basename(fn.Properties.Code!.S3Key)).toBe(path.basename(manifest.bundle.file));
        const version = Object.values(template.Resources).find((r) => r.Type === 'AWS::Lambda::Version')!;
        expect((version.Properties as { CodeSha256?: string }).CodeSha256).toBe(bundleBase64);
        const state = await readJson<{ package: { artifact: string } }>(path.join(packageDir(), stage.directory, 'serverless-state.json'));
        expect(state.package.artifact).toBe(path.basename(manifest.bundle.file));
      }
      // The service folder is left as it was: no config copy left beside serverless.yml.
      expect((await readdir(service)).filter((f) => f.startsWith('serverless.'))).toEqual(['serverless.yml']);
    });

    it('GIVEN the package WHEN deployed to a local stage THEN serverless-offline serves the release and its acceptance tests pass', async () => {
      const local = { SERVICE_PIPELINES_TARGET: 'local', SERVICE_PIPELINES_EXECUTION_ID: 'exec-1' };
      const deploy = await step(['deploy', '--stage', 'dev', '--region', 'us-east-1'], local);
      expect(deploy.stderr).toBe('');
      expect(deploy.code).toBe(0);
      const outputs = await readJson<Record<string, string>>(path.join(service, '.pipeline', 'Outputs_dev', 'stack-outputs.json'));
      expect(outputs.ServiceEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/dev$/);
      const stage = path.join(home, 'stages', 'ac-rest-api', 'dev');
      const server = await readJson<{ pid: number; url: string; release: number; executionId: string }>(path.join(stage, 'server.json'));
      const current = (await withRecords(home, (records) => records.get('ac-rest-api', 'dev')))!.current!;
      expect(server).toMatchObject({ url: outputs.ServiceEndpoint, release: 1, executionId: 'exec-1' });
      expect(current).toMatchObject({ release: 1, executionId: 'exec-1' });
      expect(current.packageSha256).toBe((await readJson<{ bundle: { sha256: string } }>(path.join(packageDir(), 'manifest.json'))).bundle.sha256);

      const response = await fetch(`${outputs.ServiceEndpoint}/hello?name=Ada`);
      expect(await response.json()).toMatchObject({ message: 'Hello, Ada!', stage: 'dev' });

      const acceptance = await step(['test-acceptance', '--stage', 'dev'], local);
      expect(acceptance.code).toBe(0);
      expect(acceptance.stdout).toContain(`SERVICE_URL=${outputs.ServiceEndpoint}`);
      expect(acceptance.stdout).toMatch(/# pass 2/);
    });

    it('GIVEN a served stage WHEN serving on a port already taken THEN a clear error names the port, and the stage keeps serving', async () => {
      const taken: Server = createServer();
      await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
      const port = (taken.address() as { port: number }).port;
      const before = await readJson<{ pid: number }>(path.join(home, 'stages', 'ac-rest-api', 'dev', 'server.json'));
      try {
        await expect(withRecords(home, (records) => serveRelease(home, records, 'ac-rest-api', 'dev', seams, { httpPort: port, env: cleanEnv() }))).rejects.toThrow(`port ${port} on 127.0.0.1 is taken`);
        // The refused serve left the running server alone.
        expect(isRunning(before.pid)).toBe(true);
      } finally {
        await new Promise((resolve) => taken.close(resolve));
      }
    });

    it('GIVEN a last good release and a newer one WHEN `step rollback` runs THEN the last good release is served again', async () => {
      const local = { SERVICE_PIPELINES_TARGET: 'local', SERVICE_PIPELINES_EXECUTION_ID: 'exec-2' };
      const stage = path.join(home, 'stages', 'ac-rest-api', 'dev');
      expect(await withRecords(home, (records) => records.markGood('ac-rest-api', 'dev', 'exec-1', Date.now()))).toBe(1);
      const deploy = await step(['deploy', '--stage', 'dev'], local);
      expect(deploy.code).toBe(0);
      const newer = await readJson<{ pid: number; release: number }>(path.join(stage, 'server.json'));
      expect(newer.release).toBe(2);

      const rollback = await step(['rollback', '--stage', 'dev'], local);
      expect(rollback.stderr).toBe('');
      expect(rollback.code).toBe(0);
      const server = await readJson<{ pid: number; url: string; release: number }>(path.join(stage, 'server.json'));
      expect(server.release).toBe(1);
      const current = await withRecords(home, async (records) => (await records.get('ac-rest-api', 'dev'))?.current);
      expect(current).toMatchObject({ release: 1, executionId: 'exec-2' });
      expect(isRunning(newer.pid)).toBe(false);
      const outputs = await readJson<Record<string, string>>(path.join(service, '.pipeline', 'Outputs_dev', 'stack-outputs.json'));
      expect(outputs.ServiceEndpoint).toBe(server.url);
      expect((await fetch(`${server.url}/hello`)).status).toBe(200);

      // `service-pipelines up` serves the current release again: the current release stays as it is.
      const { server: again } = await withRecords(home, (records) => serveRelease(home, records, 'ac-rest-api', 'dev', seams, { executionId: 'exec-2', env: cleanEnv() }));
      expect(again.release).toBe(1);
      expect(again.pid).not.toBe(server.pid);
      expect(isRunning(server.pid)).toBe(false);
      expect(await withRecords(home, async (records) => (await records.get('ac-rest-api', 'dev'))?.current)).toEqual(current);
      expect((await fetch(`${again.url}/hello`)).status).toBe(200);

      const deployments = await withRecords(home, (records) => listDeployments(home, records, seams));
      expect(deployments).toEqual([expect.objectContaining({ service: 'ac-rest-api', environment: 'dev', releases: [1, 2], running: true })]);
      expect(await stopServersStartedBy(home, 'exec-2', seams)).toEqual(['ac-rest-api/dev']);
      expect(isRunning(again.pid)).toBe(false);
    });

    it('GIVEN a stage without a last good release WHEN `step rollback` runs THEN it fails saying there is none', async () => {
      const run = await step(['rollback', '--stage', 'staging'], { SERVICE_PIPELINES_TARGET: 'local' });
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('ac-rest-api/staging has no last good release to roll back to');
    });

    it('GIVEN a bundle changed after packaging WHEN `step deploy` runs THEN it refuses, and nothing is deployed', async () => {
      const manifest = await readJson<{ bundle: { file: string } }>(path.join(packageDir(), 'manifest.json'));
      await appendFile(path.join(packageDir(), manifest.bundle.file), 'tampered');
      const run = await step(['deploy', '--stage', 'staging'], { SERVICE_PIPELINES_TARGET: 'local', SERVICE_PIPELINES_EXECUTION_ID: 'exec-3' });
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/refusing to deploy: the code bundle .* has sha256 [0-9a-f]{64}, but the package manifest records/);
      expect((await withRecords(home, (records) => listDeployments(home, records, seams))).map((s) => s.environment)).toEqual(['dev']);
    });
  });
});
