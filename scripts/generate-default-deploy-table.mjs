#!/usr/bin/env node
// Writes src/aws/default-deploy-actions.generated.ts: the actions CloudFormation's handlers call for
// the resource types of a default Serverless service, from the CloudFormation registry schemas
// (a folder of schema files or CloudformationSchema.zip), with the actions left out and why.
// Run `npm run build` first. A test fails while the committed file is stale against the schemas
// the tests read.
//
//   node scripts/generate-default-deploy-table.mjs <schemas folder|zip>
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deriveDefaultDeployTable, renderDefaultDeployTable } from '../dist/aws/default-deploy-table.js';
import { readSchemas } from '../dist/permissions/index.js';

const source = process.argv[2] ?? process.env.SERVICE_PIPELINES_SCHEMAS;
if (!source) {
  console.error('usage: node scripts/generate-default-deploy-table.mjs <schemas folder|zip> (or set SERVICE_PIPELINES_SCHEMAS)');
  process.exit(2);
}
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const table = await deriveDefaultDeployTable(await readSchemas(source));
const file = join(root, 'src', 'aws', 'default-deploy-actions.generated.ts');
writeFileSync(file, renderDefaultDeployTable(table));
const left = table.leftOut.reduce((n, g) => n + g.actions.length, 0);
console.log(`wrote src/aws/default-deploy-actions.generated.ts: ${table.actions.length} actions granted, ${left} left out, of ${table.listed} listed by the handlers of ${table.resourceTypes.length} resource types`);
