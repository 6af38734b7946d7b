import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { notifyWebhook, resolveWebhookUrl, SECRETS_FILE_ENV, type HttpPost, type RunNotification } from '../../src/local/notifier.js';

const SLACK_URL = 'https://hooks.slack.com/services/T0000/B0000/secret-token';
const notification: RunNotification = { kind: 'failed', pipeline: 'orders', executionId: 'e-1', detail: 'Build.Lint failed' };

/** A fake HTTP seam that records where it posted. */
function recorder(status = 200): { post: HttpPost; urls: string[] } {
  const urls: string[] = [];
  return { urls, post: async (url) => (urls.push(url), status) };
}

describe('the local webhook', () => {
  it('GIVEN the webhook secret in the environment WHEN a run notifies THEN it posts to the secret value', async () => {
    const { post, urls } = recorder();
    const problem = await notifyWebhook({ secret: 'pipelines/alerts' }, notification, { env: { SERVICE_PIPELINES_SECRET_PIPELINES_ALERTS: SLACK_URL }, post });
    expect(problem).toBeUndefined();
    expect(urls).toEqual([SLACK_URL]);
  });

  it('GIVEN the webhook secret in the local secrets file, as JSON WHEN resolved THEN its json key is the URL', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'sp-notifier-')), 'secrets.json');
    writeFileSync(file, JSON.stringify({ 'secrets-manager': { 'pipelines/alerts': { url: SLACK_URL } } }));
    expect(await resolveWebhookUrl({ secret: 'pipelines/alerts', jsonKey: 'url' }, { [SECRETS_FILE_ENV]: file })).toEqual({ url: SLACK_URL });
  });

  it('GIVEN no value for the secret WHEN a run notifies THEN nothing is posted and the problem names the secret and where to put it, not a URL', async () => {
    const { post, urls } = recorder();
    const problem = await notifyWebhook({ secret: 'pipelines/alerts' }, notification, { env: {}, post });
    expect(urls).toEqual([]);
    expect(problem).toContain('SERVICE_PIPELINES_SECRET_PIPELINES_ALERTS');
    expect(problem).toContain(SECRETS_FILE_ENV);
  });

  it('GIVEN a secret URL over http to another host WHEN a run notifies THEN it is refused as EventBridge would, and the URL is not quoted', async () => {
    const { post, urls } = recorder();
    const problem = await notifyWebhook({ secret: 'a' }, notification, { env: { SERVICE_PIPELINES_SECRET_A: 'http://hooks.example.com/t0k3n' }, post });
    expect(urls).toEqual([]);
    expect(problem).toMatch(/not https/);
    expect(problem).not.toContain('t0k3n');
  });

  it('GIVEN a receiver that fails WHEN a run notifies THEN the problem never holds the URL', async () => {
    const failing: HttpPost = async (url) => {
      throw new Error(`connect ECONNREFUSED ${url}`);
    };
    const problem = await notifyWebhook({ secret: 'a' }, notification, { env: { SERVICE_PIPELINES_SECRET_A: SLACK_URL }, post: failing });
    expect(problem).toContain('could not be reached');
    expect(problem).not.toContain('secret-token');
  });

  it('GIVEN a URL on this machine in the plan WHEN resolved THEN http is allowed there', async () => {
    expect(await resolveWebhookUrl({ url: 'http://127.0.0.1:9000/hook' }, {})).toEqual({ url: 'http://127.0.0.1:9000/hook' });
  });
});
