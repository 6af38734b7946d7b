/**
 * The dashboard's JSON API (documented in docs/serve.md): plain request in, `HttpReply` out.
 * The Server-Sent Events stream (`GET /api/executions/:id/events`) is the server's, since it
 * writes for as long as the execution runs.
 */
import { InputError } from '../model/errors.js';
import type { ExecutionsReader } from './dashboard-model.js';
import { errorReply, jsonReply, mediaType, type HttpReply, type RequestHeaders } from './http-reply.js';

/** The default and largest `limit` of `GET /api/executions`. */
export const DEFAULT_EXECUTIONS_LIMIT = 50;
export const MAX_EXECUTIONS_LIMIT = 1000;

/** The largest JSON body an API call takes. */
export const MAX_API_BODY_BYTES = 64 * 1024;

/** A request to the API. */
export interface ApiRequest {
  readonly method: string;
  /** The path, decoded segment by segment by the API. */
  readonly pathname: string;
  readonly query: URLSearchParams;
  readonly headers: RequestHeaders;
  /** The body, for POST. */
  readonly body?: Buffer;
  /** Who is calling, recorded with an approval decision. */
  readonly caller: string;
}

/** Serves `/api/...`. */
export class DashboardApi {
  constructor(private readonly reader: ExecutionsReader) {}

  /** Whether a POST to this path is an API call taking a JSON body (so the server reads it). */
  static takesBody(method: string, pathname: string): boolean {
    return method === 'POST' && /^\/api\/executions\/[^/]+\/approval$/.test(pathname);
  }

  async handle(request: ApiRequest): Promise<HttpReply> {
    let segments: string[];
    try {
      segments = request.pathname.split('/').filter(Boolean).map((s) => decodeURIComponent(s));
    } catch {
      return errorReply(400, 'malformed path');
    }
    try {
      return await this.route(request, segments);
    } catch (error) {
      if (error instanceof InputError) {
        return errorReply(400, error.message);
      }
      throw error;
    }
  }

  private async route(request: ApiRequest, segments: string[]): Promise<HttpReply> {
    const [api, collection, id, sub, ...rest] = segments;
    if (api !== 'api') {
      return errorReply(404, `no such API path: ${request.pathname}`);
    }
    if (collection === 'pipelines' && id === undefined) {
      return only(request, 'GET') ?? jsonReply(200, { pipelines: this.reader.pipelines() });
    }
    if (collection === 'executions' && id === undefined) {
      return only(request, 'GET') ?? this.listExecutions(request.query);
    }
    if (collection === 'executions' && id !== undefined) {
      if (sub === undefined) {
        const refused = only(request, 'GET');
        if (refused) {
          return refused;
        }
        const execution = this.reader.execution(id);
        return execution === undefined ? notFound(id) : jsonReply(200, { execution });
      }
      if (sub === 'logs' && rest.length === 2) {
        return only(request, 'GET') ?? this.readLog(id, rest[0]!, rest[1]!, request.query);
      }
      if (sub === 'approval' && rest.length === 0) {
        return only(request, 'POST') ?? this.decide(id, request);
      }
    }
    return errorReply(404, `no such API path: ${request.pathname}`);
  }

  private listExecutions(query: URLSearchParams): HttpReply {
    const limitText = query.get('limit');
    const limit = limitText === null ? DEFAULT_EXECUTIONS_LIMIT : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_EXECUTIONS_LIMIT) {
      return errorReply(400, `limit must be a whole number from 1 to ${MAX_EXECUTIONS_LIMIT}`);
    }
    const pipeline = query.get('pipeline') ?? undefined;
    return jsonReply(200, { executions: this.reader.executions({ limit, ...(pipeline ? { pipeline } : {}) }) });
  }

  private async readLog(id: string, stage: string, action: string, query: URLSearchParams): Promise<HttpReply> {
    const offset = Number(query.get('offset') ?? 0);
    if (!Number.isSafeInteger(offset) || offset < 0) {
      return errorReply(400, 'offset must be a whole number of bytes, 0 or more');
    }
    const chunk = await this.reader.readLog(id, stage, action, offset);
    return chunk === undefined ? errorReply(404, `no action ${stage}.${action} in execution ${id}`) : jsonReply(200, chunk);
  }

  private decide(id: string, request: ApiRequest): HttpReply {
    if (mediaType(request.headers) !== 'application/json') {
      return errorReply(415, 'send the decision as application/json: {"decision": "approve" | "reject", "summary": "..."}');
    }
    let body: unknown;
    try {
      body = JSON.parse((request.body ?? Buffer.alloc(0)).toString('utf8'));
    } catch {
      return errorReply(400, 'the body is not valid JSON');
    }
    const problems = decisionProblems(body);
    if (problems.length) {
      return errorReply(400, `bad decision: ${problems.join('; ')}`);
    }
    const input = body as { decision: 'approve' | 'reject'; summary?: string; comment?: string; stage?: string; action?: string };
    // `summary`, the name the approval comes back under (CodePipeline's too); `comment` is its older name.
    const summary = input.summary ?? input.comment;
    const outcome = this.reader.decideApproval(id, {
      decision: input.decision,
      by: request.caller,
      ...(summary === undefined ? {} : { comment: summary }),
      ...(input.stage === undefined ? {} : { stage: input.stage }),
      ...(input.action === undefined ? {} : { action: input.action }),
    });
    switch (outcome.kind) {
      case 'decided':
        return jsonReply(200, { approval: outcome.approval });
      case 'not-found':
        return notFound(id);
      case 'not-pending':
        return errorReply(409, outcome.message);
      default:
        throw new Error(`unhandled approval outcome ${(outcome as { kind: string }).kind}`);
    }
  }
}

function decisionProblems(body: unknown): string[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return ['expected a JSON object'];
  }
  const b = body as Record<string, unknown>;
  const problems: string[] = [];
  if (b.decision !== 'approve' && b.decision !== 'reject') {
    problems.push('decision must be "approve" or "reject"');
  }
  for (const key of ['summary', 'comment', 'stage', 'action']) {
    if (b[key] !== undefined && typeof b[key] !== 'string') {
      problems.push(`${key} must be a string`);
    }
  }
  if (b.summary !== undefined && b.comment !== undefined) {
    problems.push('give summary (comment is its older name), not both');
  }
  for (const key of ['summary', 'comment']) {
    if (typeof b[key] === 'string' && (b[key] as string).length > 4000) {
      problems.push(`${key} is longer than 4000 characters`);
    }
  }
  const unknown = Object.keys(b).filter((k) => !['decision', 'summary', 'comment', 'stage', 'action'].includes(k));
  if (unknown.length) {
    problems.push(`unknown field${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}`);
  }
  return problems;
}

function only(request: ApiRequest, method: 'GET' | 'POST'): HttpReply | undefined {
  if (request.method === method || (method === 'GET' && request.method === 'HEAD')) {
    return undefined;
  }
  return errorReply(405, `${request.method} is not allowed on ${request.pathname}: use ${method}`, { allow: method === 'GET' ? 'GET, HEAD' : method });
}

function notFound(id: string): HttpReply {
  return errorReply(404, `no execution ${id}`);
}
