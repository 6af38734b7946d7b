import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { markRunningHere, recoverAbandonedExecutions, StateStore, unmarkRunningHere } from '../../src/local/state-store.js';

function record(store: StateStore, id: string, pid: number): void {
  store.createExecution({
    id,
    pipeline: 'svc',
    service: 'svc',
    trigger: 'push',
    executionMode: 'SUPERSEDED',
    pid,
    configFile: '/config/pipelines.config.ts',
    sourcePath: '/src/svc',
    startedAt: 1_000,
    stages: [{ name: 'Build', onFailure: 'FAIL', actions: [{ name: 'Lint', runOrder: 1, kind: 'commands', step: 'lint' }] }],
  });
}

describe('recoverAbandonedExecutions', () => {
  const marked: string[] = [];
  afterEach(() => marked.splice(0).forEach(unmarkRunningHere));

  it('GIVEN a run recorded with this process id that this process does not run (a reused pid) WHEN recovering THEN it is marked failed', () => {
    const store = StateStore.open(mkdtempSync(path.join(tmpdir(), 'sp-recover-')));
    record(store, 'reused-pid', process.pid);
    expect(recoverAbandonedExecutions(store, 2_000)).toEqual(['reused-pid']);
    expect(store.execution('reused-pid')?.status).toBe('FAILED');
    store.close();
  });

  it('GIVEN a run this process runs, and a run of a live process WHEN recovering THEN neither is touched', () => {
    const store = StateStore.open(mkdtempSync(path.join(tmpdir(), 'sp-recover-')));
    record(store, 'ours', process.pid);
    markRunningHere('ours');
    marked.push('ours');
    record(store, 'parent', process.ppid);
    expect(recoverAbandonedExecutions(store, 2_000)).toEqual([]);
    expect(store.execution('ours')?.status).toBe('IN_PROGRESS');
    expect(store.execution('parent')?.status).toBe('IN_PROGRESS');
    store.close();
  });
});
