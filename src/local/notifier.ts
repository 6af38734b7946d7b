/**
 * Notifications of local runs: a Slack-incoming-webhook-compatible JSON message (`{ text, blocks }`)
 * posted to `notifications.webhook` on failure, approval wait and success.
 *
 * The URL is a credential: the plan names the Secrets Manager secret that holds it, and a local run
 * reads the secret's value from the local secrets file (`SERVICE_PIPELINES_SECRETS_FILE`) or the
 * environment (`SERVICE_PIPELINES_SECRET_<NAME>`), as buildspecs' secrets-manager variables are read.
 * No message, notice or history row ever holds the URL.
 */
import { isLoopbackUrl } from '../model/config.js';
import type { PlanWebhook } from '../model/plan-schema.js';
import { LocalSecretResolver } from './executor/secrets.js';

/** The environment variable that names a local secrets file (`{"secrets-manager": {"<name>": "<url>"}}`). */
export const SECRETS_FILE_ENV = 'SERVICE_PIPELINES_SECRETS_FILE';

/** A message, as Slack incoming webhooks take it. */
export interface WebhookMessage {
  /** The fallback text (shown in notifications and by non-Slack receivers). */
  readonly text: string;
  /** Slack Block Kit blocks. */
  readonly blocks?: readonly unknown[];
}

/** The HTTP seam: posts a JSON body, resolves to the response status. */
export type HttpPost = (url: string, body: string, signal: AbortSignal) => Promise<number>;

/** Posts with the platform's `fetch`. */
export const fetchPost: HttpPost = async (url, body, signal) => {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal });
  await response.arrayBuffer();
  return response.status;
};

/** What a notification is about. */
export interface RunNotification {
  readonly kind: 'failed' | 'approval-waiting' | 'succeeded';
  readonly pipeline: string;
  readonly executionId: string;
  /** One sentence: what happened and, for a wait, what to run. */
  readonly detail: string;
}

/** Build the webhook message of a notification. */
export function webhookMessage(notification: RunNotification): WebhookMessage {
  const headline = {
    failed: `:x: ${notification.pipeline}: execution ${notification.executionId} failed`,
    'approval-waiting': `:raised_hand: ${notification.pipeline}: execution ${notification.executionId} is awaiting approval`,
    succeeded: `:white_check_mark: ${notification.pipeline}: execution ${notification.executionId} succeeded`,
  }[notification.kind];
  return {
    text: `${headline}. ${notification.detail}`,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `*${headline}*` } },
      { type: 'section', text: { type: 'mrkdwn', text: notification.detail } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `local run · \`service-pipelines show ${notification.executionId}\`` }] },
    ],
  };
}

/**
 * Post a notification. Never throws: an unreachable webhook must not fail the pipeline it reports on;
 * the returned text says what went wrong, for the run's output.
 */
export async function postWebhook(url: string, notification: RunNotification, post: HttpPost = fetchPost, timeoutMs = 5_000): Promise<string | undefined> {
  try {
    const status = await post(url, JSON.stringify(webhookMessage(notification)), AbortSignal.timeout(timeoutMs));
    return status >= 200 && status < 300 ? undefined : `the webhook answered HTTP ${status}`;
  } catch (error) {
    return `the webhook could not be reached: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/** How the webhook is named in notices: by its secret, never by its URL. */
export function describeWebhook(webhook: PlanWebhook): string {
  return 'secret' in webhook ? `the webhook of secret "${webhook.secret}"` : `the webhook on this machine (${webhook.url})`;
}

/** Options of `notifyWebhook`. */
export interface NotifyWebhookOptions {
  /** Where the secret's value is looked up. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** @default fetchPost */
  readonly post?: HttpPost;
  /** @default 5000 */
  readonly timeoutMs?: number;
}

/**
 * Resolve the webhook's URL and post a notification. Never throws: an unreachable or unresolvable
 * webhook must not fail the pipeline it reports on; the returned text says what went wrong (without
 * the URL), for the run's output.
 */
export async function notifyWebhook(webhook: PlanWebhook, notification: RunNotification, options: NotifyWebhookOptions = {}): Promise<string | undefined> {
  const resolved = await resolveWebhookUrl(webhook, options.env ?? process.env);
  if ('problem' in resolved) return resolved.problem;
  const problem = await postWebhook(resolved.url, notification, options.post, options.timeoutMs);
  return problem?.split(resolved.url).join('<webhook URL>');
}

/**
 * The URL of a webhook, for a local run: a URL on this machine as the plan gives it, or the value of
 * its secret. Like EventBridge in AWS, only https is accepted, except on this machine.
 */
export async function resolveWebhookUrl(webhook: PlanWebhook, env: NodeJS.ProcessEnv): Promise<{ url: string } | { problem: string }> {
  let url: string;
  if ('url' in webhook) {
    url = webhook.url;
  } else {
    try {
      const file = env[SECRETS_FILE_ENV];
      const resolver = file ? LocalSecretResolver.fromFile(file, env) : LocalSecretResolver.fromEnvironment(env);
      url = (await resolver.secret(webhook.jsonKey ? `${webhook.secret}:${webhook.jsonKey}` : webhook.secret)).trim();
    } catch (error) {
      return { problem: `its URL could not be read: ${error instanceof Error ? error.message : String(error)}${env[SECRETS_FILE_ENV] ? '' : ` (or name a secrets file with ${SECRETS_FILE_ENV})`}` };
    }
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { problem: 'its URL is not a URL' };
  }
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && isLoopbackUrl(url))) {
    return { problem: `its URL is ${parsed.protocol.replace(/:$/, '')}, not https (only a URL on this machine may be http; EventBridge refuses anything but https in AWS)` };
  }
  return { url };
}
