import { existsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import Database from 'better-sqlite3';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StateStore } from '../../src/local/state-store.js';
import { systemClock } from '../../src/runtime/clock.js';
import { AccessGuard } from '../../src/serve/access-guard.js';
import { startDashboardServer, type RunningDashboardServer } from '../../src/serve/dashboard-server.js';
import { DeliveryLog } from '../../src/serve/delivery-log.js';
import { HistoryReader } from '../../src/serve/history-reader.js';
import { RunQueue } from '../../src/serve/run-queue.js';
import { MAX_WEBHOOK_BYTES, WebhookReceiver } from '../../src/serve/webhook-receiver.js';
import type { ValidConfig } from '../../src/model/validate.js';
import { exampleOf, examplesOf, followingConfig, RecordingStarter, signedDelivery, tempFolder, TEST_SECRET } from './support.js';

let work: { dir: string; cleanup: () => void };
let store: StateStore;
let deliveries: DeliveryLog;
let starter: RecordingStarter;
let server: RunningDashboardServer;

async function serve(config: ValidConfig = followingConfig(), maxBytes?: number): Promise<void> {
  const runs = new RunQueue({ store, config, configFile: path.join(work.dir, 'pipelines.config.json'), baseDir: work.dir, starter, clock: systemClock });
  const receiver = new WebhookReceiver({ secret: TEST_SECRET, services: config.services, runs, store, deliveries, clock: systemClock, ...(maxBytes ? { maxBytes } : {}) });
  server = await startDashboardServer({
    host: '127.0.0.1',
    port: 0,
    guard: new AccessGuard('127.0.0.1', undefined),
    reader: new HistoryReader({ store, config, clock: systemClock }),
    webhooks: receiver,
    clock: systemClock,
  });
}

async function deliver(delivery: { body: string; headers: Record<string, string> }): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${server.url}/webhooks/github`, { method: 'POST', headers: delivery.headers, body: delivery.body });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

beforeEach(() => {
  work = tempFolder();
  store = StateStore.open(path.join(work.dir, '.service-pipelines'));
  deliveries = DeliveryLog.open(store);
  starter = new RecordingStarter();
});

afterEach(async () => {
  await server?.close();
  store.close();
  work.cleanup();
});

describe('POST /webhooks/github: what starts runs', () => {
  it('GIVEN GitHub\'s push example re-signed WHEN it is delivered for the followed branch THEN the pipeline starts and 202 answers', async () => {
    await serve();
    const push = exampleOf('push', (p) => p.ref === 'refs/heads/master');

    const reply = await deliver(await signedDelivery('push', push, { delivery: 'd-push-1' }));

    expect(reply.status).toBe(202);
    expect(reply.body).toMatchObject({ delivery: 'd-push-1', event: 'push', started: [{ service: 'api', trigger: 'push' }] });
    expect(starter.requests).toEqual([
      { service: 'api', trigger: 'push', reason: expect.stringContaining('to Codertocat/Hello-World@master (delivery d-push-1)'), revision: push.after, executionId: expect.any(String) },
    ]);
  });

  it('GIVEN two services in one repository WHEN a push arrives THEN both pipelines start', async () => {
    await serve(followingConfig({ monorepo: true }));

    const reply = await deliver(await signedDelivery('push', exampleOf('push', (p) => p.ref === 'refs/heads/master')));

    expect(reply.status).toBe(202);
    expect(starter.requests.map((r) => r.service)).toEqual(['api', 'worker']);
  });

  it('GIVEN each pull_request example WHEN delivered THEN opened, synchronize and reopened start the test-only run and the other actions start nothing', async () => {
    await serve();
    const examples = examplesOf('pull_request');
    expect(examples.length).toBeGreaterThan(10);

    for (const payload of examples) {
      const before = starter.requests.length;
      const reply = await deliver(await signedDelivery('pull_request', payload));
      const starts = ['opened', 'synchronize', 'reopened'].includes(String(payload.action));
      expect(reply.status, String(payload.action)).toBe(202);
      expect(starter.requests.length - before, String(payload.action)).toBe(starts ? 1 : 0);
      if (starts) {
        expect(starter.requests.at(-1)).toMatchObject({ service: 'api', trigger: 'pull-request' });
      } else {
        expect(reply.body.ignored).toContain(`"${String(payload.action)}" starts nothing`);
      }
    }
  });

  it('GIVEN pullRequests: false WHEN a pull request is opened THEN nothing starts and the reason says why', async () => {
    await serve(followingConfig({ pullRequests: false }));

    const reply = await deliver(await signedDelivery('pull_request', exampleOf('pull_request', (p) => p.action === 'opened')));

    expect(reply.status).toBe(202);
    expect(reply.body.ignored).toContain('pullRequests: false');
    expect(starter.requests).toEqual([]);
  });

  it('GIVEN tag pushes, deleted branches and other repositories WHEN delivered THEN 202 ignored with the reason, nothing started', async () => {
    await serve();
    const tag = exampleOf('push', (p) => p.ref === 'refs/tags/simple-tag');
    const branch = exampleOf('push', (p) => p.ref === 'refs/heads/master');
    const otherBranch = { ...branch, ref: 'refs/heads/feature' };
    const otherRepository = { ...branch, repository: { ...(branch.repository as object), full_name: 'someone/else' } };
    const deleted = { ...branch, deleted: true };

    const replies = [];
    for (const payload of [tag, otherBranch, otherRepository, deleted]) {
      replies.push(await deliver(await signedDelivery('push', payload)));
    }

    expect(replies.map((r) => r.status)).toEqual([202, 202, 202, 202]);
    expect(replies.map((r) => r.body.ignored)).toEqual([
      expect.stringContaining('tag pushes start nothing'),
      expect.stringContaining('no service follows Codertocat/Hello-World@feature (followed: Codertocat/Hello-World@master)'),
      expect.stringContaining('no service follows someone/else@master'),
      expect.stringContaining('was deleted'),
    ]);
    expect(starter.requests).toEqual([]);
  });

  it('GIVEN a service followed on GitHub but without source.path WHEN its branch is pushed THEN nothing starts: a local run needs its folder', async () => {
    await serve(followingConfig({ sourcePath: false }));

    const reply = await deliver(await signedDelivery('push', exampleOf('push', (p) => p.ref === 'refs/heads/master')));

    expect(reply.status).toBe(202);
    expect(reply.body.ignored).toBe("api has no source.path: local runs need the service's folder");
    expect(starter.requests).toEqual([]);
  });

  it('GIVEN a ping and an event this server does not act on WHEN delivered THEN 200 pong and 202 ignored', async () => {
    await serve();

    const ping = await deliver(await signedDelivery('ping', exampleOf('ping')));
    const issues = await deliver(await signedDelivery('issues', exampleOf('issues')));

    expect(ping).toMatchObject({ status: 200, body: { pong: true, zen: expect.any(String) } });
    expect(issues.status).toBe(202);
    expect(issues.body.ignored).toContain('the "issues" event starts nothing');
    expect(starter.requests).toEqual([]);
  });
});

describe('POST /webhooks/github: what is refused, with nothing started', () => {
  const push = () => exampleOf('push', (p) => p.ref === 'refs/heads/master');

  it('GIVEN a missing, a wrong-secret or a tampered signature WHEN delivered THEN 401', async () => {
    await serve();
    const missing = await signedDelivery('push', push());
    delete missing.headers['x-hub-signature-256'];
    const wrongSecret = await signedDelivery('push', push(), { secret: 'not-the-secret' });
    const tampered = await signedDelivery('push', push());
    tampered.body = tampered.body.replace('"refs/heads/master"', '"refs/heads/main"');
    const garbage = await signedDelivery('push', push());
    garbage.headers['x-hub-signature-256'] = 'sha256=zz';

    const replies = [await deliver(missing), await deliver(wrongSecret), await deliver(tampered), await deliver(garbage)];

    expect(replies.map((r) => r.status)).toEqual([401, 401, 401, 401]);
    expect((replies[0]!.body.error as { message: string }).message).toContain('missing X-Hub-Signature-256');
    expect((replies[1]!.body.error as { message: string }).message).toContain('does not match');
    expect(starter.requests).toEqual([]);
    expect(deliveries.size).toBe(0);
  });

  it('GIVEN an unknown event name, no event header, no delivery id WHEN delivered THEN 400', async () => {
    await serve();
    const unknown = await signedDelivery('not_an_event', push());
    const noEvent = await signedDelivery('push', push());
    delete noEvent.headers['x-github-event'];
    const noDelivery = await signedDelivery('push', push());
    delete noDelivery.headers['x-github-delivery'];

    const replies = [await deliver(unknown), await deliver(noEvent), await deliver(noDelivery)];

    expect(replies.map((r) => r.status)).toEqual([400, 400, 400]);
    expect((replies[0]!.body.error as { message: string }).message).toContain('unknown event "not_an_event"');
    expect(starter.requests).toEqual([]);
  });

  it('GIVEN a signed body that is not JSON, or a push without its ref WHEN delivered THEN 400 naming the problem', async () => {
    await serve();
    const notJson = await signedDelivery('push', undefined, { body: '{"ref": "refs/heads/master",' });
    const { ref: _ref, ...withoutRef } = push();

    const bad = await deliver(notJson);
    const incomplete = await deliver(await signedDelivery('push', withoutRef));

    expect(bad.status).toBe(400);
    expect((bad.body.error as { message: string }).message).toContain('not valid JSON');
    expect(incomplete.status).toBe(400);
    expect((incomplete.body.error as { message: string }).message).toMatch(/malformed push payload\n\s+payload\.ref:/);
    expect(starter.requests).toEqual([]);
  });

  it('GIVEN a GET, or a form-encoded delivery WHEN received THEN 405 and 415', async () => {
    await serve();
    const form = await signedDelivery('push', push());
    form.headers['content-type'] = 'application/x-www-form-urlencoded';

    const get = await fetch(`${server.url}/webhooks/github`);
    const formReply = await deliver(form);

    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect(formReply.status).toBe(415);
    expect((formReply.body.error as { message: string }).message).toContain("set the webhook's content type to application/json");
    expect(starter.requests).toEqual([]);
  });

  it('GIVEN a body declared over 25 MB WHEN received THEN 413 before any of it is read', async () => {
    await serve();
    const delivery = await signedDelivery('push', push());

    const status = await rawPost(server.url, { ...delivery.headers, 'content-length': String(MAX_WEBHOOK_BYTES + 1) }, []);

    expect(status).toBe(413);
    expect(starter.requests).toEqual([]);
  });

  it('GIVEN a chunked body that grows past the limit WHEN streamed THEN 413, counted as it streams', async () => {
    await serve(followingConfig(), 64 * 1024);
    const delivery = await signedDelivery('push', push());
    const chunk = Buffer.alloc(16 * 1024, 0x20);

    const status = await rawPost(server.url, delivery.headers, Array.from({ length: 64 }, () => chunk));

    expect(status).toBe(413);
    expect(starter.requests).toEqual([]);
  });
});

describe('POST /webhooks/github: redeliveries', () => {
  const push = () => exampleOf('push', (p) => p.ref === 'refs/heads/master');

  it('GIVEN a delivery whose run started WHEN GitHub redelivers it, even after a restart THEN 200 duplicate and nothing starts again', async () => {
    await serve();
    const delivery = await signedDelivery('push', push(), { delivery: 'd-redelivered' });

    const first = await deliver(delivery);
    // The run takes its record over, as `run --queued-execution` does.
    const [queued] = store.executionsOfDelivery('d-redelivered');
    store.claimQueuedExecution({ ...claimOf(queued!.id) });
    const again = await deliver(delivery);
    await server.close();
    store.close();
    store = StateStore.open(path.join(work.dir, '.service-pipelines'));
    deliveries = DeliveryLog.open(store);
    await serve();
    const afterRestart = await deliver(delivery);

    expect(first.status).toBe(202);
    expect(again).toMatchObject({ status: 200, body: { duplicate: true } });
    expect(afterRestart).toMatchObject({ status: 200, body: { duplicate: true, message: expect.stringContaining('started api (push, execution ') } });
    expect(starter.requests).toHaveLength(1);
  });

  it('GIVEN an accepted push WHEN answered THEN its run is recorded QUEUED with the delivery and the pushed commit, before the answer', async () => {
    await serve();
    const payload = push();

    const reply = await deliver(await signedDelivery('push', payload, { delivery: 'd-queued' }));

    const [queued] = store.executionsOfDelivery('d-queued');
    expect(queued).toMatchObject({ status: 'QUEUED', pipeline: 'api', deliveryId: 'd-queued', requestedRevision: payload.after as string, sourcePath: path.join(work.dir, 'api') });
    expect(reply.body.started).toEqual([{ service: 'api', trigger: 'push', pid: 40_001, executionId: queued!.id }]);
    expect(starter.requests[0]).toMatchObject({ executionId: queued!.id, revision: payload.after });
  });

  it('GIVEN a run that could not start WHEN GitHub redelivers THEN the first answer is 500, its record says why, and the redelivery starts it', async () => {
    await serve();
    const delivery = await signedDelivery('push', push(), { delivery: 'd-retry' });
    starter.failing = true;

    const failed = await deliver(delivery);
    starter.failing = false;
    const retried = await deliver(delivery);

    expect(failed.status).toBe(500);
    expect((failed.body.error as { message: string }).message).toContain('spawn failed');
    expect(retried).toMatchObject({ status: 202, body: { redelivery: true } });
    expect(starter.requests).toHaveLength(1);
    const [first, second] = store.executionsOfDelivery('d-retry');
    expect(first).toMatchObject({ status: 'FAILED', statusReason: expect.stringContaining('its run could not be started: could not start the run of api: spawn failed') });
    expect(second).toMatchObject({ status: 'QUEUED' });
  });

  it('GIVEN a delivery acted on by an earlier version (in webhooks.db, no run recorded) WHEN the history is opened THEN it is taken over, and its redelivery runs it', async () => {
    const legacy = new Database(path.join(work.dir, '.service-pipelines', 'webhooks.db'));
    legacy.exec(`CREATE TABLE deliveries (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, event TEXT NOT NULL, received_at INTEGER NOT NULL, outcome TEXT NOT NULL)`);
    legacy.prepare(`INSERT INTO deliveries (id, event, received_at, outcome) VALUES ('d-old', 'push', 1, 'started api (push, pid 123)'), ('d-ping', 'ping', 1, 'pong')`).run();
    legacy.close();
    deliveries = DeliveryLog.open(store);
    await serve();

    const lost = await deliver(await signedDelivery('push', push(), { delivery: 'd-old' }));

    expect(deliveries.get('d-ping')).toMatchObject({ outcome: 'pong' });
    expect(existsSync(path.join(work.dir, '.service-pipelines', 'webhooks.db'))).toBe(false);
    expect(existsSync(path.join(work.dir, '.service-pipelines', 'webhooks.db.imported'))).toBe(true);
    expect(lost).toMatchObject({ status: 202, body: { redelivery: true } });
    expect(starter.requests).toHaveLength(1);
  });

  it('GIVEN more deliveries than the log keeps WHEN more arrive THEN the oldest are forgotten', () => {
    const small = DeliveryLog.open(store, { capacity: 3 });
    for (const id of ['a', 'b', 'c', 'd', 'e']) {
      expect(small.claim(id, 'push', 1)).toBe(true);
    }
    expect(small.size).toBe(3);
    expect(small.claim('e', 'push', 2)).toBe(false);
    expect(small.claim('a', 'push', 2)).toBe(true);
  });
});

/** What a `run` process records when it takes over a queued execution. */
function claimOf(id: string): Parameters<StateStore['claimQueuedExecution']>[0] {
  return {
    id,
    pipeline: 'api',
    service: 'api',
    trigger: 'push',
    executionMode: 'SUPERSEDED',
    process: { pid: process.pid },
    processScope: 'test',
    configFile: 'pipelines.config.json',
    sourcePath: path.join(work.dir, 'api'),
    startedAt: Date.now(),
    stages: [{ name: 'Source', onFailure: 'FAIL', actions: [{ name: 'Source', runOrder: 1, kind: 'source' }] }],
  };
}

/** POST with a raw body (chunked when no content-length is given); resolves to the status. */
function rawPost(base: string, headers: Record<string, string>, chunks: Buffer[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${base}/webhooks/github`, { method: 'POST', headers }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    // The server may close the connection before the whole body is sent: that is the point.
    request.on('error', (error: NodeJS.ErrnoException) => (error.code === 'EPIPE' || error.code === 'ECONNRESET' ? undefined : reject(error)));
    const writeNext = (index: number): void => {
      if (index >= chunks.length) {
        request.end();
        return;
      }
      if (request.destroyed) {
        return;
      }
      request.write(chunks[index], () => writeNext(index + 1));
    };
    if (headers['content-length'] !== undefined && chunks.length === 0) {
      request.flushHeaders();
      return;
    }
    writeNext(0);
  });
}
