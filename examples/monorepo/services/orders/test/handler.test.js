import assert from 'node:assert/strict';
import { test } from 'node:test';
import { handler } from '../src/handler.js';

test('an order is totalled in euros', async () => {
  const response = await handler({ body: JSON.stringify({ items: [{ cents: 250, quantity: 3 }] }) });
  assert.equal(response.statusCode, 201);
  assert.deepEqual(JSON.parse(response.body), { total: '7.50 EUR' });
});
