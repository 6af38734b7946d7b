/**
 * Notifications of local runs: a Slack-incoming-webhook-compatible JSON message (`{ text, blocks }`)
 * posted to `notifications.webhook` on failure, approval wait and success.
 */

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
