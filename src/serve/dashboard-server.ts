/**
 * The HTTP server of `service-pipelines serve` (Node's `http`, no framework): the dashboard's
 * page and assets, its JSON API, the live events of an execution (Server-Sent Events), and
 * GitHub's webhooks. Handlers return plain replies (`HttpReply`); this module only reads
 * bodies (with a streaming size limit), guards access and writes replies.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { InputError } from '../model/errors.js';
import type { Clock } from '../runtime/clock.js';
import type { AccessGuard } from './access-guard.js';
import { DashboardApi, MAX_API_BODY_BYTES } from './dashboard-api.js';
import { FINAL_EXECUTION_STATUSES, type ExecutionsReader } from './dashboard-model.js';
import { errorReply, type HttpReply } from './http-reply.js';
import { PAGE_ASSETS, pageHtml } from './page/assets.js';
import { tooLarge, type WebhookReceiver } from './webhook-receiver.js';

/** The path GitHub delivers webhooks to. */
export const WEBHOOK_PATH = '/webhooks/github';

/** What `startDashboardServer` needs. */
export interface DashboardServerProps {
  /** The address to bind. */
  readonly host: string;
  /** The port; 0 picks a free one. */
  readonly port: number;
  readonly guard: AccessGuard;
  readonly reader: ExecutionsReader;
  /** Receives GitHub webhooks. @default - none: `POST /webhooks/github` answers 404 */
  readonly webhooks?: WebhookReceiver;
  readonly clock: Clock;
  /**
   * How often a live execution's events look for changes, in ms.
   *
   * @default 250
   */
  readonly pollMs?: number;
  /**
   * How often an idle event stream sends a comment, so that proxies keep it open, in ms.
   *
   * @default 15000
   */
  readonly heartbeatMs?: number;
  /** Receives a line for each webhook delivery. @default - nothing */
  readonly log?: (line: string) => void;
}

/** A started server. */
export interface RunningDashboardServer {
  /** `http://host:port` */
  readonly url: string;
  readonly port: number;
  /** Stop: open event streams end, connections close. */
  close(): Promise<void>;
}

/** Start the server; resolves once it listens. */
export async function startDashboardServer(props: DashboardServerProps): Promise<RunningDashboardServer> {
  const handler = new RequestHandler(props);
  const server = createServer((req, res) => {
    handler.handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) {
        write(res, errorReply(500, `internal error: ${error instanceof Error ? error.message : String(error)}`));
      } else {
        res.destroy();
      }
    });
  });
  // A request's headers must come in time; a slow body is bounded by its size limit.
  server.headersTimeout = 20_000;
  server.requestTimeout = 120_000;
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(props.port, props.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const hostForUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${hostForUrl}:${address.port}`,
    port: address.port,
    close: () => closeServer(server, handler, sockets),
  };
}

async function closeServer(server: Server, handler: RequestHandler, sockets: Set<Socket>): Promise<void> {
  handler.stopStreams();
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  // Streams end on their next tick; whatever is left is cut.
  setTimeout(() => sockets.forEach((s) => s.destroy()), 1_000).unref();
  await closed;
}

class RequestHandler {
  private readonly api: DashboardApi;
  private readonly streams = new AbortController();

  constructor(private readonly props: DashboardServerProps) {
    this.api = new DashboardApi(props.reader);
  }

  stopStreams(): void {
    this.streams.abort();
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://dashboard.invalid');
    } catch {
      return write(res, errorReply(400, 'malformed request target'));
    }
    if (url.pathname === WEBHOOK_PATH) {
      return this.webhook(req, res, method);
    }
    // A token in the address is for opening the page in a browser; scripts send it as a header.
    const queryToken = url.pathname.startsWith('/api/') ? null : url.searchParams.get('token');
    const verdict = this.props.guard.check(method, req.headers, queryToken);
    if (!verdict.ok) {
      req.resume();
      return write(res, errorReply(verdict.status, verdict.message, verdict.status === 401 ? { 'www-authenticate': 'Bearer realm="service-pipelines"' } : {}));
    }
    if (queryToken !== null && this.props.guard.requiresToken && method === 'GET') {
      // Keep the token in a cookie and take it out of the address bar (and of the history).
      url.searchParams.delete('token');
      return write(res, { status: 303, headers: { location: `${url.pathname}${url.search}`, 'set-cookie': this.props.guard.cookieFor(queryToken) }, body: '' });
    }
    if (url.pathname.startsWith('/api/')) {
      const events = /^\/api\/executions\/([^/]+)\/events$/.exec(url.pathname);
      if (events && method === 'GET') {
        let id;
        try {
          id = decodeURIComponent(events[1]!);
        } catch {
          return write(res, errorReply(400, 'malformed path'));
        }
        return this.eventStream(req, res, id);
      }
      if (url.pathname === '/api/pipelines/events' && method === 'GET') {
        return this.pipelinesStream(req, res);
      }
      let body: Buffer | undefined;
      if (DashboardApi.takesBody(method, url.pathname)) {
        const read = await readBody(req, MAX_API_BODY_BYTES);
        if (read === undefined) {
          return write(res, tooLarge(MAX_API_BODY_BYTES), true);
        }
        body = read;
      } else {
        req.resume();
      }
      const caller = `dashboard (${req.socket.remoteAddress ?? 'unknown'})`;
      return write(res, await this.api.handle({ method, pathname: url.pathname, query: url.searchParams, headers: req.headers, caller, ...(body ? { body } : {}) }), false, method === 'HEAD');
    }
    req.resume();
    return write(res, page(method, url.pathname), false, method === 'HEAD');
  }

  private async webhook(req: IncomingMessage, res: ServerResponse, method: string): Promise<void> {
    const receiver = this.props.webhooks;
    if (receiver === undefined) {
      req.resume();
      return write(res, errorReply(404, 'webhooks are not enabled: start serve with --secret (or SERVICE_PIPELINES_WEBHOOK_SECRET)'));
    }
    const refused = receiver.precheck(method, req.headers);
    if (refused) {
      req.resume();
      return write(res, refused, refused.status === 413);
    }
    const body = await readBody(req, receiver.maxBytes);
    if (body === undefined) {
      return write(res, tooLarge(receiver.maxBytes), true);
    }
    const reply = await receiver.receive(req.headers, body);
    this.props.log?.(`webhook ${String(req.headers['x-github-event'] ?? '?')} ${String(req.headers['x-github-delivery'] ?? '?')}: ${reply.status} ${summarize(reply)}`);
    return write(res, reply);
  }

  /**
   * `GET /api/pipelines/events`: a `pipelines` event (as `GET /api/pipelines` answers) at once
   * and whenever a pipeline's latest execution changes. It looks half as often as an
   * execution's stream: the overview is cheap to keep, not a log to follow.
   */
  private async pipelinesStream(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.resume();
    const { reader, clock } = this.props;
    const stream = this.openStream(res);
    let lastShape = '';
    let lastWrite = clock.now();
    try {
      while (!stream.signal.aborted) {
        const pipelines = reader.pipelines();
        const shape = JSON.stringify(pipelines, withoutDurations);
        if (shape !== lastShape) {
          lastShape = shape;
          stream.send('pipelines', { pipelines, serverTime: clock.now() });
          lastWrite = clock.now();
        } else if (clock.now() - lastWrite >= (this.props.heartbeatMs ?? 15_000)) {
          res.write(': keep-alive\n\n');
          lastWrite = clock.now();
        }
        await clock.sleep((this.props.pollMs ?? 250) * 2, stream.signal);
      }
    } finally {
      stream.close();
    }
  }

  /** Start an event stream: headers, and a signal that aborts when the client leaves or the server stops. */
  private openStream(res: ServerResponse): { signal: AbortSignal; send: (event: string, data: unknown) => void; close: () => void } {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    const closed = new AbortController();
    const stop = () => closed.abort();
    res.once('close', stop);
    this.streams.signal.addEventListener('abort', stop, { once: true });
    return {
      signal: closed.signal,
      send: (event, data) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`),
      close: () => {
        res.off('close', stop);
        this.streams.signal.removeEventListener('abort', stop);
        res.end();
      },
    };
  }

  /**
   * `GET /api/executions/:id/events`: `execution` events (the whole execution, when it changed),
   * `log` events (new whole lines of an action's log), then `end` once the execution is final
   * and every log is complete. The client closes its EventSource on `end`.
   */
  private async eventStream(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    req.resume();
    const { reader, clock } = this.props;
    let first;
    try {
      first = reader.execution(id);
    } catch (error) {
      if (error instanceof InputError) {
        return write(res, errorReply(400, error.message));
      }
      throw error;
    }
    if (first === undefined) {
      return write(res, errorReply(404, `no execution ${id}`));
    }
    const stream = this.openStream(res);
    const { signal, send } = stream;
    const offsets = new Map<string, number>();
    const completeLogs = new Set<string>();
    let lastShape = '';
    let lastWrite = clock.now();
    try {
      while (!signal.aborted) {
        const execution = reader.execution(first.id);
        if (execution === undefined) {
          send('error', { message: `execution ${first.id} is gone` });
          break;
        }
        const shape = JSON.stringify(execution, withoutDurations);
        if (shape !== lastShape) {
          lastShape = shape;
          send('execution', { execution, serverTime: clock.now() });
          lastWrite = clock.now();
        }
        for (const stage of execution.stages) {
          for (const action of stage.actions) {
            const key = `${stage.name}\u0000${action.name}`;
            if (!action.hasLog || completeLogs.has(key)) {
              continue;
            }
            const chunk = await reader.readLog(first.id, stage.name, action.name, offsets.get(key) ?? 0);
            if (chunk === undefined) {
              continue;
            }
            offsets.set(key, chunk.nextOffset);
            if (chunk.complete) {
              completeLogs.add(key);
            }
            if (chunk.text !== '' || chunk.complete) {
              send('log', { stage: stage.name, action: action.name, ...chunk });
              lastWrite = clock.now();
            }
          }
        }
        const logsPending = execution.stages.some((s) => s.actions.some((a) => a.hasLog && !completeLogs.has(`${s.name}\u0000${a.name}`)));
        if (FINAL_EXECUTION_STATUSES.has(execution.status) && !logsPending) {
          send('end', { status: execution.status });
          break;
        }
        if (clock.now() - lastWrite >= (this.props.heartbeatMs ?? 15_000)) {
          res.write(': keep-alive\n\n');
          lastWrite = clock.now();
        }
        await clock.sleep(this.props.pollMs ?? 250, signal);
      }
    } finally {
      stream.close();
    }
  }
}

/** Durations grow while actions run: the page computes them, so a stream sends only real changes. */
function withoutDurations(key: string, value: unknown): unknown {
  return key === 'durationMs' ? undefined : value;
}

/** One line about a webhook reply, for the log. */
function summarize(reply: HttpReply): string {
  try {
    const body = JSON.parse(reply.body.toString()) as Record<string, unknown>;
    const started = body.started as Array<{ service: string; trigger: string; pid: number }> | undefined;
    if (started) {
      return `started ${started.map((s) => `${s.service} (${s.trigger}, pid ${s.pid})`).join(', ')}`;
    }
    const detail = body.ignored ?? body.message ?? (body.error as { message?: string } | undefined)?.message ?? (body.pong ? 'pong' : '');
    return String(detail).split('\n')[0]!;
  } catch {
    return '';
  }
}

/** The page (one document for every route: the script renders the route) and its assets. */
function page(method: string, pathname: string): HttpReply {
  if (method !== 'GET' && method !== 'HEAD') {
    return errorReply(405, `${method} is not allowed on ${pathname}`, { allow: 'GET, HEAD' });
  }
  const asset = PAGE_ASSETS[pathname];
  if (asset) {
    return { status: 200, headers: { 'content-type': asset.type, 'cache-control': 'no-cache', ...SECURITY_HEADERS }, body: asset.body };
  }
  if (pathname === '/' || /^\/pipelines\/[^/]+$/.test(pathname) || /^\/executions\/[^/]+$/.test(pathname)) {
    return { status: 200, headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache', ...SECURITY_HEADERS }, body: pageHtml() };
  }
  return errorReply(404, `no page at ${pathname}`);
}

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/**
 * Read a body up to `limit` bytes, counting as it streams in. Resolves undefined when it is
 * longer (the rest is not read).
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.off('end', onEnd);
        req.pause();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => resolve(Buffer.concat(chunks, size));
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', reject);
  });
}

function write(res: ServerResponse, reply: HttpReply, closeConnection = false, headOnly = false): void {
  const body = typeof reply.body === 'string' ? Buffer.from(reply.body, 'utf8') : reply.body;
  res.writeHead(reply.status, { ...reply.headers, 'content-length': String(body.length), ...(closeConnection ? { connection: 'close' } : {}) });
  res.end(headOnly ? undefined : body);
  if (closeConnection) {
    // The body was not read to its end: the connection cannot carry another request.
    res.once('finish', () => res.socket?.destroySoon());
  }
}
