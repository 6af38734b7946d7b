// The handler behind API Gateway, end to end in this process: a real REST API (proxy integration)
// event in, and the response checked against what API Gateway accepts from a Lambda proxy integration.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { hello } from '../../src/handler.js';

const baseEvent = JSON.parse(await readFile(new URL('./api-gateway-event.json', import.meta.url), 'utf8'));

/** What API Gateway does with a proxy integration's result: reject a malformed one (502), else build the HTTP response. */
function asHttpResponse(result) {
  const allowed = new Set(['statusCode', 'headers', 'multiValueHeaders', 'body', 'isBase64Encoded']);
  const malformed =
    typeof result !== 'object' ||
    result === null ||
    !Number.isInteger(result.statusCode) ||
    Object.keys(result).some((key) => !allowed.has(key)) ||
    (result.body !== undefined && typeof result.body !== 'string');
  if (malformed) {
    return { status: 502, headers: {}, body: '{"message": "Internal server error"}' };
  }
  return { status: result.statusCode, headers: result.headers ?? {}, body: result.body ?? '' };
}

async function get(query) {
  const event = structuredClone(baseEvent);
  event.queryStringParameters = query;
  event.multiValueQueryStringParameters = query && Object.fromEntries(Object.entries(query).map(([k, v]) => [k, [v]]));
  const context = { awsRequestId: event.requestContext.requestId, functionName: 'ac-rest-api-dev-hello', getRemainingTimeInMillis: () => 10_000 };
  return asHttpResponse(await hello(event, context));
}

describe('GET /hello through an API Gateway proxy integration', () => {
  it('GIVEN ?name=Ada WHEN requested THEN 200 with a JSON greeting for Ada', async () => {
    const response = await get({ name: 'Ada' });
    assert.equal(response.status, 200);
    assert.equal(response.headers['content-type'], 'application/json');
    const body = JSON.parse(response.body);
    assert.equal(body.message, 'Hello, Ada!');
    assert.equal(body.path, '/hello');
  });

  it('GIVEN no query string (API Gateway sends null) WHEN requested THEN greets the world', async () => {
    const response = await get(null);
    assert.equal(response.status, 200);
    assert.equal(JSON.parse(response.body).message, 'Hello, world!');
  });

  it('GIVEN a name with markup WHEN requested THEN 400, not a 502 from a malformed result', async () => {
    const response = await get({ name: '<img src=x>' });
    assert.equal(response.status, 400);
    assert.match(JSON.parse(response.body).message, /name must be/);
  });
});
