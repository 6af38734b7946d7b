#!/usr/bin/env node
// Writes schema/*.schema.json from the zod schemas (run `npm run schema` after changing them;
// a test fails while the committed files are stale).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configJsonSchema, planJsonSchema } from '../dist/model/json-schema.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
mkdirSync(join(root, 'schema'), { recursive: true });
for (const [name, schema] of [['plan', planJsonSchema()], ['config', configJsonSchema()]]) {
  writeFileSync(join(root, 'schema', `${name}.schema.json`), `${JSON.stringify(schema, null, 2)}\n`);
  console.log(`wrote schema/${name}.schema.json`);
}
