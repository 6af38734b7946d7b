/**
 * The local engine end to end: the example service's real pipeline (osls package, local stages
 * served by serverless-offline, acceptance tests over HTTP) through the CLI, over a real git
 * repository. The runs share one working folder, so the service's dependencies are installed
 * once, through the install cache. Needs `npm run build` (actions run the built CLI).
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionDocument } from '../../src/local/describe.js';
import { deploymentRecordOf, git, gitRepository, tempFolder } from './helpers.js';

const root = path.resolve(import.meta.dirname, '../..');
const cli = path.join(root, 'bin', 'service-pipelines.js');
const example = path.join(root, 'examples', 'ac-rest-api');
const built = existsSync(path.join(root, 'dist', 'cli', 'main.js'));

interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

let work: { dir: string; cleanup: () => void };
let service: string;

/** What the records of the working folder's history say of a local deployment. */
function deployment(service: string, environment: string) {
  return deploymentRecordOf(path.join(work.dir, '.service-pipelines'), service, environment);
}

/** Run the CLI in the working folder, without a terminal (as CI does). */
function runCli(args: string[], onStderr?: (text: string) => void): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: work.dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: 'true' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      onStderr?.(stderr);
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function commit(files: Record<string, string>, message: string): void {
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(path.join(service, name), content);
  }
  git(service, 'commit', '-q', '-am', message);
}

beforeAll(() => {
  if (!built) {
    return;
  }
  work = tempFolder('sp-e2e-');
  service = path.join(work.dir, 'ac-rest-api');
  cpSync(example, service, { recursive: true, filter: (file) => !/(^|\/)(node_modules|\.serverless|\.pipeline)(\/|$)/.test(path.relative(example, file)) });
  gitRepository(service, {});
  writeFileSync(
    path.join(work.dir, 'pipelines.config.json'),
    JSON.stringify({
      cicd: { account: '111111111111', region: 'us-east-1' },
      // One environment keeps the runs short; dev and staging run the same code as prod.
      environments: [{ name: 'prod', account: '444444444444', region: 'us-east-1', approval: true, rollbackOnFailure: true }],
      services: [{ name: 'ac-rest-api', source: { path: './ac-rest-api' } }],
    }),
  );
});
afterAll(() => work?.cleanup());

describe.skipIf(!built)('the example service through the local engine (serverless-offline stages)', () => {
  let firstProdRelease: number;

  it('GIVEN the example service WHEN its pipeline runs with --approve THEN it goes from source to prod and records the releases', async () => {
    const run = await runCli(['run', 'ac-rest-api', '--config', 'pipelines.config.json', '--approve', '--keep-stages', '--json']);

    expect(run.code, run.stderr).toBe(0);
    const document = JSON.parse(run.stdout) as ExecutionDocument;
    expect(document.status).toBe('SUCCEEDED');
    expect(document.source.revision).toBe(git(service, 'rev-parse', 'HEAD'));
    expect(document.stages.map((s) => [s.name, s.status])).toEqual([
      ['Source', 'SUCCEEDED'],
      ['Build', 'SUCCEEDED'],
      ['Approve-prod', 'SUCCEEDED'],
      ['Deploy-prod', 'SUCCEEDED'],
    ]);
    expect(document.artifacts.map((a) => a.name)).toEqual(['Source', 'Package', 'Outputs_prod']);
    const outputs = JSON.parse(readFileSync(path.join(document.artifacts.find((a) => a.name === 'Outputs_prod')!.path, 'stack-outputs.json'), 'utf8')) as Record<string, string>;
    expect(outputs.ServiceEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/prod$/);
    const lastGood = (await deployment('ac-rest-api', 'prod'))!.lastGood!;
    expect(lastGood.executionId).toBe(document.executionId);
    firstProdRelease = lastGood.release;
    expect(document.releases).toEqual([{ environment: 'prod', release: firstProdRelease, packageSha256: expect.stringMatching(/^[0-9a-f]{64}$/), good: true }]);
    // --keep-stages: prod still answers after the run.
    expect((await fetch(`${outputs.ServiceEndpoint}/hello?name=Ada`)).status).toBe(200);
  }, 240_000);

  it('GIVEN a kept stage WHEN up --stop then up THEN it is stopped, refused on a taken port, then served again from its current release', async () => {
    const stopped = await runCli(['up', 'ac-rest-api', 'prod', '--stop']);
    expect(stopped.stdout).toContain('ac-rest-api/prod: stopped');
    const stages = path.join(work.dir, '.service-pipelines', 'stages', 'ac-rest-api');
    expect(existsSync(path.join(stages, 'prod', 'server.json'))).toBe(false);

    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const refused = await runCli(['up', 'ac-rest-api', 'prod', '--http-port', String(port)]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain(`port ${port} on 127.0.0.1 is taken`);
    } finally {
      taken.close();
    }

    const up = await runCli(['up', 'ac-rest-api', 'prod', '--json']);
    try {
      expect(up.code, up.stderr).toBe(0);
      const [served] = (JSON.parse(up.stdout) as { stages: Array<{ release: number; url: string }> }).stages;
      expect(served!.release).toBe(firstProdRelease);
      const response = await fetch(`${served!.url}/hello?name=Ada`);
      expect(((await response.json()) as { message: string }).message).toBe('Hello, Ada!');
    } finally {
      await runCli(['up', 'ac-rest-api', '--stop']);
    }
  }, 120_000);

  it('GIVEN a change that breaks prod only WHEN the pipeline runs THEN prod is rolled back to the last good release, verified, and the run fails', async () => {
    const handler = readFileSync(path.join(service, 'src', 'handler.js'), 'utf8');
    // Broken only where serverless-offline serves it (IS_OFFLINE) in prod: the Build's tests still pass.
    const broken = "message: process.env.IS_OFFLINE && process.env.STAGE === 'prod' ? 'Broken' : `Hello, ${name}!`";
    commit({ 'src/handler.js': handler.replace('message: `Hello, ${name}!`', broken) }, 'breaks prod');

    const run = await runCli(['run', 'ac-rest-api', '--config', 'pipelines.config.json', '--approve', '--json']);

    expect(run.code, run.stderr).toBe(1);
    const document = JSON.parse(run.stdout) as ExecutionDocument;
    expect(document.status).toBe('FAILED');
    expect(document.stages.slice(0, 3).map((s) => s.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
    const prod = document.stages[3]!;
    expect(prod.actions.map((a) => [a.name, a.status])).toEqual([
      ['Deploy', 'SUCCEEDED'],
      ['AcceptanceTests', 'FAILED'],
      ['Rollback', 'SUCCEEDED'],
      ['RollbackVerification', 'SUCCEEDED'],
    ]);
    expect(document.rollbacks).toEqual([expect.objectContaining({ environment: 'prod', status: 'SUCCEEDED', toRelease: firstProdRelease })]);
    expect(document.statusReason).toContain(`rolled back to release ${firstProdRelease}`);
    expect((await deployment('ac-rest-api', 'prod'))!.current).toMatchObject({ release: firstProdRelease, executionId: document.executionId });
  }, 180_000);

  it('GIVEN a failing unit test WHEN the pull-request pipeline runs THEN Build fails with the test output in the log', async () => {
    const test = readFileSync(path.join(service, 'test', 'unit', 'handler.test.js'), 'utf8');
    commit({ 'test/unit/handler.test.js': test.replace("'Hello, world!'", "'Hello, nobody!'") }, 'breaks a unit test');

    const run = await runCli(['run', 'ac-rest-api', '--config', 'pipelines.config.json', '--pull-request']);

    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/Build\.UnitTests: FAILED/);
    const id = /execution ([0-9a-f-]{36})/.exec(run.stderr)![1]!;
    const shown = await runCli(['show', id, '--json']);
    const document = JSON.parse(shown.stdout) as ExecutionDocument;
    expect(document.pipeline).toBe('ac-rest-api-pr');
    const unit = document.stages[1]!.actions.find((a) => a.name === 'UnitTests')!;
    expect(unit.status).toBe('FAILED');
    expect(unit.log).toContain('Hello, nobody!');
    git(service, '-c', 'user.name=Test', 'revert', '--no-edit', 'HEAD');
  }, 120_000);

  it('GIVEN no terminal and no flag WHEN another shell rejects the waiting run THEN it stops before prod', async () => {
    let rejected: Promise<CliRun> | undefined;
    const run = await runCli(['run', 'ac-rest-api', '--config', 'pipelines.config.json'], (stderr) => {
      const waiting = /service-pipelines approve ([0-9a-f-]{36})/.exec(stderr);
      if (waiting && !rejected) {
        rejected = runCli(['reject', waiting[1]!, '-m', 'not today']);
      }
    });

    expect(run.code).toBe(1);
    expect((await rejected!).code).toBe(0);
    const history = JSON.parse((await runCli(['history', '--json'])).stdout) as { executions: Array<{ id: string; status: string }> };
    const latest = history.executions[0]!;
    const document = JSON.parse((await runCli(['show', latest.id, '--json'])).stdout) as ExecutionDocument;
    expect(document.approvals[0]).toMatchObject({ status: 'REJECTED', decidedBy: 'reject command', summary: 'not today' });
    expect(document.stages.map((s) => s.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'FAILED', 'SKIPPED']);
  }, 180_000);
});
