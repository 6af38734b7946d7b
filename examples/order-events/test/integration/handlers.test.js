// The handlers end to end in-process, driven by the events AWS sends them (an SQS batch, an
// EventBridge scheduled event), checked the way Lambda reads their answers.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { handler as worker } from '../../src/worker.js';
import { handler as digest } from '../../src/digest.js';

const event = (name) => JSON.parse(readFileSync(new URL(name, import.meta.url), 'utf8'));

describe('the handlers, driven by AWS events', () => {
  it('the worker reports the invalid record of an SQS batch as its only failed item', async () => {
    const result = await worker(event('./sqs-event.json'));
    assert.deepEqual(result, { batchItemFailures: [{ itemIdentifier: '2e1424d4-f796-459a-8184-9c92662be6da' }] });
  });

  it('the digest reports on the 24 hours before the scheduled time', async () => {
    const result = await digest(event('./schedule-event.json'));
    assert.equal(result.from, '2026-03-01T06:00:00.000Z');
    assert.equal(result.to, '2026-03-02T06:00:00.000Z');
  });
});
