/**
 * Who may use the dashboard and its API.
 *
 * - Bound to a loopback address (127.0.0.1, the default), the dashboard is this machine's user's:
 *   no token is needed, but the `Host` header must name a loopback address, so that a web page
 *   elsewhere cannot reach it through DNS rebinding.
 * - Bound to any other address, a token is required (the server refuses to start without one)
 *   and checked on every request, in constant time: `Authorization: Bearer <token>` for
 *   scripts; for a browser, open the page once with `?token=<token>` and it is kept in an
 *   HttpOnly, SameSite=Strict cookie.
 * - Changes (POST) must come as `application/json` and, when the browser says where from
 *   (`Origin`), from the dashboard itself: a form on another site cannot approve a deployment.
 *
 * `POST /webhooks/github` is not guarded by the token: GitHub cannot send it; each delivery's
 * signature is checked instead.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { InputError } from '../model/errors.js';
import { headerValue, type RequestHeaders } from './http-reply.js';

/** The cookie that keeps the token in a browser. */
export const TOKEN_COOKIE = 'sp_token';

/** Whether an address only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost' || bare === '::1') {
    return true;
  }
  return isIP(bare) === 4 && bare.startsWith('127.');
}

/** How a request fared. */
export type AccessVerdict = { readonly ok: true } | { readonly ok: false; readonly status: 401 | 403; readonly message: string };

/** Checks requests against the token and the bound address. */
export class AccessGuard {
  private readonly tokenDigest: Buffer | undefined;

  /**
   * @param host the address the server binds to
   * @param token the token; required unless `host` is a loopback address
   * @throws InputError when bound beyond this machine without a token, or the token is too short to guess hard
   */
  constructor(
    readonly host: string,
    token: string | undefined,
  ) {
    if (token !== undefined && token.length < 16) {
      throw new InputError('the dashboard token is too short', [{ where: '--token', message: 'use at least 16 characters (e.g. `openssl rand -hex 24`)' }]);
    }
    if (token === undefined && !isLoopbackHost(host)) {
      throw new InputError(`serve is bound to ${host}, beyond this machine: a token is required`, [
        { where: '--token', message: 'give --token <secret> (or SERVICE_PIPELINES_DASHBOARD_TOKEN), or bind to 127.0.0.1' },
      ]);
    }
    this.tokenDigest = token === undefined ? undefined : digest(token);
  }

  /** Whether a token is required. */
  get requiresToken(): boolean {
    return this.tokenDigest !== undefined;
  }

  /** Check a request: its token (or, without one, its Host), and for a change, where it comes from. */
  check(method: string, headers: RequestHeaders, queryToken: string | null): AccessVerdict {
    if (this.tokenDigest === undefined) {
      const host = hostnameOf(headerValue(headers, 'host'));
      if (host === undefined || !isLoopbackHost(host)) {
        return { ok: false, status: 403, message: `the Host header must name this machine (127.0.0.1 or localhost); got ${headerValue(headers, 'host') ?? 'none'}` };
      }
    } else {
      const given = bearerToken(headers) ?? cookieToken(headers) ?? queryToken ?? undefined;
      if (given === undefined) {
        return { ok: false, status: 401, message: 'a token is required: send Authorization: Bearer <token>, or open the page with ?token=<token>' };
      }
      if (!timingSafeEqual(digest(given), this.tokenDigest)) {
        return { ok: false, status: 401, message: 'wrong token' };
      }
    }
    if (method !== 'GET' && method !== 'HEAD') {
      const origin = headerValue(headers, 'origin');
      const host = headerValue(headers, 'host');
      if (origin !== undefined && origin !== 'null' && host !== undefined && !sameHost(origin, host)) {
        return { ok: false, status: 403, message: `a change from another site (${origin}) is refused` };
      }
      if (origin === 'null') {
        return { ok: false, status: 403, message: 'a change from an opaque origin is refused' };
      }
    }
    return { ok: true };
  }

  /** The `Set-Cookie` value that keeps a valid token in the browser. */
  cookieFor(token: string): string {
    return `${TOKEN_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict`;
  }
}

/** Hash both sides first, so that the comparison takes the same time whatever the lengths. */
function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

function bearerToken(headers: RequestHeaders): string | undefined {
  const match = /^Bearer\s+(.+)$/i.exec(headerValue(headers, 'authorization') ?? '');
  return match?.[1]?.trim();
}

function cookieToken(headers: RequestHeaders): string | undefined {
  for (const part of (headerValue(headers, 'cookie') ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === TOKEN_COOKIE) {
      try {
        return decodeURIComponent(value.join('='));
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

function hostnameOf(hostHeader: string | undefined): string | undefined {
  if (hostHeader === undefined) {
    return undefined;
  }
  try {
    return new URL(`http://${hostHeader}`).hostname;
  } catch {
    return undefined;
  }
}

function sameHost(origin: string, host: string): boolean {
  try {
    return new URL(origin).host.toLowerCase() === host.toLowerCase();
  } catch {
    return false;
  }
}
