/**
 * The deployer cannot raise its own rights through an inferred policy: every role it creates or
 * changes carries the permissions boundary, and nothing reaches the deployer role, its own
 * policies or the boundary. Each attack is evaluated by an IAM policy evaluator, as AWS would.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { grantsOf, inferDeployPolicy, loadSchemaRegistry, type InferDeployPolicyOptions, type InferredPolicy, type SchemaRegistry } from '../../src/permissions/index.js';
import { hasSharedSchemas, NEEDS_SCHEMAS, SHARED_SCHEMAS } from './helpers.js';
import { decide, escalationAttempts, type SimulatedRequest } from './simulate.js';

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
const iamArn = (what: string) => `arn:aws:iam::${ACCOUNT}:${what}`;

/** The pipeline `http-dynamodb`, whose serverless service is `serverless-http-api-dynamodb-events` (issue 16.1's naming). */
const BOUNDARY = iamArn('policy/http-dynamodb-prod-boundary');
const DEPLOYER = iamArn('role/http-dynamodb-prod-deployer');
const FIXTURE = path.join(import.meta.dirname, 'fixtures', 'osls-http-api-dynamodb', 'cloudformation-template-update-stack.json');
const SERVICE_ROLE = iamArn(`role/serverless-http-api-dynamodb-events-prod-${REGION}-lambdaRole`);
const withBoundary = { 'iam:PermissionsBoundary': BOUNDARY };

const lambdaTrust = { Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] };

describe.skipIf(!hasSharedSchemas)(`inferred policies and the permissions boundary${NEEDS_SCHEMAS}`, () => {
  let registry: SchemaRegistry;
  let infer: (template: unknown, options?: Partial<InferDeployPolicyOptions>) => InferredPolicy;
  /** IAM's decision for the deployer holding a policy. */
  const decision = (policy: InferredPolicy, request: SimulatedRequest, deployer = DEPLOYER) => decide(policy.documents, request, deployer, ACCOUNT);

  beforeAll(async () => {
    registry = await loadSchemaRegistry(SHARED_SCHEMAS);
    infer = (template, options = {}) =>
      inferDeployPolicy(template, {
        registry,
        stackName: 'serverless-http-api-dynamodb-events-prod',
        region: REGION,
        account: ACCOUNT,
        permissionsBoundaryArn: BOUNDARY,
        ...options,
      });
  });

  describe('GIVEN the real osls package of a service whose serverless name differs from its pipeline\'s', () => {
    let policy: InferredPolicy;
    beforeAll(() => {
      policy = infer(JSON.parse(readFileSync(FIXTURE, 'utf8')));
    });

    it('WHEN the deployer attacks itself, the boundary or an unbounded role THEN IAM denies every attempt', async () => {
      const attacks = escalationAttempts({ deployer: DEPLOYER, boundary: BOUNDARY, serviceRole: SERVICE_ROLE });
      for (const [attack, request] of attacks) expect(await decision(policy, request), attack).not.toBe('Allowed');
    });

    it('WHEN the deploy creates, changes and passes the service role under the boundary THEN IAM allows it', async () => {
      const deploy: SimulatedRequest[] = [
        { action: 'iam:CreateRole', resource: SERVICE_ROLE, context: withBoundary },
        { action: 'iam:PutRolePolicy', resource: SERVICE_ROLE, context: withBoundary },
        { action: 'iam:DeleteRolePolicy', resource: SERVICE_ROLE, context: withBoundary },
        { action: 'iam:PutRolePermissionsBoundary', resource: SERVICE_ROLE, context: withBoundary },
        { action: 'iam:DeleteRole', resource: SERVICE_ROLE, context: withBoundary },
        { action: 'iam:TagRole', resource: SERVICE_ROLE },
        { action: 'iam:GetRole', resource: SERVICE_ROLE },
        { action: 'iam:PassRole', resource: SERVICE_ROLE, context: { 'iam:PassedToService': 'lambda.amazonaws.com' } },
      ];
      for (const request of deploy) expect(await decision(policy, request), request.action).toBe('Allowed');
    });

    it('WHEN inferred THEN every statement that creates or changes a role requires the boundary, and the guard statements are there', () => {
      const changing = ['iam:CreateRole', 'iam:PutRolePolicy', 'iam:AttachRolePolicy', 'iam:DetachRolePolicy', 'iam:DeleteRolePolicy', 'iam:PutRolePermissionsBoundary', 'iam:UpdateAssumeRolePolicy', 'iam:UpdateRole', 'iam:DeleteRole'];
      const grants = grantsOf(policy.documents).filter((g) => changing.includes(g.action));
      expect(new Set(grants.map((g) => g.action))).toEqual(new Set(changing));
      for (const grant of grants) expect(grant.condition, grant.action).toEqual({ StringEquals: { 'iam:PermissionsBoundary': BOUNDARY } });
      expect(grantsOf(policy.documents).map((g) => g.action)).not.toContain('iam:DeleteRolePermissionsBoundary');
      // What changes a role without a boundary key is kept to the template's own role, in statements of its own.
      const unbounded = grantsOf(policy.documents).filter((g) => ['iam:TagRole', 'iam:UntagRole', 'iam:PassRole'].includes(g.action));
      expect(unbounded.map((g) => g.resource)).toEqual([SERVICE_ROLE, SERVICE_ROLE, SERVICE_ROLE]);
      for (const grant of unbounded) expect(JSON.stringify(grant.condition ?? {})).not.toContain('iam:PermissionsBoundary');
      const denies = policy.documents.flatMap((d) => d.Statement).filter((s) => s.Effect === 'Deny');
      expect(denies.map((s) => s.Sid).sort()).toEqual(['DenyBoundaryRemoval', 'DenyDeployerAndBoundary']);
      expect(denies.find((s) => s.Sid === 'DenyDeployerAndBoundary')!.Resource).toEqual([DEPLOYER, iamArn('policy/http-dynamodb-prod-deployer-*'), BOUNDARY]);
      expect(policy.guard).toEqual({ permissionsBoundaryArn: BOUNDARY, deployerRoleArn: DEPLOYER });
    });

    it('WHEN inferred THEN no Allow statement uses an ...IfExists operator', () => {
      for (const statement of policy.documents.flatMap((d) => d.Statement)) {
        for (const operator of Object.keys(statement.Condition ?? {})) expect(operator, statement.Sid).not.toMatch(/IfExists$/);
      }
    });

    it('WHEN the template\'s role does not carry the boundary THEN a warning says the deploy is denied unless it does', () => {
      expect(policy.warnings.join('\n')).toContain(`IamRoleLambdaExecution (AWS::IAM::Role) has no PermissionsBoundary: creating it is allowed only with ${BOUNDARY}, so the deploy is denied unless it carries it`);
    });
  });

  it('GIVEN a stack name so long that generated role names match the deployer\'s WHEN the deployer passes or tags itself THEN the Deny statement stops it, and the reviewer is told', async () => {
    // Stack orders-service-production-eu-dev: an unnamed role's generated name is cut to `orders-service-p*`,
    // which matches the deployer role `orders-service-production-eu-dev-deployer` too.
    const boundary = iamArn('policy/orders-service-production-eu-dev-boundary');
    const deployer = iamArn('role/orders-service-production-eu-dev-deployer');
    const policy = infer(
      {
        Resources: {
          FunctionServiceRole: { Type: 'AWS::IAM::Role', Properties: { AssumeRolePolicyDocument: lambdaTrust } },
          Handler: { Type: 'AWS::Lambda::Function', Properties: { Role: { 'Fn::GetAtt': ['FunctionServiceRole', 'Arn'] }, Code: { ZipFile: 'x' } } },
        },
      },
      { stackName: 'orders-service-production-eu-dev', permissionsBoundaryArn: boundary },
    );
    expect(grantsOf(policy.documents).filter((g) => g.action === 'iam:PassRole').map((g) => g.resource)).toEqual([iamArn('role/orders-service-p*')]);
    const passDeployer = { action: 'iam:PassRole', resource: deployer, context: { 'iam:PassedToService': 'lambda.amazonaws.com' } };
    expect(await decision(policy, passDeployer, deployer)).toBe('ExplicitlyDenied');
    expect(await decision(policy, { action: 'iam:TagRole', resource: deployer }, deployer)).toBe('ExplicitlyDenied');
    expect(await decision(policy, { action: 'iam:PassRole', resource: iamArn('role/orders-service-prod-FunctionServiceRole-AB12'), context: { 'iam:PassedToService': 'lambda.amazonaws.com' } }, deployer)).toBe(
      'Allowed',
    );
    expect(policy.warnings.join('\n')).toContain(`${iamArn('role/orders-service-p*')} (FunctionServiceRole (AWS::IAM::Role)) could also match ${deployer}: the Deny statement DenyDeployerAndBoundary keeps the deployer off it`);
  });

  it('GIVEN a template that names the deployer role and the boundary policy as its own WHEN inferred THEN nothing is allowed on either, and the reviewer is told', async () => {
    const boundary = iamArn('policy/orders-dev-boundary');
    const deployer = iamArn('role/orders-dev-deployer');
    const policy = infer(
      {
        Resources: {
          Hijack: { Type: 'AWS::IAM::Role', Properties: { RoleName: 'orders-dev-deployer', AssumeRolePolicyDocument: lambdaTrust } },
          Rewrite: { Type: 'AWS::IAM::ManagedPolicy', Properties: { ManagedPolicyName: 'orders-dev-boundary', PolicyDocument: { Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] } } },
        },
      },
      { stackName: 'orders-dev', permissionsBoundaryArn: boundary },
    );
    const allowedOn = grantsOf(policy.documents).filter((g) => g.resource === deployer || g.resource === boundary);
    expect(allowedOn.filter((g) => !g.condition)).toEqual([]);
    for (const action of ['iam:CreatePolicyVersion', 'iam:SetDefaultPolicyVersion', 'iam:DeletePolicy']) {
      expect(await decision(policy, { action, resource: boundary }, deployer), action).toBe('ExplicitlyDenied');
    }
    expect(await decision(policy, { action: 'iam:TagRole', resource: deployer }, deployer)).toBe('ExplicitlyDenied');
    expect(await decision(policy, { action: 'iam:PutRolePolicy', resource: deployer, context: { 'iam:PermissionsBoundary': boundary } }, deployer)).toBe('ExplicitlyDenied');
    expect(policy.warnings.join('\n')).toContain(`Hijack (AWS::IAM::Role) names ${deployer}, which belongs to the deployer: iam:TagRole is not granted on it`);
    expect(policy.warnings.join('\n')).toContain(`Rewrite (AWS::IAM::ManagedPolicy) names ${boundary}, which belongs to the deployer: iam:CreatePolicyVersion is not granted on it`);
  });

  it('GIVEN managed policies of the template, named and unnamed WHEN the deployer writes a new version of another policy of the account THEN IAM denies it', async () => {
    const policy = infer(
      {
        Resources: {
          Unnamed: { Type: 'AWS::IAM::ManagedPolicy', Properties: { PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] } } },
          Named: { Type: 'AWS::IAM::ManagedPolicy', Properties: { ManagedPolicyName: 'orders-dev-reader', Path: '/orders/', PolicyDocument: { Statement: [] } } },
        },
      },
      { stackName: 'orders-dev', permissionsBoundaryArn: iamArn('policy/orders-dev-boundary') },
    );
    const deployer = iamArn('role/orders-dev-deployer');
    expect(await decision(policy, { action: 'iam:CreatePolicyVersion', resource: iamArn('policy/team-admins') }, deployer)).toBe('ImplicitlyDenied');
    expect(await decision(policy, { action: 'iam:CreatePolicyVersion', resource: iamArn('policy/orders-dev-Unnamed-1A2B3C') }, deployer)).toBe('Allowed');
    expect(await decision(policy, { action: 'iam:CreatePolicyVersion', resource: iamArn('policy/orders/orders-dev-reader') }, deployer)).toBe('Allowed');
  });

  it('GIVEN no permissions boundary WHEN inferred THEN no action that creates or changes a role is granted, and each is listed as omitted', async () => {
    const policy = infer(
      { Resources: { Role: { Type: 'AWS::IAM::Role', Properties: { RoleName: 'orders-dev-fn', AssumeRolePolicyDocument: lambdaTrust } } } },
      { stackName: 'orders-dev', permissionsBoundaryArn: undefined },
    );
    const role = iamArn('role/orders-dev-fn');
    expect(await decision(policy, { action: 'iam:CreateRole', resource: role, context: { 'iam:PermissionsBoundary': iamArn('policy/anything') } }, iamArn('role/x'))).toBe('ImplicitlyDenied');
    expect(await decision(policy, { action: 'iam:PutRolePolicy', resource: role }, iamArn('role/x'))).toBe('ImplicitlyDenied');
    const omitted = policy.omitted.filter((o) => o.kind === 'boundary').map((o) => o.action);
    expect(omitted).toEqual(expect.arrayContaining(['iam:CreateRole', 'iam:PutRolePolicy', 'iam:AttachRolePolicy', 'iam:DeleteRolePermissionsBoundary']));
    expect(policy.documents.flatMap((d) => d.Statement).filter((s) => s.Effect === 'Deny')).toEqual([]);
  });
});
