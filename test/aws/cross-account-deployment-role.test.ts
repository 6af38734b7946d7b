import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { CrossAccountDeploymentRole } from '../../src/aws/cross-account-deployment-role.js';
import { checkDeployStatements, defaultDeployStatements } from '../../src/aws/deploy-permissions.js';
import { InputError } from '../../src/model/errors.js';
import { actionsOf } from './helpers.js';

function targetStack(): Stack {
  return new Stack(new App({ analyticsReporting: false, builtinCloudFormationValidation: false }), 'Target', { env: { account: '444444444444', region: 'eu-west-1' } });
}

interface Statement {
  Sid?: string;
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}

describe('CrossAccountDeploymentRole', () => {
  it("GIVEN a service and stage WHEN synthesized THEN the role keeps the article's name helpers and trusts only that deploy action role", () => {
    const stack = targetStack();
    const role = new CrossAccountDeploymentRole(stack, 'Role', { serviceName: 'orders', targetStageName: 'prod', deployingAccountId: '111111111111' });
    expect(role.roleName).toBe(CrossAccountDeploymentRole.getRoleNameForService('orders', 'prod'));
    expect(CrossAccountDeploymentRole.getRoleArnForService('orders', 'prod', '444444444444')).toBe('arn:aws:iam::444444444444:role/orders-prod-deployer');
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Role', {
      RoleName: 'orders-prod-deployer',
      MaxSessionDuration: 3600,
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Action: 'sts:AssumeRole',
            Effect: 'Allow',
            Principal: { AWS: Match.anyValue() },
            Condition: { ArnEquals: { 'aws:PrincipalArn': 'arn:aws:iam::111111111111:role/orders-prod-deploy-action' } },
          },
        ],
      },
    });
  });

  it('GIVEN no deployPermissions WHEN synthesized THEN the default statements are scoped to the service-stage names, with no * action and PassRole only to Lambda', () => {
    const stack = targetStack();
    new CrossAccountDeploymentRole(stack, 'Role', { serviceName: 'orders', targetStageName: 'prod', deployingAccountId: '111111111111' });
    const role = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Role'))[0]!;
    const statements = (role.Properties.Policies as { PolicyDocument: { Statement: Statement[] } }[])[0]!.PolicyDocument.Statement;
    expect(statements.flatMap(actionsOf).filter((a) => a === '*' || a.endsWith(':*'))).toEqual([]);
    const byId = (sid: string) => statements.find((s) => s.Sid === sid)!;
    expect(byId('ServiceStack').Resource).toContain('arn:aws:cloudformation:eu-west-1:444444444444:stack/orders-prod/*');
    expect(byId('Functions').Resource).toBe('arn:aws:lambda:eu-west-1:444444444444:function:orders-prod-*');
    expect(byId('DeploymentBucket').Resource).toEqual(['arn:aws:s3:::orders-prod-serverlessdeploymentbucket-*', 'arn:aws:s3:::orders-prod-serverlessdeploymentbucket-*/*']);
    expect(byId('PassFunctionRoles')).toMatchObject({
      Action: 'iam:PassRole',
      Resource: 'arn:aws:iam::444444444444:role/orders-prod-*',
      Condition: { StringEquals: { 'iam:PassedToService': 'lambda.amazonaws.com' } },
    });
    // The only statement on every resource is the one IAM offers no resource-level permission for.
    expect(statements.filter((s) => s.Resource === '*').flatMap(actionsOf)).toEqual(['cloudformation:ValidateTemplate']);
  });

  it('GIVEN explicit statements WHEN synthesized THEN the role carries exactly them', () => {
    const stack = targetStack();
    const deployPermissions = [{ Effect: 'Allow' as const, Action: ['dynamodb:CreateTable'], Resource: 'arn:aws:dynamodb:eu-west-1:444444444444:table/orders-*' }];
    new CrossAccountDeploymentRole(stack, 'Role', { serviceName: 'orders', targetStageName: 'prod', deployingAccountId: '111111111111', deployPermissions });
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Role', {
      Policies: [{ PolicyName: 'Deploy', PolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'dynamodb:CreateTable', Resource: deployPermissions[0]!.Resource }] } }],
    });
  });

  it('GIVEN statements granting every action WHEN built THEN an InputError names the statement, and no role is made', () => {
    const stack = targetStack();
    const build = () =>
      new CrossAccountDeploymentRole(stack, 'Role', {
        serviceName: 'orders',
        targetStageName: 'prod',
        deployingAccountId: '111111111111',
        deployPermissions: [{ Action: 's3:GetObject', Resource: '*' }, { Action: ['*'], Resource: '*' }],
        where: 'services[0].deployPermissions',
      });
    const error = (() => {
      try {
        build();
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).problems).toEqual([
      { where: 'services[0].deployPermissions[1].Action', message: expect.stringContaining('"*" amounts to administrator access') },
    ]);
    Template.fromStack(stack).resourceCountIs('AWS::IAM::Role', 0);
  });

  it('GIVEN inferred policy documents WHEN synthesized THEN each becomes a customer-managed policy attached to the role', () => {
    const stack = targetStack();
    const documents = [
      { Version: '2012-10-17', Statement: [{ Effect: 'Allow' as const, Action: ['lambda:CreateFunction'], Resource: 'arn:aws:lambda:eu-west-1:444444444444:function:orders-prod-api' }] },
      { Version: '2012-10-17', Statement: [{ Effect: 'Allow' as const, Action: ['sqs:CreateQueue'], Resource: 'arn:aws:sqs:eu-west-1:444444444444:orders-prod-jobs' }] },
    ];
    new CrossAccountDeploymentRole(stack, 'Role', { serviceName: 'orders', targetStageName: 'prod', deployingAccountId: '111111111111', policyDocuments: documents });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::IAM::ManagedPolicy', 2);
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', { ManagedPolicyName: 'orders-prod-deployer-2', PolicyDocument: Match.objectLike({ Statement: [Match.objectLike({ Action: 'sqs:CreateQueue' })] }) });
    const role = Object.values(template.findResources('AWS::IAM::Role'))[0]!;
    expect(role.Properties.Policies).toBeUndefined();
  });
});

describe('deploy permissions', () => {
  it('GIVEN IAM or STS wildcards WHEN checked THEN they are refused like "*", while scoped wildcards pass', () => {
    expect(() => checkDeployStatements([{ Action: 'IAM:*', Resource: '*' }], 'x')).toThrow(/x\[0\]\.Action: "IAM:\*" amounts to administrator access/);
    expect(() => checkDeployStatements([{ Action: 'sts:*', Resource: '*' }], 'x')).toThrow(InputError);
    expect(() => checkDeployStatements([{ Action: ['iam:Attach*'], Resource: 'arn:aws:iam::1:role/x-*' }], 'x')).toThrow(/x\[0\]\.Action: "iam:Attach\*" is a wildcard over IAM/);
    expect(() => checkDeployStatements([{ Action: '*:Get*', Resource: '*' }], 'x')).toThrow(/amounts to administrator access/);
    expect(() => checkDeployStatements([{ Action: 'iam:PassRole', Resource: ['*'] }], 'x')).toThrow(/x\[0\]\.Resource: iam:PassRole on "\*"/);
    expect(() => checkDeployStatements([{ Action: 'lambda:Get*', Resource: 'arn:aws:lambda:*:*:function:orders-*' }, { Effect: 'Deny', Action: '*', Resource: '*' }], 'x')).not.toThrow();
  });

  it('GIVEN a China region WHEN the defaults are built THEN their ARNs use its partition', () => {
    const statements = defaultDeployStatements({ service: 'orders', stage: 'dev', account: '222222222222', region: 'cn-north-1', partition: 'aws-cn' });
    expect(JSON.stringify(statements)).not.toContain('arn:aws:');
    expect(JSON.stringify(statements)).toContain('arn:aws-cn:lambda:cn-north-1:222222222222:function:orders-dev-*');
  });
});
