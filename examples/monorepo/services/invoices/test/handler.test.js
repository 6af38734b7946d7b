import assert from 'node:assert/strict';
import { test } from 'node:test';
import { handler } from '../src/handler.js';

test('an invoice prices each line', async () => {
  const response = await handler({ pathParameters: { id: 'inv-1' } });
  assert.equal(response.statusCode, 200);
  assert.deepEqual(JSON.parse(response.body), { id: 'inv-1', lines: ['book: 12.50 EUR'] });
});
