/**
 * A real `serve` process, real pushes, a real SIGTERM: nothing accepted is lost. Accepted runs
 * are recorded before the answer, end STOPPED when `serve` stops, and a redelivery runs the ones
 * that never started; every run takes the commit its webhook names, not the working tree.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StateStore, type ExecutionRecord } from '../../src/local/state-store.js';
import { git, gitRepository, processesCarrying, writeFiles } from '../local/helpers.js';
import { exampleOf, signedDelivery, tempFolder, TEST_SECRET } from './support.js';

const cli = fileURLToPath(new URL('../../bin/service-pipelines.js', import.meta.url));
const built = existsSync(fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url)));

let work: { dir: string; cleanup: () => void };
let home: string;
let pushed: string;
const servers: ChildProcess[] = [];

beforeEach(() => {
  work = tempFolder('sp-serve-stop-');
  home = path.join(work.dir, '.service-pipelines');
  const repo = path.join(work.dir, 'svc');
  // The commit a push names, then a later one, then uncommitted changes: the run must take the first.
  pushed = gitRepository(repo, { 'version.txt': 'pushed\n' });
  writeFiles(repo, { 'version.txt': 'later\n' });
  git(repo, 'commit', '-qam', 'later');
  writeFiles(repo, { 'version.txt': 'uncommitted\n' });
  writeFileSync(
    path.join(work.dir, 'pipelines.config.json'),
    JSON.stringify({
      cicd: { account: '111111111111', region: 'us-east-1' },
      environments: [{ name: 'dev', account: '222222222222', region: 'us-east-1' }],
      executionMode: 'PARALLEL',
      services: [
        {
          name: 'svc',
          flavor: 'custom',
          source: { path: './svc', github: { owner: 'Codertocat', repo: 'Hello-World', branch: 'master', connectionArn: 'arn:aws:codeconnections:us-east-1:111111111111:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789' } },
          commands: {
            install: 'true',
            lint: 'sleep ${LINT_SECONDS:-0}',
            testUnit: 'true',
            testIntegration: 'true',
            testAcceptance: 'true',
            package: 'mkdir -p .pipeline/Package && cp version.txt .pipeline/Package/',
            deploy: 'true',
          },
        },
      ],
    }),
  );
  // Delays each `run` process (not `serve`) at start, so that it is still starting when serve stops.
  writeFileSync(path.join(work.dir, 'slow-start.cjs'), "if (process.argv.includes('run')) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 4000);\n");
});
afterEach(async () => {
  for (const server of servers.splice(0)) server.kill('SIGKILL');
  work.cleanup();
});

/** Start `serve`; resolves with its URL once it listens. */
async function startServe(env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; url: string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [cli, 'serve', '--config', 'pipelines.config.json', '--port', '0'], {
    cwd: work.dir,
    env: { ...process.env, SERVICE_PIPELINES_WEBHOOK_SECRET: TEST_SECRET, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  servers.push(child);
  let stdout = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const deadline = Date.now() + 30_000;
  while (!/^history: /m.test(stdout) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  return { child, url: /^dashboard: (\S+)\/$/m.exec(stdout)![1]!, exited };
}

function pushDelivery(delivery: string) {
  return signedDelivery('push', { ...exampleOf('push', (p) => p.ref === 'refs/heads/master'), after: pushed }, { delivery });
}

async function deliver(url: string, delivery: { body: string; headers: Record<string, string> }): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${url}/webhooks/github`, { method: 'POST', headers: delivery.headers, body: delivery.body });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function executions(): ExecutionRecord[] {
  const store = StateStore.open(home);
  try {
    return store.executions().reverse();
  } finally {
    store.close();
  }
}

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out; the history: ${JSON.stringify(executions().map((e) => [e.status, e.statusReason]))}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe.skipIf(!built)(`serve stopped by SIGTERM${built ? '' : ' (skipped: the CLI is not built; npm run build)'}`, () => {
  it('GIVEN two accepted pushes whose runs had not started WHEN serve gets SIGTERM THEN both are in the history, STOPPED; after a restart their redelivery runs them, on the pushed commit', async () => {
    const first = await startServe({ NODE_OPTIONS: `--require ${path.join(work.dir, 'slow-start.cjs')}` });
    const deliveries = [await pushDelivery('d-1'), await pushDelivery('d-2')];
    const accepted = [await deliver(first.url, deliveries[0]!), await deliver(first.url, deliveries[1]!)];
    first.child.kill('SIGTERM');

    expect(accepted.map((a) => a.status)).toEqual([202, 202]);
    expect(await first.exited).toBe(0);
    const stopped = executions();
    expect(stopped.map((e) => [e.deliveryId, e.status, e.statusReason])).toEqual([
      ['d-1', 'STOPPED', 'serve was stopped before its run started'],
      ['d-2', 'STOPPED', 'serve was stopped before its run started'],
    ]);

    const second = await startServe();
    const redelivered = [await deliver(second.url, deliveries[0]!), await deliver(second.url, deliveries[1]!)];
    expect(redelivered.map((r) => [r.status, r.body.redelivery])).toEqual([
      [202, true],
      [202, true],
    ]);
    await until(() => executions().filter((e) => ['SUCCEEDED', 'FAILED'].includes(e.status)).length === 2, 120_000);
    second.child.kill('SIGTERM');
    await second.exited;

    const ran = executions().slice(2);
    expect(ran.map((e) => [e.deliveryId, e.status, e.sourceRevision, e.sourceDirty])).toEqual([
      ['d-1', 'SUCCEEDED', pushed, false],
      ['d-2', 'SUCCEEDED', pushed, false],
    ]);
    // The pushed commit's file, not the later commit's nor the uncommitted one.
    const store = StateStore.open(home);
    try {
      const packaged = store.artifacts(ran[0]!.id).find((a) => a.name === 'Package')!;
      expect(readFileSync(path.join(home, 'artifacts', 'trees', packaged.digest.slice('sha256:'.length), 'version.txt'), 'utf8')).toBe('pushed\n');
    } finally {
      store.close();
    }
  }, 240_000);

  it('GIVEN an accepted push whose run is in the middle of an action WHEN serve gets SIGTERM THEN the run ends STOPPED, its processes gone; a redelivery is a duplicate', async () => {
    const first = await startServe({ LINT_SECONDS: '60' });
    const delivery = await pushDelivery('d-busy');
    expect((await deliver(first.url, delivery)).status).toBe(202);
    await until(() => {
      const [execution] = executions();
      if (!execution) return false;
      const store = StateStore.open(home);
      try {
        return store.actions(execution.id).some((a) => a.name === 'Lint' && a.status === 'IN_PROGRESS');
      } finally {
        store.close();
      }
    }, 60_000);
    first.child.kill('SIGTERM');

    expect(await first.exited).toBe(0);
    const [execution] = executions();
    expect(execution).toMatchObject({ deliveryId: 'd-busy', status: 'STOPPED', statusReason: 'stopped (interrupted by SIGTERM)', sourceRevision: pushed });
    expect(processesCarrying(execution!.id)).toEqual([]);

    const second = await startServe();
    expect(await deliver(second.url, delivery)).toMatchObject({ status: 200, body: { duplicate: true } });
    second.child.kill('SIGTERM');
    await second.exited;
    expect(executions()).toHaveLength(1);
  }, 180_000);
});
