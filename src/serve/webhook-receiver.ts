/**
 * `POST /webhooks/github`: verifies a GitHub webhook delivery and starts the runs it asks for.
 *
 * Status codes (GitHub shows them in the webhook's "Recent Deliveries"):
 * - 202 the runs are started (the response does not wait for them), or the event was
 *   verified and deliberately ignored (`{"ignored": "<why>"}`): events this server does not act
 *   on, pushes to other branches, tags... GitHub counts any 2xx as delivered, so a webhook that
 *   also sends other events does not show as failing;
 * - 200 `ping`, and a redelivery of a delivery id already acted on (nothing started again);
 * - 400 no `X-GitHub-Event` or `X-GitHub-Delivery`, an event name GitHub does not send,
 *   an empty or malformed JSON body, a payload lacking what its event needs;
 * - 401 a missing or wrong `X-Hub-Signature-256` (checked before the body is parsed);
 * - 405 not a POST; 413 a body over the limit (25 MB, GitHub's cap); 415 not `application/json`
 *   (set the webhook's content type to `application/json` on GitHub);
 * - 500 a run could not be started (its record ends FAILED; a redelivery starts it).
 * Nothing is started for any status but 202.
 *
 * The runs a delivery asks for are recorded (QUEUED) in the same transaction as the delivery,
 * before the answer: an accepted push is never lost, even when `serve` stops at once. A
 * redelivery of a delivery whose runs never started starts them; one whose runs started is a
 * duplicate.
 */
import { emitterEventNames, Webhooks } from '@octokit/webhooks';
import { InputError } from '../model/errors.js';
import type { Clock } from '../runtime/clock.js';
import type { StateStore } from '../local/state-store.js';
import type { DeliveryLog } from './delivery-log.js';
import { errorReply, headerValue, jsonReply, mediaType, type HttpReply, type RequestHeaders } from './http-reply.js';
import type { QueuedRun, RunQueue } from './run-queue.js';
import { routeWebhook, type ConfiguredService } from './webhook-router.js';

/** GitHub caps webhook payloads at 25 MB and does not send larger ones. */
export const MAX_WEBHOOK_BYTES = 25 * 1024 * 1024;

/** Event names GitHub sends (without the `.action` suffixes). */
const KNOWN_EVENTS: ReadonlySet<string> = new Set(emitterEventNames.filter((name) => !name.includes('.')));

/** What `WebhookReceiver` needs. */
export interface WebhookReceiverProps {
  /** The webhook's secret, as set on GitHub. */
  readonly secret: string;
  /** The config's services (routing follows their `source.github`). */
  readonly services: readonly ConfiguredService[];
  /** Records and starts the runs. */
  readonly runs: RunQueue;
  /** The history the deliveries and the runs are recorded in, together. */
  readonly store: StateStore;
  readonly deliveries: DeliveryLog;
  readonly clock: Clock;
  /**
   * The largest body accepted, in bytes.
   *
   * @default MAX_WEBHOOK_BYTES
   */
  readonly maxBytes?: number;
}

/** Verifies deliveries and starts runs. */
export class WebhookReceiver {
  private readonly webhooks: Webhooks;

  constructor(private readonly props: WebhookReceiverProps) {
    if (props.secret.length === 0) {
      throw new InputError('the webhook secret is empty', [{ where: '--secret', message: 'give the secret set on the GitHub webhook' }]);
    }
    this.webhooks = new Webhooks({ secret: props.secret });
  }

  /** The largest body accepted, in bytes. */
  get maxBytes(): number {
    return this.props.maxBytes ?? MAX_WEBHOOK_BYTES;
  }

  /**
   * What can be refused from the request line and headers alone, before its body is read:
   * the method, the content type and a declared length over the limit.
   */
  precheck(method: string, headers: RequestHeaders): HttpReply | undefined {
    if (method !== 'POST') {
      return errorReply(405, `${method} is not allowed here: GitHub delivers webhooks with POST`, { allow: 'POST' });
    }
    if (mediaType(headers) !== 'application/json') {
      return errorReply(415, `content type ${mediaType(headers) ?? '(none)'} is not accepted: set the webhook's content type to application/json`);
    }
    const declared = Number(headerValue(headers, 'content-length') ?? NaN);
    if (Number.isFinite(declared) && declared > this.maxBytes) {
      return tooLarge(this.maxBytes);
    }
    return undefined;
  }

  /** Handle a delivery whose body was read in full (and within the limit). */
  async receive(headers: RequestHeaders, body: Buffer): Promise<HttpReply> {
    const signature = headerValue(headers, 'x-hub-signature-256');
    if (signature === undefined || signature === '') {
      return errorReply(401, 'missing X-Hub-Signature-256: set a secret on the GitHub webhook (the same as this server\'s)');
    }
    if (body.length === 0) {
      return errorReply(400, 'empty body: a webhook delivery carries a JSON payload');
    }
    if (!(await this.webhooks.verify(body.toString('utf8'), signature))) {
      return errorReply(401, 'the X-Hub-Signature-256 signature does not match the payload: check that the webhook\'s secret is this server\'s');
    }
    const event = headerValue(headers, 'x-github-event');
    if (event === undefined || event === '') {
      return errorReply(400, 'missing X-GitHub-Event header');
    }
    if (!KNOWN_EVENTS.has(event)) {
      return errorReply(400, `unknown event "${event}": not an event GitHub sends`);
    }
    const delivery = headerValue(headers, 'x-github-delivery');
    if (delivery === undefined || delivery === '' || delivery.length > 200) {
      return errorReply(400, 'missing or invalid X-GitHub-Delivery header');
    }
    let payload: unknown;
    try {
      payload = JSON.parse(body.toString('utf8'));
    } catch (error) {
      return errorReply(400, `the body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
    }
    let route;
    try {
      route = routeWebhook(event, payload, this.props.services, delivery);
    } catch (error) {
      if (error instanceof InputError) {
        return errorReply(400, error.message);
      }
      throw error;
    }
    const { deliveries, runs, store } = this.props;
    // The delivery and the runs it asks for: one transaction, before any answer.
    const accepted = store.transaction((): { reply: HttpReply } | { queued: QueuedRun[]; redelivery: boolean } => {
      if (!deliveries.claim(delivery, event, this.props.clock.now())) {
        const again = route.kind === 'start' ? route.runs.filter((run) => runs.neverStarted(delivery, run)) : [];
        if (again.length === 0) {
          const previous = deliveries.get(delivery);
          return { reply: jsonReply(200, { delivery, event, duplicate: true, message: `delivery ${delivery} was received already (${previous?.outcome ?? 'received'}): nothing started again` }) };
        }
        const queued = runs.queue(again, delivery);
        deliveries.settle(delivery, `redelivered: queued ${describe(queued)}`);
        return { queued, redelivery: true };
      }
      switch (route.kind) {
        case 'pong':
          deliveries.settle(delivery, 'pong');
          return { reply: jsonReply(200, { delivery, event, pong: true, ...(route.zen === undefined ? {} : { zen: route.zen }) }) };
        case 'ignore':
          deliveries.settle(delivery, `ignored: ${route.reason}`);
          return { reply: jsonReply(202, { delivery, event, ignored: route.reason }) };
        case 'start': {
          const queued = runs.queue(route.runs, delivery);
          deliveries.settle(delivery, `queued ${describe(queued)}`);
          return { queued, redelivery: false };
        }
        default:
          throw new Error(`unhandled webhook route ${(route as { kind: string }).kind}`);
      }
    });
    if ('reply' in accepted) {
      return accepted.reply;
    }
    return this.start(delivery, event, accepted.queued, accepted.redelivery);
  }

  private async start(delivery: string, event: string, queued: readonly QueuedRun[], redelivery: boolean): Promise<HttpReply> {
    const { started, failed } = await this.props.runs.startQueued(queued);
    const runs = started.map((s) => ({ service: s.service, trigger: s.trigger, pid: s.pid, executionId: s.executionId }));
    this.props.deliveries.settle(
      delivery,
      `${redelivery ? 'redelivered: ' : ''}started ${started.map((s) => `${s.service} (${s.trigger}, execution ${s.executionId}, pid ${s.pid})`).join(', ') || 'nothing'}${failed.length ? `; could not start ${failed.map((f) => f.run.request.service).join(', ')}` : ''}`,
    );
    if (failed.length) {
      // Their records say why; a redelivery starts them, as they never started.
      return errorReply(500, `${failed.map((f) => f.message).join('; ')}${started.length ? ` (started: ${started.map((s) => s.service).join(', ')})` : ''}`);
    }
    return jsonReply(202, { delivery, event, ...(redelivery ? { redelivery: true } : {}), started: runs });
  }
}

function describe(queued: readonly QueuedRun[]): string {
  return queued.map((q) => `${q.request.service} (${q.request.trigger}, execution ${q.executionId})`).join(', ');
}

/** The 413 reply. */
export function tooLarge(maxBytes: number): HttpReply {
  return errorReply(413, `the body is larger than ${maxBytes} bytes`);
}
