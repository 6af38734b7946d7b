/**
 * Inferred policies grant what the template's resources and properties need, not every call
 * their handlers list (issue 16.6): no data plane, KMS only with a key, conditions where IAM has
 * the key, the account wherever it is known, and a warning for each grant still broader than the
 * template's own resources. A real deploy keeps every call it makes.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { grantsOf, inferDeployPolicy, loadSchemaRegistry, type InferDeployPolicyOptions, type InferredPolicy, type SchemaRegistry } from '../../src/permissions/index.js';
import { hasSharedSchemas, NEEDS_SCHEMAS, SHARED_SCHEMAS } from './helpers.js';
import { decide, type SimulatedRequest } from './simulate.js';

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
const STACK = 'serverless-http-api-dynamodb-events-prod';
const BOUNDARY = `arn:aws:iam::${ACCOUNT}:policy/http-dynamodb-prod-boundary`;
const DEPLOYER = `arn:aws:iam::${ACCOUNT}:role/http-dynamodb-prod-deployer`;
const FIXTURE = path.join(import.meta.dirname, 'fixtures', 'osls-http-api-dynamodb', 'cloudformation-template-update-stack.json');
const fn = (name: string) => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${STACK}-${name}`;

describe.skipIf(!hasSharedSchemas)(`what an inferred policy grants${NEEDS_SCHEMAS}`, () => {
  let registry: SchemaRegistry;
  let template: { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> };
  let policy: InferredPolicy;
  let infer: (template: unknown, options?: Partial<InferDeployPolicyOptions>) => InferredPolicy;
  const allowed = (request: SimulatedRequest, documents = policy.documents) => decide(documents, request, DEPLOYER, ACCOUNT);
  const granted = (p: InferredPolicy) => new Set(grantsOf(p.documents).map((g) => g.action));

  beforeAll(async () => {
    registry = await loadSchemaRegistry(SHARED_SCHEMAS);
    infer = (t, options = {}) => inferDeployPolicy(t, { registry, stackName: STACK, region: REGION, account: ACCOUNT, permissionsBoundaryArn: BOUNDARY, ...options });
    template = JSON.parse(readFileSync(FIXTURE, 'utf8'));
    policy = infer(template);
  });

  it('GIVEN a service that names no KMS key WHEN inferred THEN no KMS action is granted, and each is listed as not needed', () => {
    expect([...granted(policy)].filter((a) => a.startsWith('kms:'))).toEqual([]);
    const kms = policy.omitted.filter((o) => o.action.startsWith('kms:'));
    expect(kms.map((o) => o.action)).toEqual(expect.arrayContaining(['kms:CreateGrant', 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey']));
    for (const omitted of kms) expect(omitted.reason).toBe('no property names a KMS key or asks for KMS encryption');
  });

  it('GIVEN a DynamoDB table WHEN inferred THEN no data-plane action (item reads and writes, kinesis:PutRecords) is granted on anything', () => {
    const dataPlane = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Scan', 'dynamodb:Query', 'dynamodb:BatchWriteItem', 'kinesis:PutRecords'];
    for (const action of dataPlane) expect(granted(policy), action).not.toContain(action);
    expect(policy.omitted.filter((o) => o.kind === 'data-plane').map((o) => o.action).sort()).toEqual([...dataPlane].sort());
  });

  it('GIVEN log groups and buckets without the properties that need them WHEN inferred THEN no logs:PutResourcePolicy, s3tables or firehose grant', () => {
    for (const action of granted(policy)) expect(action).not.toMatch(/^(s3tables|firehose|kinesis):|^logs:(Put|Delete)ResourcePolicy$|^logs:CreateLogDelivery$/);
    expect(policy.omitted.find((o) => o.action === 'logs:PutResourcePolicy')!.reason).toBe('only ResourcePolicyDocument needs it, and it is not set');
  });

  it('GIVEN the table may create its service-linked role WHEN simulated THEN only DynamoDB\'s service-linked roles can be created', async () => {
    const slr = (service: string) => ({ action: 'iam:CreateServiceLinkedRole', resource: `arn:aws:iam::${ACCOUNT}:role/aws-service-role/${service}/AWSServiceRole`, context: { 'iam:AWSServiceName': service } });
    expect(await allowed(slr('replication.dynamodb.amazonaws.com'))).toBe('Allowed');
    expect(await allowed(slr('elasticbeanstalk.amazonaws.com'))).toBe('ImplicitlyDenied');
    expect(await allowed(slr('ecs.amazonaws.com'))).toBe('ImplicitlyDenied');
  });

  it('GIVEN SQS and DynamoDB stream triggers WHEN simulated THEN event source mappings can be created, changed and deleted for the template\'s functions only', async () => {
    const mapping = `arn:aws:lambda:${REGION}:${ACCOUNT}:event-source-mapping:1f2e3d4c-0000-0000-0000-000000000000`;
    expect(await allowed({ action: 'lambda:CreateEventSourceMapping', resource: '*', context: { 'lambda:FunctionArn': fn('worker') } })).toBe('Allowed');
    expect(await allowed({ action: 'lambda:CreateEventSourceMapping', resource: '*', context: { 'lambda:FunctionArn': fn('notify') } })).toBe('Allowed');
    expect(await allowed({ action: 'lambda:DeleteEventSourceMapping', resource: mapping, context: { 'lambda:FunctionArn': fn('worker') } })).toBe('Allowed');
    const other = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:billing-prod-export`;
    expect(await allowed({ action: 'lambda:CreateEventSourceMapping', resource: '*', context: { 'lambda:FunctionArn': other } })).toBe('ImplicitlyDenied');
    expect(await allowed({ action: 'lambda:UpdateEventSourceMapping', resource: mapping, context: { 'lambda:FunctionArn': other } })).toBe('ImplicitlyDenied');
  });

  it('GIVEN a deployment bucket matched by a name prefix WHEN simulated THEN only a bucket of the deploy\'s own account is written', async () => {
    // A 40-character stack name: CloudFormation cuts the generated bucket name short, so only its prefix is known.
    const object = 'arn:aws:s3:::serverless-http-api-dyn-serverlessdeploymentbuck-1x2y3z/serverless/prod/template.json';
    expect(await allowed({ action: 's3:PutObject', resource: object, context: { 's3:ResourceAccount': ACCOUNT } })).toBe('Allowed');
    expect(await allowed({ action: 's3:PutObject', resource: object, context: { 's3:ResourceAccount': '999999999999' } })).toBe('ImplicitlyDenied');
    expect(await allowed({ action: 's3:GetObject', resource: object, context: { 's3:ResourceAccount': '999999999999' } })).toBe('ImplicitlyDenied');
  });

  it('GIVEN the account WHEN inferred THEN no ARN leaves the account open; without it, a warning says ARNs match any account', () => {
    for (const { resource } of grantsOf(policy.documents)) {
      const account = resource.split(':')[4];
      if (account !== undefined && account !== '') expect(account, resource).toBe(ACCOUNT);
    }
    expect(policy.warnings.join('\n')).not.toMatch(/account is not known/);
    expect(infer(template, { account: '*' }).warnings).toContain(
      "the account is not known: every ARN matches any account's resources, and S3 buckets are not kept to the account; give the account deployed to",
    );
  });

  it('GIVEN grants broader than the template\'s resources WHEN inferred THEN each one is named in a warning', () => {
    const warnings = policy.warnings.filter((w) => w.startsWith("broader than the template's own resources: "));
    const warned = (action: string, resource: string) => warnings.some((w) => w.includes(` on ${resource}: `) && w.split(' on ')[0]!.split(/[:,] /).includes(action));
    const broad = grantsOf(policy.documents).filter(
      (g) => !g.condition?.['ArnLike'] && (g.resource === '*' || /:(\*|[^:/]*-\*)$|\/\*$/.test(g.resource)) && !g.resource.includes(STACK),
    );
    expect(broad.length).toBeGreaterThan(5);
    for (const grant of broad) expect(warned(grant.action, grant.resource), `${grant.action} on ${grant.resource}`).toBe(true);
    expect(warnings.join('\n')).toContain('cloudformation:ValidateTemplate, ec2:DescribeNetworkInterfaces, logs:DescribeLogGroups on *: IAM supports no resource-level permissions for these actions');
  });

  it('GIVEN the real template WHEN each resource\'s handler permissions are checked THEN every one is granted, or listed as not needed with a reason, or dropped as not an IAM action', () => {
    const grantedFor = new Map<string, Set<string>>();
    for (const { statement, neededBy } of policy.statements) {
      for (const need of neededBy) {
        const actions = grantedFor.get(need) ?? new Set<string>();
        for (const action of typeof statement.Action === 'string' ? [statement.Action] : statement.Action) actions.add(action);
        grantedFor.set(need, actions);
      }
    }
    const invalid = new Set(policy.invalidActions.map((i) => i.action));
    for (const [logicalId, resource] of Object.entries(template.Resources)) {
      const schema = registry.schema(resource.Type)!;
      const listed = [...(schema.handlers.create ?? []), ...(schema.handlers.update ?? []), ...(schema.handlers.delete ?? []), ...schema.taggingPermissions];
      const need = `${logicalId} (${resource.Type})`;
      for (const name of new Set(listed)) {
        const action = registry.iam.action(name)?.name;
        if (!action) {
          expect(invalid.has(name), `${need}: ${name}`).toBe(true);
          continue;
        }
        const isGranted = grantedFor.get(need)?.has(action) ?? false;
        const isOmitted = policy.omitted.some((o) => o.action === action && o.neededBy.includes(need));
        // iam:PassRole is granted on the template's roles, for the resources that pass them.
        expect(isGranted || isOmitted || action === 'iam:PassRole', `${need}: ${action}`).toBe(true);
      }
    }
  });

  it('GIVEN the real template WHEN the calls of its first deploy are simulated THEN IAM allows each one', async () => {
    const role = `arn:aws:iam::${ACCOUNT}:role/${STACK}-${REGION}-lambdaRole`;
    const calls: SimulatedRequest[] = [
      { action: 'cloudformation:CreateChangeSet', resource: `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/${STACK}/0a1b2c3d-1111-2222-3333-444455556666` },
      { action: 's3:CreateBucket', resource: 'arn:aws:s3:::serverless-http-api-dyn-serverlessdeploymentbuck-1x2y3z' },
      { action: 's3:PutObject', resource: 'arn:aws:s3:::serverless-http-api-dyn-serverlessdeploymentbuck-1x2y3z/serverless/code.zip', context: { 's3:ResourceAccount': ACCOUNT } },
      { action: 'iam:CreateRole', resource: role, context: { 'iam:PermissionsBoundary': BOUNDARY } },
      { action: 'iam:PutRolePolicy', resource: role, context: { 'iam:PermissionsBoundary': BOUNDARY } },
      { action: 'iam:PassRole', resource: role, context: { 'iam:PassedToService': 'lambda.amazonaws.com' } },
      { action: 'lambda:CreateFunction', resource: fn('worker') },
      { action: 'lambda:PublishVersion', resource: fn('worker') },
      { action: 'lambda:AddPermission', resource: fn('upload') },
      { action: 'logs:CreateLogGroup', resource: `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/lambda/${STACK}-worker` },
      { action: 'dynamodb:CreateTable', resource: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${STACK}-items` },
      { action: 'sqs:CreateQueue', resource: `arn:aws:sqs:${REGION}:${ACCOUNT}:${STACK}-jobs` },
      { action: 'sns:CreateTopic', resource: `arn:aws:sns:${REGION}:${ACCOUNT}:${STACK}-alerts` },
      { action: 's3:PutBucketNotification', resource: `arn:aws:s3:::${STACK}-uploads`, context: { 's3:ResourceAccount': ACCOUNT } },
      { action: 'events:PutRule', resource: `arn:aws:events:${REGION}:${ACCOUNT}:rule/serverless-http-api-dyn-CronEventsRuleSchedule1-AB12` },
      { action: 'lambda:CreateEventSourceMapping', resource: '*', context: { 'lambda:FunctionArn': fn('worker') } },
    ];
    for (const call of calls) expect(await allowed(call), `${call.action} on ${call.resource}`).toBe('Allowed');
  });

  it('GIVEN the properties (or update policy) that need another service WHEN inferred THEN its actions are granted; without them, listed as not needed', () => {
    const fnProperties = { FunctionName: 'orders-fn', Role: `arn:aws:iam::${ACCOUNT}:role/r`, Code: { ZipFile: 'x' } };
    const inVpc = infer({ Resources: { Fn: { Type: 'AWS::Lambda::Function', Properties: { ...fnProperties, VpcConfig: { SubnetIds: ['subnet-1'], SecurityGroupIds: ['sg-1'] } } } } });
    expect(granted(inVpc)).toContain('ec2:DescribeSubnets');
    const plain = infer({ Resources: { Fn: { Type: 'AWS::Lambda::Function', Properties: fnProperties } } });
    expect(granted(plain)).not.toContain('ec2:DescribeSubnets');
    expect(plain.omitted.find((o) => o.action === 'ec2:DescribeSubnets')).toMatchObject({ kind: 'property-not-set', neededBy: ['Fn (AWS::Lambda::Function)'] });

    const alias = (updatePolicy?: unknown) => ({
      Resources: { Live: { Type: 'AWS::Lambda::Alias', Properties: { FunctionName: 'orders-fn', FunctionVersion: '1', Name: 'live' }, ...(updatePolicy ? { UpdatePolicy: updatePolicy } : {}) } },
    });
    expect(granted(infer(alias({ CodeDeployLambdaAliasUpdate: { ApplicationName: 'orders', DeploymentGroupName: 'orders-live' } })))).toContain('codedeploy:StopDeployment');
    expect(granted(infer(alias()))).not.toContain('codedeploy:StopDeployment');
  });

  describe('GIVEN resources encrypted with KMS', () => {
    const keyArn = `arn:aws:kms:${REGION}:${ACCOUNT}:key/0a1b2c3d-1111-2222-3333-444455556666`;
    const encryptedTemplate = {
      Resources: {
        Fn: { Type: 'AWS::Lambda::Function', Properties: { FunctionName: 'orders-fn', Role: `arn:aws:iam::${ACCOUNT}:role/r`, KmsKeyArn: keyArn, Code: { ZipFile: 'x' } } },
        Table: {
          Type: 'AWS::DynamoDB::Table',
          Properties: { TableName: 'orders', KeySchema: [], AttributeDefinitions: [], SSESpecification: { SSEEnabled: true, SSEType: 'KMS' } },
        },
      },
    };
    let encrypted: InferredPolicy;
    beforeAll(() => {
      encrypted = infer(encryptedTemplate);
    });

    it('WHEN a function names its key THEN KMS is granted on that key only', () => {
      const fnOnly = infer({ Resources: { Fn: encryptedTemplate.Resources.Fn } });
      const kms = grantsOf(fnOnly.documents).filter((g) => g.action.startsWith('kms:'));
      expect(kms.map((g) => g.action).sort()).toEqual(['kms:CreateGrant', 'kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey']);
      for (const grant of kms) expect(grant.resource).toBe(keyArn);
    });

    it('WHEN a table asks for KMS encryption with the AWS managed key THEN KMS is granted on the account\'s keys, with a warning', () => {
      expect(grantsOf(encrypted.documents).filter((g) => g.action === 'kms:DescribeKey').map((g) => g.resource)).toContain(`arn:aws:kms:${REGION}:${ACCOUNT}:key/*`);
      expect(encrypted.warnings.join('\n')).toMatch(/broader than the template's own resources: [^\n]*kms:DescribeKey[^\n]* on arn:aws:kms:eu-west-1:123456789012:key\/\*: the template names no key for AWS::DynamoDB::Table/);
    });
  });
});
