// Acceptance tests: run against a deployed stage (AWS, or a local serverless-offline stage).
// SERVICE_URL is the stage's base URL (ServiceEndpoint), e.g. https://abc.execute-api.us-east-1.amazonaws.com/dev
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

const serviceUrl = process.env.SERVICE_URL?.replace(/\/+$/, '');
if (!serviceUrl) {
  // Stop before any test: a missing URL is a setup mistake, not a failing API.
  console.error(
    'SERVICE_URL is not set: give the deployed API base URL, e.g.\n' +
      '  SERVICE_URL=https://<api-id>.execute-api.<region>.amazonaws.com/<stage> npm run test:acceptance',
  );
  process.exit(1);
}

describe('the deployed ac-rest-api', () => {
  it('GET /hello answers 200 with a JSON greeting', async () => {
    const response = await fetch(`${serviceUrl}/hello?name=Ada`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(response.status, 200, `GET ${serviceUrl}/hello answered ${response.status}`);
    assert.match(response.headers.get('content-type') ?? '', /application\/json/);
    const body = await response.json();
    assert.equal(body.message, 'Hello, Ada!');
    if (process.env.STAGE) {
      assert.equal(body.stage, process.env.STAGE, 'the function reports the stage it was deployed to');
    }
  });

  it('GET /hello with a bad name answers 400', async () => {
    const response = await fetch(`${serviceUrl}/hello?name=%3Cb%3E`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(response.status, 400);
  });
});
