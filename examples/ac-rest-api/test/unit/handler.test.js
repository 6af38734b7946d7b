import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { greetingName, hello } from '../../src/handler.js';

describe('greetingName', () => {
  it('defaults to "world" when no name is given', () => {
    assert.equal(greetingName(undefined), 'world');
    assert.equal(greetingName(''), 'world');
  });

  it('accepts letters, digits, spaces, dots and dashes', () => {
    assert.equal(greetingName('Ada Lovelace-2.0'), 'Ada Lovelace-2.0');
    assert.equal(greetingName('Zoë'), 'Zoë');
  });

  it('rejects markup and over-long names', () => {
    assert.equal(greetingName('<script>'), undefined);
    assert.equal(greetingName('x'.repeat(65)), undefined);
  });
});

describe('hello', () => {
  it('GIVEN no query string WHEN called THEN greets the world with status 200', async () => {
    const response = await hello({ queryStringParameters: null, path: '/hello' });
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['content-type'], 'application/json');
    assert.equal(JSON.parse(response.body).message, 'Hello, world!');
  });

  it('GIVEN a bad name WHEN called THEN answers 400 with a reason', async () => {
    const response = await hello({ queryStringParameters: { name: '<b>' } });
    assert.equal(response.statusCode, 400);
    assert.match(JSON.parse(response.body).message, /name must be/);
  });
});
