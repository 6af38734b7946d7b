import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { wildcardStatements } from '../../src/aws/acknowledge.js';
import { resolveDeployPolicies } from '../../src/aws/resolve-deploy-policies.js';
import { InputError } from '../../src/model/errors.js';
import { buildPlans } from '../../src/model/plan.js';
import { appOf, config, service } from './helpers.js';

const SHARED_SCHEMAS = path.resolve(import.meta.dirname, '../../../shared/data/cloudformation-schemas');
const hasSchemas = existsSync(SHARED_SCHEMAS);

/** A packaged Serverless service: one function, its role and log group, named after the stack. */
function packageFolder(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'sp-infer-'));
  const template = {
    AWSTemplateFormatVersion: '2010-09-09',
    Resources: {
      HelloLogGroup: { Type: 'AWS::Logs::LogGroup', Properties: { LogGroupName: { 'Fn::Sub': '/aws/lambda/${AWS::StackName}-hello' } } },
      IamRoleLambdaExecution: {
        Type: 'AWS::IAM::Role',
        Properties: {
          RoleName: { 'Fn::Sub': '${AWS::StackName}-lambdaRole' },
          AssumeRolePolicyDocument: { Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] },
        },
      },
      HelloLambdaFunction: {
        Type: 'AWS::Lambda::Function',
        Properties: { FunctionName: { 'Fn::Sub': '${AWS::StackName}-hello' }, Handler: 'handler.hello', Runtime: 'nodejs20.x', Role: { 'Fn::GetAtt': ['IamRoleLambdaExecution', 'Arn'] }, Code: { ZipFile: 'x' } },
      },
    },
  };
  mkdirSync(path.join(dir, '.serverless'));
  writeFileSync(path.join(dir, '.serverless', 'cloudformation-template-update-stack.json'), JSON.stringify(template));
  return dir;
}

describe('resolveDeployPolicies', () => {
  it.skipIf(!hasSchemas)(
    `GIVEN deployPermissions to infer WHEN resolved and synthesized THEN each environment's deployer role holds the policy inferred for its own stack${hasSchemas ? '' : ' (skipped: ../shared/data/cloudformation-schemas is absent)'}`,
    async () => {
      const baseDir = packageFolder();
      const extra = [{ Sid: 'Parameters', Effect: 'Allow' as const, Action: ['ssm:GetParameter'], Resource: 'arn:aws:ssm:us-east-1:*:parameter/orders/*' }];
      const cfg = config([service('orders', { deployPermissions: { infer: './.serverless', extra } })]);
      const resolved = await resolveDeployPolicies(buildPlans(cfg), { baseDir, schemas: SHARED_SCHEMAS });
      expect([...resolved.policies.keys()]).toEqual(['orders/dev', 'orders/staging', 'orders/prod']);

      // A reviewer acknowledges each wildcard statement of the inferred policy in the config.
      const sids = [...resolved.policies.values()].flat().flatMap((d) => wildcardStatements(d).map((w) => w.sid!));
      const reviewed = config([service('orders', { deployPermissions: { infer: './.serverless', extra }, acknowledgeWildcards: Object.fromEntries(sids.map((sid) => [sid, 'Reviewed in the pull request that changed it.'])) })]);
      const { cicd } = appOf(reviewed, { deployPolicies: resolved.policies });
      const prod = JSON.stringify(Template.fromStack(cicd.deployerStacks[2]!).findResources('AWS::IAM::ManagedPolicy'));
      expect(prod).toContain('arn:aws:lambda:us-east-1:444444444444:function:orders-prod-hello');
      expect(prod).not.toContain('orders-dev-hello');
      expect(prod).toContain('ssm:GetParameter');
      const dev = JSON.stringify(Template.fromStack(cicd.deployerStacks[0]!).findResources('AWS::IAM::ManagedPolicy'));
      expect(dev).toContain('arn:aws:lambda:us-east-1:222222222222:function:orders-dev-hello');
    },
  );

  it.skipIf(!hasSchemas)(
    `GIVEN one template packaged for dev, with the stage baked into its names WHEN resolved THEN staging and prod get their own names${hasSchemas ? '' : ' (skipped: ../shared/data/cloudformation-schemas is absent)'}`,
    async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'sp-infer-literal-'));
      const template = {
        Resources: {
          HelloLambdaFunction: {
            Type: 'AWS::Lambda::Function',
            Properties: { FunctionName: 'orders-dev-hello', Handler: 'h.h', Runtime: 'nodejs20.x', Role: 'arn:aws:iam::222222222222:role/x', Code: { ZipFile: 'x' } },
          },
        },
      };
      writeFileSync(path.join(dir, 'cloudformation-template-update-stack.json'), JSON.stringify(template));
      writeFileSync(path.join(dir, 'serverless-state.json'), JSON.stringify({ service: { service: 'orders', provider: { stage: 'dev', region: 'us-east-1' } } }));
      const cfg = config([service('orders', { deployPermissions: { infer: '.' } })]);
      const resolved = await resolveDeployPolicies(buildPlans(cfg), { baseDir: dir, schemas: SHARED_SCHEMAS });
      const staging = JSON.stringify(resolved.policies.get('orders/staging'));
      expect(staging).toContain('function:orders-staging-hello');
      expect(staging).not.toContain('orders-dev-hello');
      expect(JSON.stringify(resolved.policies.get('orders/dev'))).toContain('function:orders-dev-hello');
    },
  );

  it.skipIf(!hasSchemas)(
    `GIVEN infer naming a Package (step package output: stages/<env>/) WHEN resolved THEN each environment's policy comes from its own template${hasSchemas ? '' : ' (skipped: ../shared/data/cloudformation-schemas is absent)'}`,
    async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'sp-infer-package-'));
      const environments = ['dev', 'staging', 'prod'];
      for (const env of environments) {
        const stage = path.join(dir, '.pipeline', 'Package', 'stages', env);
        mkdirSync(stage, { recursive: true });
        // Each environment's own template: its function differs by more than the stage.
        const template = {
          Resources: {
            [`${env}Function`]: {
              Type: 'AWS::Lambda::Function',
              Properties: { FunctionName: `orders-${env}-only-${env}`, Handler: 'h.h', Runtime: 'nodejs20.x', Role: 'arn:aws:iam::222222222222:role/x', Code: { ZipFile: 'x' } },
            },
          },
        };
        writeFileSync(path.join(stage, 'cloudformation-template-update-stack.json'), JSON.stringify(template));
      }
      const stages = environments.map((name) => ({ name, region: 'us-east-1', directory: `stages/${name}`, stackName: `orders-${name}` }));
      writeFileSync(path.join(dir, '.pipeline', 'Package', 'manifest.json'), JSON.stringify({ schemaVersion: 1, service: 'orders', flavor: 'serverless', stages, files: {} }));

      const cfg = config([service('orders', { deployPermissions: { infer: '.pipeline/Package' } })]);
      const resolved = await resolveDeployPolicies(buildPlans(cfg), { baseDir: dir, schemas: SHARED_SCHEMAS });

      for (const env of environments) {
        const policy = JSON.stringify(resolved.policies.get(`orders/${env}`));
        expect(policy).toContain(`function:orders-${env}-only-${env}`);
        for (const other of environments.filter((e) => e !== env)) expect(policy).not.toContain(`-only-${other}`);
      }
    },
  );

  it('GIVEN deployPermissions to infer and no schemas anywhere WHEN resolved THEN an InputError tells how to get them', async () => {
    const home = mkdtempSync(path.join(tmpdir(), 'sp-home-'));
    const cfg = config([service('orders', { deployPermissions: { infer: './.serverless' } })]);
    const attempt = resolveDeployPolicies(buildPlans(cfg), { baseDir: packageFolder(), env: { HOME: home } });
    await expect(attempt).rejects.toThrow(InputError);
    await expect(attempt).rejects.toThrow(/--schemas: .*permissions update --region us-east-1/);
  });

  it('GIVEN no service to infer WHEN resolved THEN nothing is read and no policy is returned', async () => {
    const resolved = await resolveDeployPolicies(buildPlans(config([service('orders')])), { baseDir: '/nonexistent', env: {} });
    expect(resolved.policies.size).toBe(0);
  });
});
