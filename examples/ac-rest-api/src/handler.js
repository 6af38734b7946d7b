/**
 * GET /hello: a greeting, as JSON, naming the stage the function runs in.
 * An optional `name` query parameter is echoed back.
 */
export async function hello(event) {
  const name = greetingName(event?.queryStringParameters?.name);
  if (name === undefined) {
    return json(400, { message: 'name must be 1 to 64 letters, digits, spaces, dots or dashes' });
  }
  return json(200, {
    message: `Hello, ${name}!`,
    stage: process.env.STAGE ?? 'unknown',
    path: event?.path ?? '/hello',
  });
}

/** The name to greet: `world` when none is given, undefined when the given one is not acceptable. */
export function greetingName(raw) {
  if (raw === undefined || raw === null || raw === '') {
    return 'world';
  }
  return /^[\p{L}\p{N} .-]{1,64}$/u.test(raw) ? raw : undefined;
}

function json(statusCode, body) {
  return {
    statusCode,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  };
}
