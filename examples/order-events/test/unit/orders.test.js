import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseOrder } from '../../src/orders.js';
import { reportingWindow } from '../../src/digest.js';

describe('parseOrder', () => {
  it('accepts an order event', () => {
    assert.deepEqual(parseOrder('{"orderId":"ord-1234","amount":12.5,"currency":"EUR"}'), { orderId: 'ord-1234', amount: 12.5, currency: 'EUR' });
  });

  it('refuses a body that is not JSON, or not an order', () => {
    assert.equal(parseOrder('not json'), undefined);
    assert.equal(parseOrder('{"orderId":"ord-1234","amount":-1,"currency":"EUR"}'), undefined);
    assert.equal(parseOrder('{"orderId":"1234","amount":1,"currency":"EUR"}'), undefined);
  });
});

describe('reportingWindow', () => {
  it('is the 24 hours before the given time', () => {
    assert.deepEqual(reportingWindow('2026-03-02T06:00:00Z'), { from: '2026-03-01T06:00:00.000Z', to: '2026-03-02T06:00:00.000Z' });
  });

  it('refuses a time it cannot read', () => {
    assert.throws(() => reportingWindow('yesterday'), /not a time/);
  });
});
