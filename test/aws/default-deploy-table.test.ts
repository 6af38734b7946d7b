import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_DEPLOY_TABLE } from '../../src/aws/default-deploy-actions.generated.js';
import { DEFAULT_SERVICE_TYPES, deriveDefaultDeployTable, renderDefaultDeployTable } from '../../src/aws/default-deploy-table.js';
import { defaultDeployStatements } from '../../src/aws/deploy-permissions.js';
import { readSchemas } from '../../src/permissions/index.js';

const SHARED_SCHEMAS = path.resolve(import.meta.dirname, '../../../shared/data/cloudformation-schemas');
const hasSchemas = existsSync(SHARED_SCHEMAS);
const GENERATED = path.resolve(import.meta.dirname, '../../src/aws/default-deploy-actions.generated.ts');

describe('the default deploy statements table', () => {
  it.skipIf(!hasSchemas)(
    `GIVEN the registry schemas WHEN the table is derived again THEN the checked-in file is the same (else: npm run build && node scripts/generate-default-deploy-table.mjs <schemas>)${hasSchemas ? '' : ' (skipped: ../shared/data/cloudformation-schemas is absent)'}`,
    async () => {
      const table = await deriveDefaultDeployTable(await readSchemas(SHARED_SCHEMAS));
      expect(readFileSync(GENERATED, 'utf8')).toBe(renderDefaultDeployTable(table));
    },
    120_000,
  );

  it('GIVEN the table WHEN read THEN every permission the handlers list is either granted or left out in a named group with its reason', () => {
    const granted = DEFAULT_DEPLOY_TABLE.actions.length;
    const leftOut = DEFAULT_DEPLOY_TABLE.leftOut.reduce((n, g) => n + g.actions.length, 0);
    // Casing variants of one action (s3:getObject and s3:GetObject) are one IAM action.
    expect(granted + leftOut).toBeLessThanOrEqual(DEFAULT_DEPLOY_TABLE.listed);
    expect(granted + leftOut).toBeGreaterThan(DEFAULT_DEPLOY_TABLE.listed - 5);
    for (const group of DEFAULT_DEPLOY_TABLE.leftOut) expect(group.reason.length).toBeGreaterThan(40);
    expect(DEFAULT_DEPLOY_TABLE.resourceTypes).toEqual(DEFAULT_SERVICE_TYPES);
  });

  it("GIVEN the handlers' read and update calls the old defaults missed WHEN the defaults are built THEN each is granted, and no table action is left without a statement", () => {
    const actions = defaultDeployStatements({ service: 'orders', stage: 'dev', account: '222222222222', region: 'us-east-1' }).flatMap((s) =>
      typeof s.Action === 'string' ? [s.Action] : s.Action,
    );
    for (const needed of [
      'lambda:GetFunctionCodeSigningConfig',
      'lambda:GetRuntimeManagementConfig',
      'lambda:GetPolicy',
      'iam:ListRolePolicies',
      'iam:ListAttachedRolePolicies',
      'logs:ListTagsForResource',
      's3:GetBucketPolicy',
      's3:GetBucketTagging',
      's3:GetBucketVersioning',
    ]) {
      expect(actions).toContain(needed);
    }
    for (const { action } of DEFAULT_DEPLOY_TABLE.actions) expect(actions).toContain(action);
  });
});

describe('docs/permissions.md', () => {
  const docs = readFileSync(path.resolve(import.meta.dirname, '../../docs/permissions.md'), 'utf8');

  it('GIVEN the generated table WHEN the docs are read THEN every left-out group is listed with its reason and actions, and the counts are the table\'s', () => {
    for (const group of DEFAULT_DEPLOY_TABLE.leftOut) {
      expect(docs).toContain(`**${group.group}** (${group.actions.length}): ${group.reason}.`);
      for (const action of group.actions) expect(docs).toContain(`\`${action}\``);
    }
    const leftOut = DEFAULT_DEPLOY_TABLE.leftOut.reduce((n, g) => n + g.actions.length, 0);
    expect(docs).toContain(`${DEFAULT_DEPLOY_TABLE.actions.length} actions granted, ${leftOut} left out`);
  });
});
