/**
 * Rules every synthesized template keeps, read from the templates of the example and of a config
 * with every option on: no Allow statement scoped by an ...IfExists condition, no unacknowledged
 * cdk-nag finding and no acknowledgement the config did not give for its own statements, and no
 * webhook URL anywhere.
 */
import { readFileSync } from 'node:fs';
import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_STATEMENT_REASONS } from '../../../src/aws/deploy-permissions.js';
import { buildPlans } from '../../../src/model/plan.js';
import { validateConfig } from '../../../src/model/validate.js';
import { everyOptionConfig } from './fixtures/every-option.js';
import { appOf, exampleConfig, hasSharedSchemas, NEEDS_SCHEMAS, subjectOf, type Subject } from './subjects.js';

/** The Allow statements of every policy of the templates, with where they are. */
function allowStatements(subject: Subject): { where: string; statement: { Condition?: Record<string, unknown> } }[] {
  const roles = subject.model.roles.flatMap((r) => [...r.inline, ...r.managed].flatMap((p) => p.document.Statement.map((statement) => ({ where: `${r.name}/${p.name}`, statement }))));
  const policies = subject.model.policies.flatMap((p) => p.document.Statement.map((statement) => ({ where: p.name, statement })));
  return [...roles, ...policies].filter(({ statement }) => statement.Effect === 'Allow');
}

describe.skipIf(!hasSharedSchemas)(`policy rules of the synthesized templates${NEEDS_SCHEMAS}`, () => {
  let subjects: Subject[];
  beforeAll(async () => {
    subjects = [await subjectOf('example', await exampleConfig(), process.cwd()), await subjectOf('every option', validateConfig(everyOptionConfig()), process.cwd())];
  }, 300_000);

  it('GIVEN every Allow statement of every role and policy WHEN read THEN none scopes itself with an ...IfExists operator', () => {
    for (const subject of subjects) {
      const offending = allowStatements(subject).filter(({ statement }) => Object.keys(statement.Condition ?? {}).some((operator) => operator.endsWith('IfExists')));
      expect({ subject: subject.name, offending: offending.map((o) => o.where) }).toEqual({ subject: subject.name, offending: [] });
    }
  });

  it('GIVEN a config with every option WHEN its templates and plans are written THEN the webhook URL is nowhere, only its secret', () => {
    const everything = JSON.stringify(subjects[1]!.model.templates.map((t) => t.template));
    expect(everything).toContain('{{resolve:secretsmanager:pipelines/alerts-webhook:SecretString:url::}}');
    expect(everything).not.toMatch(/hooks\.slack\.com/);
    expect(JSON.stringify(buildPlans(validateConfig(everyOptionConfig())))).not.toMatch(/https?:\/\//);
  });
});

describe.skipIf(!hasSharedSchemas)(`cdk-nag over a config with every option on${NEEDS_SCHEMAS}`, () => {
  it("GIVEN every option WHEN checked with the AwsSolutions pack THEN there is no unacknowledged finding, and the service's own statements carry the config's reasons, never the defaults'", async () => {
    const config = validateConfig(everyOptionConfig());
    const built = await appOf(config, process.cwd());
    Validations.of(built.app).addPlugins(new AwsSolutionsChecks(built.app));
    const assembly = built.app.synth();

    const payments = built.cicd.deployerRoles.find((r) => r.roleName === 'payments-prod-deployer')!;
    const acknowledged = Object.assign(
      {},
      ...payments.deployerRole.node.defaultChild!.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY).map((m) => m.data),
    ) as Record<string, string>;
    const reasons = config.services.find((s) => s.name === 'payments')!.acknowledgeWildcards!;
    expect(acknowledged['AwsSolutions-IAM5[Resource::arn:aws:dynamodb:*:*:table/payments-*]']).toBe(`Tables: ${reasons['Tables']}`);
    const defaultReasons = new Set(Object.values(DEFAULT_STATEMENT_REASONS));
    expect(Object.values(acknowledged).filter((reason) => [...defaultReasons].some((d) => reason.includes(d)))).toEqual([]);
    // The assembly was written: validation plugins found nothing to report.
    expect(JSON.parse(readFileSync(`${assembly.directory}/manifest.json`, 'utf8'))).toHaveProperty('artifacts');
  }, 300_000);
});
