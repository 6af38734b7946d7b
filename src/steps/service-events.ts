/**
 * What a packaged service's functions react to, read from the package (`serverless-state.json`),
 * and which of those events a local stage (serverless-offline 14) emulates. A local stage that
 * silently left an SQS consumer unwired would look deployed when it is not: the steps say so.
 */

/** The event kinds serverless-offline 14 serves or fires locally. */
export const EMULATED_EVENT_KINDS: ReadonlySet<string> = new Set(['http', 'httpApi', 'schedule', 'websocket', 'alb']);

/** One event of one function. */
export interface ServiceEvent {
  /** The function's key in serverless.yml (`worker`). */
  readonly function: string;
  /** The event's kind (`http`, `sqs`, `schedule`...). */
  readonly kind: string;
  /** What it is about, as serverless.yml says it (`GET /hello`, `rate(1 day)`, `OrdersQueue`), when short. */
  readonly detail?: string;
}

/** The functions and events of a packaged service. */
export interface ServiceEvents {
  /** Function key → the name it is deployed under (`<service>-<stage>-<key>`). */
  readonly functions: Readonly<Record<string, string>>;
  readonly events: readonly ServiceEvent[];
}

interface StateFunction {
  readonly name?: unknown;
  readonly events?: unknown;
}

/** The functions and events recorded in a package's `serverless-state.json` (its parsed JSON). */
export function eventsOfState(state: unknown): ServiceEvents {
  const functions = ((state as { service?: { functions?: unknown } } | undefined)?.service?.functions ?? {}) as Record<string, StateFunction>;
  const names: Record<string, string> = {};
  const events: ServiceEvent[] = [];
  for (const [key, fn] of Object.entries(functions)) {
    if (typeof fn?.name === 'string') names[key] = fn.name;
    for (const event of Array.isArray(fn?.events) ? (fn.events as unknown[]) : []) {
      if (!event || typeof event !== 'object') continue;
      for (const [kind, value] of Object.entries(event as Record<string, unknown>)) {
        const detail = detailOf(kind, resolveRefs(state, value));
        events.push({ function: key, kind, ...(detail ? { detail } : {}) });
      }
    }
  }
  return { functions: names, events };
}

/** Which events a local stage emulates, and which it does not. */
export function splitByEmulation(events: readonly ServiceEvent[]): { emulated: ServiceEvent[]; notEmulated: ServiceEvent[] } {
  return {
    emulated: events.filter((e) => EMULATED_EVENT_KINDS.has(e.kind)),
    notEmulated: events.filter((e) => !EMULATED_EVENT_KINDS.has(e.kind)),
  };
}

/** `worker: sqs OrdersQueue` */
export function formatEvent(event: ServiceEvent): string {
  return `${event.function}: ${event.kind}${event.detail ? ` ${event.detail}` : ''}`;
}

function detailOf(kind: string, value: unknown): string | undefined {
  if (typeof value === 'string') return ['sqs', 'sns', 'stream'].includes(kind) ? referenceName(value) : value;
  if (!value || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  switch (kind) {
    case 'http':
    case 'httpApi':
      return typeof v.path === 'string' ? `${typeof v.method === 'string' ? v.method.toUpperCase() : 'ANY'} /${v.path.replace(/^\//, '')}` : undefined;
    case 'schedule':
      return typeof v.rate === 'string' ? v.rate : Array.isArray(v.rate) ? v.rate.filter((r) => typeof r === 'string').join(', ') : undefined;
    case 'sqs':
    case 'stream':
    case 'sns':
      return referenceName(v.arn) ?? (typeof v.topicName === 'string' ? v.topicName : undefined);
    case 's3':
      return typeof v.bucket === 'string' ? v.bucket : undefined;
    case 'websocket':
      return typeof v.route === 'string' ? v.route : undefined;
    default:
      return undefined;
  }
}

/**
 * osls writes an object met twice in the state once, and `{ "$ref": "$[\"service\"][...]" }` in
 * the other places: follow such references (one level of properties deep, which is what events hold).
 */
function resolveRefs(state: unknown, value: unknown): unknown {
  const follow = (v: unknown): unknown => {
    const ref = (v as { $ref?: unknown } | undefined)?.$ref;
    if (typeof ref !== 'string' || !ref.startsWith('$')) return v;
    let node: unknown = state;
    for (const [, key, index] of ref.matchAll(/\[(?:"((?:[^"\\]|\\.)*)"|(\d+))\]/g)) {
      node = (node as Record<string, unknown> | undefined)?.[key !== undefined ? JSON.parse(`"${key}"`) as string : Number(index)];
    }
    return node;
  };
  const resolved = follow(value);
  if (!resolved || typeof resolved !== 'object' || Array.isArray(resolved)) return resolved;
  return Object.fromEntries(Object.entries(resolved).map(([k, v]) => [k, follow(v)]));
}

/** A readable name for an ARN or a CloudFormation reference to one. */
function referenceName(arn: unknown): string | undefined {
  if (typeof arn === 'string') return arn.split(':').pop();
  const getAtt = (arn as { 'Fn::GetAtt'?: unknown } | undefined)?.['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') return getAtt[0];
  const ref = (arn as { Ref?: unknown } | undefined)?.Ref;
  return typeof ref === 'string' ? ref : undefined;
}
