/**
 * The event-driven example through the local engine, as a published service is: its pipeline
 * (`order-events`) is named apart from its serverless service (`order-events-digest-scheduled-jobs`,
 * over 32 characters), it has no HTTP event, its patterns do not start with '!**', it says
 * `frameworkVersion: '3'` and lists no plugins. It goes to prod, its acceptance tests invoke its
 * functions through SERVICE_INVOKE, its bundle is the one `osls package` makes by hand, and a
 * change that breaks prod is rolled back. Needs `npm run build` (actions run the built CLI).
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionDocument } from '../../src/local/describe.js';
import { nodeProcesses, runCaptured } from '../../src/runtime/process.js';
import { InstallCache } from '../../src/steps/install-cache.js';
import { listZip } from '../../src/steps/unzip.js';
import { deploymentRecordOf, git, gitRepository, tempFolder } from '../local/helpers.js';
import { SHARED_INSTALL_CACHE } from '../steps/support.js';

const root = path.resolve(import.meta.dirname, '../..');
const cli = path.join(root, 'bin', 'service-pipelines.js');
const example = path.join(root, 'examples', 'order-events');
const built = existsSync(path.join(root, 'dist', 'cli', 'main.js'));
const SERVERLESS_NAME = 'order-events-digest-scheduled-jobs';

interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

let work: { dir: string; cleanup: () => void };
let service: string;

/** The record of the pipeline's local deployment of an environment, from the run history. */
function deploymentRecord(environment: string) {
  return deploymentRecordOf(path.join(work.dir, '.service-pipelines'), 'order-events', environment);
}

/** Run the CLI in the working folder, without a terminal (as CI does). */
function runCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: work.dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: 'true', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(() => {
  if (!built) return;
  work = tempFolder('sp-events-');
  service = path.join(work.dir, 'order-events');
  cpSync(example, service, { recursive: true, filter: (file) => !/(^|\/)(node_modules|\.serverless|\.pipeline)(\/|$)/.test(path.relative(example, file)) });
  gitRepository(service, {});
  writeFileSync(
    path.join(work.dir, 'pipelines.config.json'),
    JSON.stringify({
      cicd: { account: '111111111111', region: 'us-east-1' },
      environments: [
        { name: 'dev', account: '222222222222', region: 'us-east-1' },
        { name: 'prod', account: '444444444444', region: 'us-east-1', approval: true, rollbackOnFailure: true },
      ],
      services: [{ name: 'order-events', source: { path: './order-events' } }],
    }),
  );
  // The install cache the steps tests share: the example is installed once per machine, not per run.
  mkdirSync(path.join(work.dir, '.service-pipelines'), { recursive: true });
  mkdirSync(SHARED_INSTALL_CACHE, { recursive: true });
  symlinkSync(SHARED_INSTALL_CACHE, path.join(work.dir, '.service-pipelines', 'cache'), 'dir');
});
afterAll(async () => {
  if (work) await runCli(['up', '--stop']);
  work?.cleanup();
});

describe.skipIf(!built)('the event-driven example through the local engine', () => {
  let firstProdRelease: number;
  let first: ExecutionDocument;

  it('GIVEN the published shape WHEN its pipeline runs THEN it reaches prod, says which events are not emulated, and its acceptance tests invoke its functions', async () => {
    const run = await runCli(['run', 'order-events', '--config', 'pipelines.config.json', '--approve', '--keep-stages']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('note: dev: the local stage emulates digest: schedule rate(1 day)');
    expect(run.stderr).toContain('note: prod: the local stage does NOT emulate worker: sqs OrdersQueue: nothing triggers these functions locally');

    const id = /execution ([0-9a-f-]{36})/.exec(run.stderr)![1]!;
    first = JSON.parse((await runCli(['show', id, '--json'])).stdout) as ExecutionDocument;
    expect(first.stages.map((s) => [s.name, s.status])).toEqual([
      ['Source', 'SUCCEEDED'],
      ['Build', 'SUCCEEDED'],
      ['Deploy-dev', 'SUCCEEDED'],
      ['Approve-prod', 'SUCCEEDED'],
      ['Deploy-prod', 'SUCCEEDED'],
    ]);
    const acceptance = first.stages[4]!.actions.find((a) => a.name === 'AcceptanceTests')!;
    expect(acceptance.log).toMatch(/# pass 2/);
    const packaging = first.stages[1]!.actions.find((a) => a.name === 'Package')!;
    expect(packaging.log).toContain("frameworkVersion: '3 || 4'");
    // Each environment's role carries its boundary, and the deploy checked it.
    expect(packaging.log).toContain('provider.iam.role.permissionsBoundary: arn:aws:iam::444444444444:policy/order-events-prod-boundary');
    const deploy = first.stages[4]!.actions.find((a) => a.name === 'Deploy')!;
    expect(deploy.log).toContain('every role of the prod template carries the permissions boundary arn:aws:iam::444444444444:policy/order-events-prod-boundary');

    // Kept under the pipeline's name, where the engine records what passed.
    const lastGood = await deploymentRecord('prod').then((record) => record?.lastGood);
    expect(lastGood?.executionId).toBe(id);
    firstProdRelease = lastGood!.release;

    const manifest = JSON.parse(readFileSync(path.join(first.artifacts.find((a) => a.name === 'Package')!.path, 'manifest.json'), 'utf8')) as {
      service: string;
      serverlessService: string;
      stages: Array<{ stackName: string }>;
    };
    expect([manifest.service, manifest.serverlessService]).toEqual(['order-events', SERVERLESS_NAME]);
    expect(manifest.stages.map((s) => s.stackName)).toEqual([`${SERVERLESS_NAME}-dev`, `${SERVERLESS_NAME}-prod`]);
  }, 400_000);

  it('GIVEN the kept prod stage WHEN `up` serves it again by the pipeline\'s name THEN it answers on its Lambda endpoint, where `invoke` finds it', async () => {
    expect((await runCli(['up', 'order-events', 'prod', '--stop'])).stdout).toContain('order-events/prod: stopped');
    const up = await runCli(['up', 'order-events', 'prod', '--json']);
    expect(up.code, up.stderr).toBe(0);
    const [served] = (JSON.parse(up.stdout) as { stages: Array<{ release: number; url?: string; outputs: Record<string, string>; lambdaEndpoint: string }> }).stages;
    expect(served).toMatchObject({ release: firstProdRelease, outputs: {} });
    expect(served!.url).toBeUndefined();
    // The Outputs artifact of the first run still says where the stage is, though it moved.
    const outputs = first.artifacts.find((a) => a.name === 'Outputs_prod')!.path;
    const invoked = await runCli(['invoke', 'digest', '--stage', 'prod', '--data', '{"time":"2026-03-02T06:00:00Z"}'], { CODEBUILD_SRC_DIR_Outputs_prod: outputs });
    expect(invoked.code, invoked.stderr).toBe(0);
    expect(JSON.parse(invoked.stdout)).toEqual({ stage: 'prod', from: '2026-03-01T06:00:00.000Z', to: '2026-03-02T06:00:00.000Z' });
    expect(served!.lambdaEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  }, 120_000);

  it('GIVEN the Package the engine built in its UUID-named workspace WHEN compared with `osls package` by hand THEN the two bundles hold the same files', async () => {
    const packageDir = first.artifacts.find((a) => a.name === 'Package')!.path;
    const manifest = JSON.parse(readFileSync(path.join(packageDir, 'manifest.json'), 'utf8')) as { bundle: { file: string } };
    const engineFiles = (await listZip(path.join(packageDir, manifest.bundle.file))).map((e) => e.name).sort();

    // By hand, in the service's own folder: its modules installed, and the one edit osls 4 needs.
    const byHand = path.join(work.dir, 'by-hand', 'order-events');
    cpSync(service, byHand, { recursive: true, filter: (file) => !/(^|\/)(\.git|\.pipeline)(\/|$)/.test(path.relative(service, file)) });
    writeFileSync(path.join(byHand, 'serverless.yml'), readFileSync(path.join(byHand, 'serverless.yml'), 'utf8').replace("frameworkVersion: '3'", "frameworkVersion: '3 || 4'"));
    symlinkSync(path.join(SHARED_INSTALL_CACHE, (await InstallCache.keyOf(byHand))!, 'node_modules'), path.join(byHand, 'node_modules'), 'dir');
    const out = path.join(work.dir, 'by-hand', 'out');
    const osls = await runCaptured(nodeProcesses, path.join(byHand, 'node_modules', '.bin', 'osls'), ['package', '--stage', 'dev', '--package', out], {
      cwd: byHand,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', SLS_TELEMETRY_DISABLED: '1' },
    });
    expect(osls.code, osls.stdout + osls.stderr).toBe(0);
    const handFiles = (await listZip(path.join(out, `${SERVERLESS_NAME}.zip`))).map((e) => e.name).sort();

    expect(engineFiles).toEqual(handFiles);
    // Its production dependency is there, its devDependencies are not.
    expect(engineFiles).toContain('node_modules/zod/package.json');
    expect(engineFiles.filter((f) => /^node_modules\/(osls|serverless-offline|eslint)\//.test(f))).toEqual([]);
  }, 120_000);

  it('GIVEN a change that breaks prod only WHEN the pipeline runs THEN prod is rolled back to the last good release, verified, and the run fails', async () => {
    const digest = readFileSync(path.join(service, 'src', 'digest.js'), 'utf8');
    // Wrong only where serverless-offline serves it (IS_OFFLINE) in prod: the Build's tests still pass.
    const broken = digest.replace("stage: process.env.STAGE ?? 'unknown'", "stage: process.env.IS_OFFLINE && process.env.STAGE === 'prod' ? 'broken' : (process.env.STAGE ?? 'unknown')");
    expect(broken).not.toBe(digest);
    writeFileSync(path.join(service, 'src', 'digest.js'), broken);
    git(service, 'commit', '-q', '-am', 'breaks prod');

    const run = await runCli(['run', 'order-events', '--config', 'pipelines.config.json', '--approve', '--json']);

    expect(run.code, run.stderr).toBe(1);
    const document = JSON.parse(run.stdout) as ExecutionDocument;
    const prod = document.stages.find((s) => s.name === 'Deploy-prod')!;
    expect(prod.actions.map((a) => [a.name, a.status])).toEqual([
      ['Deploy', 'SUCCEEDED'],
      ['AcceptanceTests', 'FAILED'],
      ['Rollback', 'SUCCEEDED'],
      ['RollbackVerification', 'SUCCEEDED'],
    ]);
    expect(document.rollbacks).toEqual([expect.objectContaining({ environment: 'prod', status: 'SUCCEEDED', toRelease: firstProdRelease })]);
    expect((await deploymentRecord('prod'))?.current?.release).toBe(firstProdRelease);
  }, 400_000);
});
