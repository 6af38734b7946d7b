import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StateStore } from '../../src/local/state-store.js';
import { InputError } from '../../src/model/errors.js';
import { systemClock } from '../../src/runtime/clock.js';
import { AccessGuard, isLoopbackHost } from '../../src/serve/access-guard.js';
import { startDashboardServer, type RunningDashboardServer } from '../../src/serve/dashboard-server.js';
import { HistoryReader } from '../../src/serve/history-reader.js';
import { followingConfig, tempFolder } from './support.js';

const TOKEN = 'a-dashboard-token-of-some-length';

describe('AccessGuard', () => {
  it('GIVEN an address beyond this machine WHEN no token is given THEN it refuses to start, naming --token', () => {
    expect(() => new AccessGuard('0.0.0.0', undefined)).toThrow(InputError);
    expect(() => new AccessGuard('0.0.0.0', undefined)).toThrow(/a token is required[\s\S]*--token/);
    expect(() => new AccessGuard('0.0.0.0', 'short')).toThrow(/at least 16 characters/);
    expect(new AccessGuard('127.0.0.1', undefined).requiresToken).toBe(false);
    expect(new AccessGuard('0.0.0.0', TOKEN).requiresToken).toBe(true);
  });

  it('GIVEN addresses WHEN classified THEN only loopback ones are', () => {
    expect(['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]'].map(isLoopbackHost)).toEqual([true, true, true, true, true]);
    expect(['0.0.0.0', '192.168.1.2', '::', 'example.com', '127.0.0.1.nip.io'].map(isLoopbackHost)).toEqual([false, false, false, false, false]);
  });
});

describe('the dashboard behind a token', () => {
  let work: { dir: string; cleanup: () => void };
  let store: StateStore;
  let server: RunningDashboardServer;

  beforeEach(async () => {
    work = tempFolder();
    store = StateStore.open(path.join(work.dir, '.service-pipelines'));
    // Bound to loopback for the test, but with a token: every request is checked as when bound elsewhere.
    server = await startDashboardServer({
      host: '127.0.0.1',
      port: 0,
      guard: new AccessGuard('127.0.0.1', TOKEN),
      reader: new HistoryReader({ store, config: followingConfig(), clock: systemClock }),
      clock: systemClock,
    });
  });

  afterEach(async () => {
    await server.close();
    store.close();
    work.cleanup();
  });

  it('GIVEN no token or a wrong one WHEN the API or the page is asked THEN 401', async () => {
    const none = await fetch(`${server.url}/api/pipelines`);
    const wrong = await fetch(`${server.url}/api/pipelines`, { headers: { authorization: `Bearer ${TOKEN}x` } });
    const page = await fetch(`${server.url}/`);
    // A token in the address opens the page only: an API address with it would leak it to logs.
    const apiWithQuery = await fetch(`${server.url}/api/pipelines?token=${TOKEN}`);

    expect([none.status, wrong.status, page.status, apiWithQuery.status]).toEqual([401, 401, 401, 401]);
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    expect(((await wrong.json()) as { error: { message: string } }).error.message).toBe('wrong token');
  });

  it('GIVEN the token as a bearer WHEN a script calls the API THEN 200', async () => {
    const response = await fetch(`${server.url}/api/pipelines`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(response.status).toBe(200);
  });

  it('GIVEN ?token= on the page WHEN opened THEN a strict HttpOnly cookie keeps it and the address loses it', async () => {
    const first = await fetch(`${server.url}/pipelines/api?token=${TOKEN}`, { redirect: 'manual' });
    const cookie = first.headers.get('set-cookie')!;
    const next = await fetch(`${server.url}${first.headers.get('location')!}`, { headers: { cookie: cookie.split(';')[0]! } });

    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe('/pipelines/api');
    expect(cookie).toMatch(/^sp_token=.+; Path=\/; HttpOnly; SameSite=Strict$/);
    expect(next.status).toBe(200);
    expect(next.headers.get('content-type')).toContain('text/html');
  });
});

describe('the dashboard on loopback without a token', () => {
  it('GIVEN a request whose Host names another machine (DNS rebinding) WHEN it comes THEN 403', async () => {
    const work = tempFolder();
    const store = StateStore.open(path.join(work.dir, '.service-pipelines'));
    const server = await startDashboardServer({
      host: '127.0.0.1',
      port: 0,
      guard: new AccessGuard('127.0.0.1', undefined),
      reader: new HistoryReader({ store, config: followingConfig(), clock: systemClock }),
      clock: systemClock,
    });
    try {
      const rebound = await rawGet(server.url, '/api/pipelines', 'attacker.example:80');
      const local = await rawGet(server.url, '/api/pipelines', `localhost:${server.port}`);
      expect(rebound).toBe(403);
      expect(local).toBe(200);
    } finally {
      await server.close();
      store.close();
      work.cleanup();
    }
  });
});

async function rawGet(base: string, pathname: string, host: string): Promise<number> {
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = request(`${base}${pathname}`, { headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}
