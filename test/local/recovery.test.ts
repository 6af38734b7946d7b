import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runPipeline } from '../../src/local/engine.js';
import { markRunningHere, recoverAbandonedExecutions, unmarkRunningHere } from '../../src/local/recovery.js';
import { StateStore } from '../../src/local/state-store.js';
import { systemClock, type Clock } from '../../src/runtime/clock.js';
import { nodeProcessTable, type ProcessIdentity } from '../../src/runtime/process.js';
import { customConfig, gitRepository, shellPlan, tempFolder } from './helpers.js';

const linux = existsSync('/proc/self/stat');

function record(store: StateStore, id: string, process: ProcessIdentity, extra: { scope?: string; startedAt?: number } = {}): void {
  store.createExecution({
    id,
    pipeline: 'svc',
    service: 'svc',
    trigger: 'push',
    executionMode: 'SUPERSEDED',
    process,
    processScope: extra.scope ?? nodeProcessTable.scope(),
    configFile: '/config/pipelines.config.ts',
    sourcePath: '/src/svc',
    startedAt: extra.startedAt ?? 1_000,
    stages: [{ name: 'Build', onFailure: 'FAIL', actions: [{ name: 'Lint', runOrder: 1, kind: 'commands', step: 'lint' }] }],
  });
}

/** A process that ran and is gone: its pid and start time, as a run's record keeps them. */
async function deadProcess(): Promise<ProcessIdentity> {
  const child = spawn('sleep', ['30']);
  const identity = nodeProcessTable.identify(child.pid!)!;
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  return identity;
}

const started: ChildProcess[] = [];
/** A process group of its own, led by `sh`, whose processes ignore SIGTERM (as a deploy finishing its work might); resolves once they do. */
async function stubbornGroup(): Promise<ChildProcess> {
  const child = spawn('sh', ['-c', 'trap "" TERM; sleep 60 & echo ready; wait'], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  started.push(child);
  await new Promise((resolve) => child.stdout!.once('data', resolve));
  return child;
}

const marked: string[] = [];
afterEach(() => {
  marked.splice(0).forEach(unmarkRunningHere);
  for (const child of started.splice(0)) {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
});

const openStore = () => StateStore.open(mkdtempSync(path.join(tmpdir(), 'sp-recover-')));

describe('recoverAbandonedExecutions', () => {
  it('GIVEN a run recorded with this process id that this process does not run (a reused pid) WHEN recovering THEN it is marked failed', async () => {
    const store = openStore();
    record(store, 'reused-pid', nodeProcessTable.identify(process.pid) ?? { pid: process.pid });
    expect(await recoverAbandonedExecutions(store, { clock: systemClock })).toEqual(['reused-pid']);
    expect(store.execution('reused-pid')?.status).toBe('FAILED');
    store.close();
  });

  it('GIVEN a run this process runs, and a run of a live process WHEN recovering THEN neither is touched', async () => {
    const store = openStore();
    record(store, 'ours', { pid: process.pid });
    markRunningHere('ours');
    marked.push('ours');
    record(store, 'parent', nodeProcessTable.identify(process.ppid) ?? { pid: process.ppid });
    expect(await recoverAbandonedExecutions(store, { clock: systemClock })).toEqual([]);
    expect(store.execution('ours')?.status).toBe('IN_PROGRESS');
    expect(store.execution('parent')?.status).toBe('IN_PROGRESS');
    store.close();
  });

  it.skipIf(!linux)('GIVEN a recorded pid now taken by another process (another start time) WHEN recovering THEN the run is dead', async () => {
    const store = openStore();
    const parent = nodeProcessTable.identify(process.ppid)!;
    record(store, 'pid-reused', { pid: parent.pid, startTime: String(Number(parent.startTime) + 1) });
    expect(await recoverAbandonedExecutions(store, { clock: systemClock })).toEqual(['pid-reused']);
    store.close();
  });

  it.skipIf(!linux)('GIVEN a dead run whose action left a process group that ignores SIGTERM WHEN recovering THEN the group is killed after the grace period, and only then is the run failed and its lock released', async () => {
    const store = openStore();
    const dead = await deadProcess();
    record(store, 'killed', dead);
    store.tryLockStage('svc', 'Build', 'killed', 1_000, () => true);
    const group = await stubbornGroup();
    const leader = nodeProcessTable.identify(group.pid!)!;
    store.recordProcessGroup({ executionId: 'killed', stage: 'Build', action: 'Lint', leader, startedAt: 1_000 });
    // Watch from another connection, as another command would: when does the run read as failed, when is the group gone?
    const watcher = StateStore.open(store.home);
    let failedWhileGroupAlive = false;
    const watch = setInterval(() => {
      const alive = nodeProcessTable.groupAlive(leader);
      failedWhileGroupAlive ||= alive && watcher.execution('killed')?.status === 'FAILED';
    }, 10);
    const begin = Date.now();
    try {
      expect(await recoverAbandonedExecutions(store, { clock: systemClock, graceMs: 400 })).toEqual(['killed']);
    } finally {
      clearInterval(watch);
      watcher.close();
    }

    expect(nodeProcessTable.groupAlive(leader)).toBe(false);
    expect(Date.now() - begin).toBeGreaterThanOrEqual(400);
    expect(failedWhileGroupAlive).toBe(false);
    const execution = store.execution('killed')!;
    expect(execution.statusReason).toMatch(/process \(pid \d+\) is gone.*1 process group of its actions ended, 1 killed after 0.4 s/);
    expect(store.tryLockStage('svc', 'Build', 'next', 2_000, () => true)).toEqual({ acquired: true });
    expect(store.processGroups('killed')).toEqual([]);
    store.close();
  });

  it.skipIf(!linux)('GIVEN a dead run whose recorded group number now belongs to another process WHEN recovering THEN that process is not signalled', async () => {
    const store = openStore();
    record(store, 'killed', await deadProcess());
    const bystander = await stubbornGroup();
    const identity = nodeProcessTable.identify(bystander.pid!)!;
    // The same number, another start time: the group the run recorded is gone, its number reused.
    store.recordProcessGroup({ executionId: 'killed', stage: 'Build', action: 'Lint', leader: { pid: identity.pid, startTime: String(Number(identity.startTime) - 1) }, startedAt: 1_000 });

    expect(await recoverAbandonedExecutions(store, { clock: systemClock, graceMs: 100 })).toEqual(['killed']);
    expect(nodeProcessTable.isAlive(identity)).toBe(true);
    expect(store.execution('killed')!.statusReason).not.toContain('process group');
    store.close();
  });

  it('GIVEN runs recorded on another machine or container WHEN recovering THEN only the one whose heartbeat stopped is failed, and its processes are not signalled from here', async () => {
    const store = openStore();
    let now = 1_000_000;
    const clock: Clock = { now: () => now, sleep: async () => undefined };
    // The pid of this very process, which a pid test on this machine would take for alive (or for reused).
    const elsewhere = { pid: process.pid, startTime: '1' };
    record(store, 'fresh', elsewhere, { scope: 'other-boot/pid:[1]', startedAt: now - 10_000 });
    record(store, 'stale', elsewhere, { scope: 'other-boot/pid:[1]', startedAt: now - 200_000 });
    store.heartbeat('fresh', now - 2_000);
    store.heartbeat('stale', now - 90_000);
    store.recordProcessGroup({ executionId: 'stale', stage: 'Build', action: 'Lint', leader: elsewhere, startedAt: now - 150_000 });

    expect(await recoverAbandonedExecutions(store, { clock })).toEqual(['stale']);
    expect(store.execution('fresh')?.status).toBe('IN_PROGRESS');
    const stale = store.execution('stale')!;
    expect(stale.status).toBe('FAILED');
    expect(stale.statusReason).toContain(`heartbeat stopped 90 s ago (pid ${process.pid} on ${hostname()}`);
    expect(stale.statusReason).toContain('not signalled from here');
    now += 120_000;
    expect(await recoverAbandonedExecutions(store, { clock })).toEqual(['fresh']);
    store.close();
  });
});

describe('a live run whose record another process ended', () => {
  it('GIVEN a run in the middle of an action WHEN another process ends its record (it took the run for dead) THEN the run stops at its next heartbeat, and the record stays as that process left it', async () => {
    const work = tempFolder('sp-heartbeat-');
    try {
      const source = path.join(work.dir, 'svc');
      gitRepository(source, { 'README.md': '# svc\n' });
      const home = path.join(work.dir, '.service-pipelines');
      const config = customConfig(source);
      const begin = Date.now();
      const result = await runPipeline(shellPlan(config, { 'Build.UnitTests': ['sleep 30'] }), {
        definitionFile: 'c.json',
        baseDir: work.dir,
        home,
        heartbeatMs: 100,
        onEvent: (event) => {
          if (event.type === 'action-started' && event.action === 'UnitTests') {
            const other = StateStore.open(home);
            other.endExecution(other.executions()[0]!.id, 'FAILED', "the run's heartbeat stopped 61 s ago (test)", Date.now());
            other.close();
          }
        },
      });

      expect(Date.now() - begin).toBeLessThan(15_000);
      expect(result).toMatchObject({ status: 'FAILED', reason: "the run's heartbeat stopped 61 s ago (test)" });
    } finally {
      work.cleanup();
    }
  });
});
