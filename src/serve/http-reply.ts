/**
 * What the serve layer's handlers return: plain data, so they can be tested without a socket.
 * The server (`server.ts`) writes it to the wire.
 */

/** A response to write. */
export interface HttpReply {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body: string | Buffer;
}

/** A JSON response. */
export function jsonReply(status: number, value: unknown, headers: Readonly<Record<string, string>> = {}): HttpReply {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
    body: `${JSON.stringify(value)}\n`,
  };
}

/** An error as JSON: `{ "error": { "status", "message" } }`, the shape every endpoint uses. */
export function errorReply(status: number, message: string, headers: Readonly<Record<string, string>> = {}): HttpReply {
  return jsonReply(status, { error: { status, message } }, headers);
}

/** A request's headers, lower-cased as Node gives them. */
export type RequestHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** One header's value (the first one when repeated). */
export function headerValue(headers: RequestHeaders, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** The media type of a `content-type` header, without parameters, lower-cased. */
export function mediaType(headers: RequestHeaders): string | undefined {
  return headerValue(headers, 'content-type')?.split(';')[0]?.trim().toLowerCase();
}
