// Acceptance tests: run against a deployed stage (AWS, or a local serverless-offline stage).
// No HTTP request reaches this service: the tests invoke its functions with SERVICE_INVOKE, the
// command the pipeline gives them (`$SERVICE_INVOKE <function> --data -` prints the response).
import assert from 'node:assert/strict';
import { execSync } from 'node:child_process';
import { describe, it } from 'node:test';

const command = process.env.SERVICE_INVOKE;
if (!command) {
  // Stop before any test: a missing command is a setup mistake, not a failing service.
  console.error('SERVICE_INVOKE is not set: run the acceptance tests through `service-pipelines step test-acceptance --stage <env>`');
  process.exit(1);
}

const invoke = (fn, event) => JSON.parse(execSync(`${command} ${fn} --data -`, { input: JSON.stringify(event), encoding: 'utf8', timeout: 30_000 }));

const record = (messageId, order) => ({ messageId, body: JSON.stringify(order), eventSource: 'aws:sqs', attributes: {}, messageAttributes: {} });

describe('the deployed order-events service', () => {
  it('the worker accepts a valid order and reports an invalid one as a failed item', () => {
    const result = invoke('worker', {
      Records: [record('m-1', { orderId: 'ord-acc001', amount: 10, currency: 'EUR' }), record('m-2', { orderId: 'ord-acc002', amount: 'ten', currency: 'EUR' })],
    });
    assert.deepEqual(result, { batchItemFailures: [{ itemIdentifier: 'm-2' }] });
  });

  it('the digest answers with its window, in the stage it was deployed to', () => {
    const result = invoke('digest', { time: '2026-03-02T06:00:00Z' });
    assert.equal(result.to, '2026-03-02T06:00:00.000Z');
    if (process.env.STAGE) {
      assert.equal(result.stage, process.env.STAGE, 'the function reports the stage it was deployed to');
    }
  });
});
