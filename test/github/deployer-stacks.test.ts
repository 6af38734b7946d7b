/**
 * The OIDC deployer stacks: GitHub's provider in each environment account, and deployer roles with
 * the CodePipeline engine's permissions and boundary under another trust, evaluated as IAM would
 * (`@cloud-copilot/iam-simulate`): each deployer admits exactly the jobs that deploy to its
 * environment, and no pull request, branch, other environment, repository or audience.
 */
import { runSimulation, runUnsafeSimulation } from '@cloud-copilot/iam-simulate';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { appOf } from '../aws/helpers.js';
import { createGitHubDeployersApp } from '../../src/github/deployer-stacks.js';
import { loadConfig } from '../../src/runtime/load-config.js';
import { buildPlans } from '../../src/model/plan.js';
import { IamModel, type RoleModel, type SynthesizedTemplate } from '../aws/security/iam-model.js';
import path from 'node:path';
import { projectRoot } from './support.js';

const PROVIDER = (account: string) => `arn:aws:iam::${account}:oidc-provider/token.actions.githubusercontent.com`;

function templatesOf(app: { synth(): { stacks: { stackName: string; environment: { account: string; region: string }; template: unknown }[] } }): SynthesizedTemplate[] {
  return app.synth().stacks.map((s) => ({ stackName: s.stackName, account: s.environment.account, region: s.environment.region, template: s.template as SynthesizedTemplate['template'] }));
}

/**
 * Whether a web identity token with these claims may assume the role. The standard OIDC keys
 * (`<provider>:sub`, `:aud`) are missing from the action's keys in iam-simulate's data, so its
 * checked entry drops them from the request: the trust is validated there, and evaluated by its
 * engine without that filter.
 */
async function mayAssume(role: RoleModel, claims: { sub: string; aud?: string; provider?: string }): Promise<string> {
  const request = {
    principal: claims.provider ?? PROVIDER(role.account),
    action: 'sts:AssumeRoleWithWebIdentity',
    resource: { resource: role.arn, accountId: role.account },
    contextVariables: { 'token.actions.githubusercontent.com:sub': claims.sub, 'token.actions.githubusercontent.com:aud': claims.aud ?? 'sts.amazonaws.com' },
  };
  const base = { request, identityPolicies: [], serviceControlPolicies: [], resourceControlPolicies: [] };
  const checked = await runSimulation({ ...base, resourcePolicy: role.trust }, {});
  if (checked.resultType === 'error') throw new Error(`the trust policy of ${role.name} is not valid: ${JSON.stringify(checked.errors)}`);
  return runUnsafeSimulation({ ...base, resourcePolicy: { __validated: true, policyDocument: role.trust, metadata: { name: 'trust' }, errors: [] } }, {}) as unknown as string;
}

let github: IamModel;
let codePipeline: IamModel;
let templates: SynthesizedTemplate[];

beforeAll(async () => {
  const { config } = await loadConfig('pipelines.config.ts', path.join(projectRoot, 'examples'));
  const plans = buildPlans(config);
  templates = templatesOf(createGitHubDeployersApp(plans, { validateTemplates: false }).app);
  github = new IamModel(templates);
  codePipeline = new IamModel(templatesOf(appOf(config).app));
});

describe('the GitHub OIDC deployer stacks', () => {
  it('GIVEN the example WHEN synthesized THEN each environment account has one stack with the provider and its deployers', () => {
    expect(templates.map((t) => [t.stackName, t.account])).toEqual([
      ['service-pipelines-github-deployers-222222222222-1', '222222222222'],
      ['service-pipelines-github-deployers-333333333333-1', '333333333333'],
      ['service-pipelines-github-deployers-444444444444-1', '444444444444'],
    ]);
    for (const t of templates) {
      const template = Template.fromJSON(t.template);
      template.resourceCountIs('AWS::IAM::OIDCProvider', 1);
      template.hasResource('AWS::IAM::OIDCProvider', {
        Properties: { Url: 'https://token.actions.githubusercontent.com', ClientIdList: ['sts.amazonaws.com'] },
        DeletionPolicy: 'Retain',
      });
    }
    expect(github.roles.map((r) => r.name).sort()).toEqual(
      ['ac-rest-api-dev-deployer', 'ac-rest-api-prod-deployer', 'ac-rest-api-staging-deployer', 'order-events-dev-deployer', 'order-events-prod-deployer', 'order-events-staging-deployer'].sort(),
    );
  });

  it('GIVEN the same config WHEN both engines synthesize THEN each deployer has the same permissions and boundary: only the trust differs', () => {
    for (const role of github.roles) {
      const twin = codePipeline.role(role.name);
      expect(role.inline, role.name).toEqual(twin.inline);
      expect(role.managed, role.name).toEqual(twin.managed);
      expect(role.boundary, role.name).toEqual(twin.boundary);
      expect(role.trust).not.toEqual(twin.trust);
    }
  });

  it('GIVEN the prod deployer WHEN GitHub tokens ask for it THEN it admits the prod and prod-rollback jobs of its repository only', async () => {
    const role = github.role('ac-rest-api-prod-deployer');
    const repo = 'repo:example-org/ac-rest-api';
    const cases: [string, { sub: string; aud?: string; provider?: string }][] = [
      ['the prod deploy job', { sub: `${repo}:environment:prod` }],
      ['the prod rollback job', { sub: `${repo}:environment:prod-rollback` }],
      ['a pull request', { sub: `${repo}:pull_request` }],
      ['a job of the main branch without an environment', { sub: `${repo}:ref:refs/heads/main` }],
      ['a job of another branch', { sub: `${repo}:ref:refs/heads/feature` }],
      ['the staging deploy job', { sub: `${repo}:environment:staging` }],
      ['the dev deploy job', { sub: `${repo}:environment:dev` }],
      ['a prod job of another repository', { sub: 'repo:example-org/order-events:environment:prod' }],
      ['a prod job of a fork', { sub: 'repo:someone/ac-rest-api:environment:prod' }],
      ['a prefix of the subject', { sub: `${repo}:environment:pro` }],
      ['a token for another audience', { sub: `${repo}:environment:prod`, aud: 'https://github.com/example-org' }],
      ['a token of another provider', { sub: `${repo}:environment:prod`, provider: 'arn:aws:iam::444444444444:oidc-provider/gitlab.com' }],
    ];
    const decisions = await Promise.all(cases.map(async ([what, claims]) => [what, await mayAssume(role, claims)]));

    expect(decisions.filter(([, d]) => d === 'Allowed').map(([what]) => what)).toEqual(['the prod deploy job', 'the prod rollback job']);
  });

  it('GIVEN the dev deployer (no rollback) WHEN asked THEN it admits the dev job only, not a dev-rollback environment', async () => {
    const role = github.role('ac-rest-api-dev-deployer');

    expect(await mayAssume(role, { sub: 'repo:example-org/ac-rest-api:environment:dev' })).toBe('Allowed');
    expect(await mayAssume(role, { sub: 'repo:example-org/ac-rest-api:environment:dev-rollback' })).not.toBe('Allowed');
    expect(await mayAssume(role, { sub: 'repo:example-org/ac-rest-api:environment:prod' })).not.toBe('Allowed');
  });

  it('GIVEN the trust WHEN read THEN it names exact subjects (no wildcard, StringEquals) and the audience', () => {
    const statement = github.role('ac-rest-api-prod-deployer').trust.Statement;
    expect(statement).toEqual([
      {
        Effect: 'Allow',
        Action: 'sts:AssumeRoleWithWebIdentity',
        Principal: { Federated: PROVIDER('444444444444') },
        Condition: {
          StringEquals: {
            'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
            'token.actions.githubusercontent.com:sub': ['repo:example-org/ac-rest-api:environment:prod', 'repo:example-org/ac-rest-api:environment:prod-rollback'],
          },
        },
      },
    ]);
  });

  it('GIVEN accounts that have the provider WHEN synthesized with importOidcProvider THEN no stack creates it, and the roles trust it by its ARN', async () => {
    const { config } = await loadConfig('pipelines.config.ts', path.join(projectRoot, 'examples'));
    const imported = templatesOf(createGitHubDeployersApp(buildPlans(config), { validateTemplates: false, importOidcProvider: ['444444444444'] }).app);

    const providers = imported.map((t) => [t.account, Template.fromJSON(t.template).findResources('AWS::IAM::OIDCProvider')]).map(([a, r]) => [a, Object.keys(r as object).length]);
    expect(providers).toEqual([
      ['222222222222', 1],
      ['333333333333', 1],
      ['444444444444', 0],
    ]);
    expect(new IamModel(imported).role('ac-rest-api-prod-deployer').trust.Statement[0]).toMatchObject({ Principal: { Federated: PROVIDER('444444444444') } });
  });

  it('GIVEN one role per stack WHEN synthesized THEN an account spreads over stacks, the later ones after the one with the provider', async () => {
    const { config } = await loadConfig('pipelines.config.ts', path.join(projectRoot, 'examples'));
    const assembly = createGitHubDeployersApp(buildPlans(config), { validateTemplates: false, rolesPerStack: 1 }).app.synth();

    const prod = assembly.stacks.filter((s) => s.environment.account === '444444444444');
    expect(prod.map((s) => s.stackName)).toEqual(['service-pipelines-github-deployers-444444444444-1', 'service-pipelines-github-deployers-444444444444-2']);
    expect(prod[1]!.dependencies.map((d) => d.id)).toContain(prod[0]!.id);
  });
});
