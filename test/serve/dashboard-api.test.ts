import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StateStore } from '../../src/local/state-store.js';
import { systemClock } from '../../src/runtime/clock.js';
import { AccessGuard } from '../../src/serve/access-guard.js';
import { startDashboardServer, type RunningDashboardServer } from '../../src/serve/dashboard-server.js';
import type { ExecutionDetail, LogChunk, PipelineView } from '../../src/serve/dashboard-model.js';
import { HistoryReader } from '../../src/serve/history-reader.js';
import { followingConfig, tempFolder } from './support.js';
import { recordExecution } from './history-fixture.js';

let work: { dir: string; cleanup: () => void };
let store: StateStore;
let server: RunningDashboardServer;
const config = followingConfig({ monorepo: true });

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
});

afterEach(async () => {
  await server.close();
  store.close();
  work.cleanup();
});

async function getJson<T>(pathname: string): Promise<{ status: number; body: T }> {
  const response = await fetch(`${server.url}${pathname}`);
  return { status: response.status, body: (await response.json()) as T };
}

async function decide(id: string, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  const response = await fetch(`${server.url}/api/executions/${id}/approval`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('GET /api/pipelines', () => {
  it('GIVEN a history WHEN pipelines are listed THEN each configured pipeline comes with its latest execution, stages in order', async () => {
    recordExecution(store, config, { id: 'exec-old', service: 'api', state: 'failed-in-build', startedAt: 1_000 });
    recordExecution(store, config, { id: 'exec-new', service: 'api', state: 'succeeded', startedAt: 100_000 });
    recordExecution(store, config, { id: 'exec-pr', service: 'api', trigger: 'pull-request', state: 'succeeded', startedAt: 200_000 });

    const { status, body } = await getJson<{ pipelines: PipelineView[] }>('/api/pipelines');

    expect(status).toBe(200);
    expect(body.pipelines.map((p) => [p.name, p.latest?.id ?? null])).toEqual([
      ['api', 'exec-new'],
      ['api-pr', 'exec-pr'],
      ['worker', null],
      ['worker-pr', null],
    ]);
    const api = body.pipelines[0]!;
    expect(api.latest!.stages.map((s) => [s.name, s.status])).toEqual([
      ['Source', 'SUCCEEDED'],
      ['Build', 'SUCCEEDED'],
      ['Deploy-dev', 'SUCCEEDED'],
    ]);
    expect(api.latest!.stages[1]!.actions.map((a) => [a.name, a.status, a.durationMs])).toEqual([
      ['Lint', 'SUCCEEDED', 1000],
      ['UnitTests', 'SUCCEEDED', 1000],
      ['IntegrationTests', 'SUCCEEDED', 1000],
      ['Package', 'SUCCEEDED', 1000],
    ]);
    expect(body.pipelines[2]!.plannedStages.map((s) => s.name)).toEqual(['Source', 'Build', 'Deploy-dev']);
  });
});

describe('GET /api/executions', () => {
  it('GIVEN executions of several pipelines WHEN listed by pipeline with a limit THEN only that pipeline\'s, newest first', async () => {
    for (let i = 0; i < 5; i++) {
      recordExecution(store, config, { id: `api-${i}`, service: 'api', state: 'succeeded', startedAt: i * 10_000 });
      recordExecution(store, config, { id: `pr-${i}`, service: 'api', trigger: 'pull-request', state: 'succeeded', startedAt: i * 10_000 + 1 });
    }

    const all = await getJson<{ executions: Array<{ id: string }> }>('/api/executions?limit=3');
    const pr = await getJson<{ executions: Array<{ id: string; pipeline: string }> }>('/api/executions?pipeline=api-pr&limit=2');

    expect(all.body.executions.map((e) => e.id)).toEqual(['pr-4', 'api-4', 'pr-3']);
    expect(pr.body.executions.map((e) => e.id)).toEqual(['pr-4', 'pr-3']);
  });

  it('GIVEN a bad limit WHEN listed THEN 400 with a message', async () => {
    const { status, body } = await getJson<{ error: { message: string } }>('/api/executions?limit=0');

    expect(status).toBe(400);
    expect(body.error.message).toContain('limit must be a whole number from 1 to 1000');
  });
});

describe('GET /api/executions/:id and its log', () => {
  it('GIVEN an execution WHEN read by id or prefix THEN stages, actions, approvals; unknown ids are 404', async () => {
    recordExecution(store, config, { id: 'abcd1234-waiting', service: 'api', state: 'succeeded', startedAt: 5_000 });

    const full = await getJson<{ execution: ExecutionDetail }>('/api/executions/abcd1234-waiting');
    const prefix = await getJson<{ execution: ExecutionDetail }>('/api/executions/abcd1234');
    const missing = await getJson<{ error: { message: string } }>('/api/executions/nope-nope');
    const missingLog = await getJson<{ error: { message: string } }>('/api/executions/abcd1234-waiting/logs/Build/Nope');

    expect(full.status).toBe(200);
    expect(full.body.execution).toMatchObject({ id: 'abcd1234-waiting', pipeline: 'api', status: 'SUCCEEDED', sourceRevision: expect.any(String) });
    expect(prefix.body.execution.id).toBe('abcd1234-waiting');
    expect(missing).toEqual({ status: 404, body: { error: { status: 404, message: 'no execution nope-nope' } } });
    expect(missingLog.status).toBe(404);
  });

  it('GIVEN a running action WHEN its log is read from offsets THEN whole lines come, and the stored log continues at the same offset once it ends', async () => {
    recordExecution(store, config, { id: 'exec-building', service: 'api', state: 'building', startedAt: 5_000 });
    const logFile = store.actions('exec-building').find((a) => a.name === 'Lint')!.logFile!;
    appendFileSync(logFile, 'second line\npartial');

    const first = await getJson<LogChunk>('/api/executions/exec-building/logs/Build/Lint');
    appendFileSync(logFile, ' line\n');
    const second = await getJson<LogChunk>(`/api/executions/exec-building/logs/Build/Lint?offset=${first.body.nextOffset}`);
    store.updateAction('exec-building', 'Build', 'Lint', { status: 'SUCCEEDED', finishedAt: 9_000, log: '[Container] running Lint\nsecond line\npartial line\nthe end' });
    const third = await getJson<LogChunk>(`/api/executions/exec-building/logs/Build/Lint?offset=${second.body.nextOffset}`);

    expect(first.body).toEqual({ text: '[Container] running Lint\nsecond line\n', offset: 0, nextOffset: 37, complete: false });
    expect(second.body).toMatchObject({ text: 'partial line\n', complete: false });
    expect(third.body).toMatchObject({ text: 'the end\n', complete: true });
  });
});

describe('POST /api/executions/:id/approval', () => {
  it('GIVEN an execution awaiting approval WHEN approved THEN the store records it (as the approve command does) and a second decision is 409', async () => {
    recordExecution(store, config, { id: 'exec-waiting', service: 'api', state: 'succeeded', startedAt: 1 });
    const withApproval = validateWithApproval();
    recordExecution(store, withApproval, { id: 'exec-approval', service: 'api', state: 'awaiting-approval', startedAt: 2 });

    const approved = await decide('exec-approval', { decision: 'approve', comment: 'ship it' });
    const again = await decide('exec-approval', { decision: 'reject' });
    const nothingPending = await decide('exec-waiting', { decision: 'approve' });

    expect(approved.status).toBe(200);
    expect(approved.body.approval).toMatchObject({ stage: 'Approve-prod', action: 'Approve', status: 'APPROVED', summary: 'ship it', decidedBy: expect.stringContaining('dashboard') });
    expect(store.approval('exec-approval', 'Approve-prod', 'Approve')?.status).toBe('APPROVED');
    expect(store.execution('exec-approval')?.status).toBe('IN_PROGRESS');
    expect(again.status).toBe(409);
    expect(nothingPending.status).toBe(409);
  });

  it('GIVEN a waiting approval WHEN approved with a summary THEN it comes back as that summary, with the question as comment', async () => {
    recordExecution(store, validateWithApproval(), { id: 'exec-approval', service: 'api', state: 'awaiting-approval', startedAt: 2 });

    const approved = await decide('exec-approval', { decision: 'approve', summary: 'release 42' });

    expect(approved.status).toBe(200);
    expect(approved.body.approval).toMatchObject({ status: 'APPROVED', summary: 'release 42', comment: 'Promote to prod?' });
    expect(store.approval('exec-approval', 'Approve-prod', 'Approve')?.summary).toBe('release 42');
  });

  it('GIVEN a waiting approval WHEN both summary and its older name comment are given THEN 400 and nothing is decided', async () => {
    recordExecution(store, validateWithApproval(), { id: 'exec-approval', service: 'api', state: 'awaiting-approval', startedAt: 2 });

    const both = await decide('exec-approval', { decision: 'approve', summary: 'a', comment: 'b' });

    expect(both.status).toBe(400);
    expect((both.body.error as { message: string }).message).toBe('bad decision: give summary (comment is its older name), not both');
    expect(store.approval('exec-approval', 'Approve-prod', 'Approve')?.status).toBe('PENDING');
  });

  it('GIVEN bad decisions WHEN posted THEN 400/404/415 and nothing is decided', async () => {
    recordExecution(store, validateWithApproval(), { id: 'exec-approval', service: 'api', state: 'awaiting-approval', startedAt: 2 });

    const badDecision = await decide('exec-approval', { decision: 'maybe', extra: 1 });
    const unknown = await decide('exec-unknown', { decision: 'approve' });
    const form = await decide('exec-approval', { decision: 'approve' }, { 'content-type': 'text/plain' });
    const crossSite = await decide('exec-approval', { decision: 'approve' }, { 'content-type': 'application/json', origin: 'https://evil.example' });

    expect(badDecision.status).toBe(400);
    expect((badDecision.body.error as { message: string }).message).toBe('bad decision: decision must be "approve" or "reject"; unknown field extra');
    expect(unknown.status).toBe(404);
    expect(form.status).toBe(415);
    expect(crossSite.status).toBe(403);
    expect(store.approval('exec-approval', 'Approve-prod', 'Approve')?.status).toBe('PENDING');
  });
});

describe('GET /api/executions/:id/events (Server-Sent Events)', () => {
  it('GIVEN a running execution WHEN it progresses THEN the stream sends its changes and new log lines, then end', async () => {
    recordExecution(store, config, { id: 'exec-live', service: 'api', state: 'building', startedAt: 5_000 });
    const lint = store.actions('exec-live').find((a) => a.name === 'Lint')!.logFile!;
    const events = collectEvents(`${server.url}/api/executions/exec-live/events`);

    await events.waitFor((e) => e.some((x) => x.event === 'log' && x.data.action === 'Lint'));
    appendFileSync(lint, 'lint is happy\n');
    await events.waitFor((e) => e.some((x) => x.event === 'log' && String(x.data.text).includes('lint is happy')));
    for (const action of ['Lint', 'UnitTests', 'IntegrationTests', 'Package']) {
      store.updateAction('exec-live', 'Build', action, { status: 'SUCCEEDED', finishedAt: 9_000, log: `[Container] running ${action}${action === 'Lint' ? '\nlint is happy' : ''}` });
    }
    store.endExecution('exec-live', 'STOPPED', 'stopped by the test', 9_500);
    const all = await events.done;

    const executions = all.filter((e) => e.event === 'execution').map((e) => (e.data.execution as ExecutionDetail).status);
    expect(executions[0]).toBe('IN_PROGRESS');
    expect(executions.at(-1)).toBe('STOPPED');
    const lintText = all.filter((e) => e.event === 'log' && e.data.action === 'Lint').map((e) => e.data.text).join('');
    expect(lintText).toBe('[Container] running Lint\nlint is happy\n');
    expect(all.at(-1)).toEqual({ event: 'end', data: { status: 'STOPPED' } });
  });

  it('GIVEN the pipelines stream WHEN a latest execution changes THEN a new pipelines event comes; durations alone send nothing', async () => {
    recordExecution(store, config, { id: 'exec-live', service: 'api', state: 'building', startedAt: 5_000 });
    const controller = new AbortController();
    const events = collectEvents(`${server.url}/api/pipelines/events`, controller.signal);

    await events.waitFor((e) => e.length === 1);
    await new Promise((r) => setTimeout(r, 200));
    const whileUnchanged = events.events.length;
    store.updateAction('exec-live', 'Build', 'Lint', { status: 'FAILED', finishedAt: 9_000, log: 'lint failed' });
    await events.waitFor((e) => e.length === 2);
    controller.abort();

    const lint = (n: number) => (events.events[n]!.data.pipelines as PipelineView[])[0]!.latest!.stages[1]!.actions[0]!.status;
    expect(whileUnchanged).toBe(1);
    expect([lint(0), lint(1)]).toEqual(['IN_PROGRESS', 'FAILED']);
  });

  it('GIVEN an unknown execution WHEN its events are asked THEN 404', async () => {
    const response = await fetch(`${server.url}/api/executions/none-such/events`);
    expect(response.status).toBe(404);
  });
});

function validateWithApproval() {
  // The same services, with a prod environment behind an approval.
  return {
    ...config,
    environments: [...config.environments, { name: 'prod', account: '444444444444', region: 'us-east-1', approval: true }],
  } as typeof config;
}

/** Read an SSE stream into events until it ends. */
function collectEvents(
  url: string,
  signal?: AbortSignal,
): {
  events: Array<{ event: string; data: Record<string, unknown> }>;
  done: Promise<Array<{ event: string; data: Record<string, unknown> }>>;
  waitFor: (test: (events: Array<{ event: string; data: Record<string, unknown> }>) => boolean) => Promise<void>;
} {
  const events: Array<{ event: string; data: Record<string, unknown> }> = [];
  const done = (async () => {
    const response = await fetch(url, signal ? { signal } : {});
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body!) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) {
          events.push({ event, data: JSON.parse(data) as Record<string, unknown> });
        }
      }
    }
    return events;
  })().catch((error: unknown) => {
    if (signal?.aborted) {
      return events;
    }
    throw error;
  });
  const waitFor = async (test: (e: typeof events) => boolean) => {
    const deadline = Date.now() + 10_000;
    while (!test(events)) {
      if (Date.now() > deadline) {
        throw new Error(`timed out; events: ${JSON.stringify(events).slice(0, 2000)}`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return { events, done, waitFor };
}
