/**
 * The published JSON schemas, generated from the zod schemas (never written by hand):
 * `schema/plan.schema.json` for pipelines.plan.json, `schema/config.schema.json` for a JSON config.
 */
import { z } from 'zod';
import { configSchema } from './config.js';
import { plansDocumentSchema } from './plan-schema.js';


/** The JSON schema of `pipelines.plan.json` (and of `plan --json`). */
export function planJsonSchema(): Record<string, unknown> {
  return { title: 'service-pipelines plan', ...z.toJSONSchema(plansDocumentSchema, { target: 'draft-2020-12' }) };
}

/** The JSON schema of the configuration (checks shapes; cross-field rules are `validateConfig`'s). */
export function configJsonSchema(): Record<string, unknown> {
  return {
    title: 'service-pipelines config',
    ...z.toJSONSchema(configSchema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }),
  };
}
