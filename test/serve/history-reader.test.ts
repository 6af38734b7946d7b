import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StateStore } from '../../src/local/state-store.js';
import type { Clock } from '../../src/runtime/clock.js';
import { HistoryReader } from '../../src/serve/history-reader.js';
import { recordExecution } from './history-fixture.js';
import { followingConfig, tempFolder } from './support.js';

let work: { dir: string; cleanup: () => void };
let store: StateStore;
let now = 1_000_000;
const clock: Clock = { now: () => now, sleep: async () => undefined };

beforeEach(() => {
  work = tempFolder();
  store = StateStore.open(path.join(work.dir, '.service-pipelines'));
});
afterEach(() => {
  store.close();
  work.cleanup();
});

describe('HistoryReader', () => {
  it('GIVEN a pipeline removed from the config WHEN pipelines are listed THEN it stays, marked as no longer configured', () => {
    recordExecution(store, followingConfig({ monorepo: true }), { id: 'exec-worker', service: 'worker', state: 'succeeded', startedAt: 1 });
    const reader = new HistoryReader({ store, config: followingConfig(), clock });

    const pipelines = reader.pipelines();

    expect(pipelines.map((p) => [p.name, p.configured, p.latest?.id ?? null])).toEqual([
      ['api', true, null],
      ['api-pr', true, null],
      ['worker', false, 'exec-worker'],
    ]);
  });

  it('GIVEN running actions WHEN read at two times THEN their durations grow with the clock; finished ones do not', () => {
    recordExecution(store, followingConfig(), { id: 'exec-building', service: 'api', state: 'building', startedAt: 10_000 });
    const reader = new HistoryReader({ store, config: followingConfig(), clock });
    const lint = () => reader.execution('exec-building')!.stages[1]!.actions[0]!;
    const source = () => reader.execution('exec-building')!.stages[0]!.actions[0]!;

    now = 20_000;
    const first = [lint().durationMs, source().durationMs];
    now = 25_000;
    const second = [lint().durationMs, source().durationMs];

    expect(first).toEqual([20_000 - 11_000, 1_000]);
    expect(second).toEqual([25_000 - 11_000, 1_000]);
  });

  it('GIVEN a waiting approval WHEN rejected with a comment THEN it is recorded rejected, by whom, and cannot be decided again', () => {
    const config = { ...followingConfig(), environments: [...followingConfig().environments, { name: 'prod', account: '444444444444', region: 'us-east-1', approval: true }] } as ReturnType<typeof followingConfig>;
    recordExecution(store, config, { id: 'exec-waiting', service: 'api', state: 'awaiting-approval', startedAt: 1 });
    const reader = new HistoryReader({ store, config, clock });

    const rejected = reader.decideApproval('exec-waiting', { decision: 'reject', comment: 'not today', by: 'dashboard (test)' });
    const again = reader.decideApproval('exec-waiting', { decision: 'approve', by: 'dashboard (test)' });
    const unknown = reader.decideApproval('exec-none', { decision: 'approve', by: 'dashboard (test)' });

    expect(rejected).toEqual({ kind: 'decided', approval: expect.objectContaining({ status: 'REJECTED', summary: 'not today', decidedBy: 'dashboard (test)', decidedAt: now }) });
    expect(again).toEqual({ kind: 'not-pending', message: expect.stringContaining('has no pending approval') });
    expect(unknown).toEqual({ kind: 'not-found' });
  });

  it('GIVEN a run whose process is gone WHEN the dashboard reads the history THEN it is marked failed, as every history command does', async () => {
    // A pid above Linux's largest: no process has it (the run was killed without a chance to record it).
    const orphanPid = 2 ** 22 + 12_345;
    recordExecution(store, followingConfig(), { id: 'exec-orphan', service: 'api', state: 'building', startedAt: 1, pid: orphanPid });
    const reader = new HistoryReader({ store, config: followingConfig(), clock });

    reader.execution('exec-orphan');
    // Ending what a dead run left running takes a moment: the repair goes on in the background.
    await reader.settled();
    const execution = reader.execution('exec-orphan')!;

    expect(execution.status).toBe('FAILED');
    expect(execution.statusReason).toContain(`pid ${orphanPid}`);
  });
});
