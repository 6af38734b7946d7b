/**
 * The approval JSON of `serve`'s API: the approver's text goes in as `summary`, the name it comes
 * back under (and CodePipeline's name for it); `comment` is what the approver was asked.
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StateStore } from '../../src/local/state-store.js';
import { systemClock } from '../../src/runtime/clock.js';
import { AccessGuard } from '../../src/serve/access-guard.js';
import { startDashboardServer, type RunningDashboardServer } from '../../src/serve/dashboard-server.js';
import { HistoryReader } from '../../src/serve/history-reader.js';
import { recordExecution } from '../serve/history-fixture.js';
import { followingConfig, tempFolder } from '../serve/support.js';

const base = followingConfig({ monorepo: true });
const config = { ...base, environments: [...base.environments, { name: 'prod', account: '444444444444', region: 'us-east-1', approval: true }] } as typeof base;

let work: { dir: string; cleanup: () => void };
let store: StateStore;
let server: RunningDashboardServer;

beforeEach(async () => {
  work = tempFolder();
  store = StateStore.open(path.join(work.dir, '.service-pipelines'));
  server = await startDashboardServer({
    host: '127.0.0.1',
    port: 0,
    guard: new AccessGuard('127.0.0.1', undefined),
    reader: new HistoryReader({ store, config, clock: systemClock }),
    clock: systemClock,
    pollMs: 20,
  });
  recordExecution(store, config, { id: 'exec-approval', service: 'api', state: 'awaiting-approval', startedAt: 2 });
});

afterEach(async () => {
  await server.close();
  store.close();
  work.cleanup();
});

async function decide(body: unknown): Promise<{ status: number; body: { approval?: Record<string, unknown>; error?: { message: string } } }> {
  const response = await fetch(`${server.url}/api/executions/exec-approval/approval`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as { approval?: Record<string, unknown> } };
}

describe('POST /api/executions/:id/approval', () => {
  it('GIVEN a waiting approval WHEN approved with a summary THEN the approval comes back with that summary, and the question as comment', async () => {
    const approved = await decide({ decision: 'approve', summary: 'release 42' });

    expect(approved.status).toBe(200);
    expect(approved.body.approval).toMatchObject({ status: 'APPROVED', summary: 'release 42', comment: 'Promote to prod?' });
    expect(store.approval('exec-approval', 'Approve-prod', 'Approve')?.summary).toBe('release 42');
  });

  it('GIVEN a waiting approval WHEN the old name comment is given with summary THEN 400 and nothing is decided', async () => {
    const both = await decide({ decision: 'approve', summary: 'a', comment: 'b' });

    expect(both.status).toBe(400);
    expect(both.body.error?.message).toContain('give summary (comment is its older name), not both');
    expect(store.approval('exec-approval', 'Approve-prod', 'Approve')?.status).toBe('PENDING');
  });
});
