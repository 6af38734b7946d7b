import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configJsonSchema, planJsonSchema } from '../../src/model/json-schema.js';

const schemaDir = path.resolve(import.meta.dirname, '../../schema');

describe('published JSON schemas', () => {
  it.each([
    ['plan', planJsonSchema],
    ['config', configJsonSchema],
  ])('GIVEN the zod schemas WHEN %s.schema.json is generated THEN the committed file is up to date (npm run schema)', (name, generate) => {
    const committed = JSON.parse(readFileSync(path.join(schemaDir, `${name}.schema.json`), 'utf8'));
    expect(committed).toEqual(generate());
  });

  it('GIVEN the plan schema THEN actions are a union discriminated by kind', () => {
    const text = JSON.stringify(planJsonSchema());
    for (const kind of ['source', 'commands', 'approval']) expect(text).toContain(`"const":"${kind}"`);
  });
});
