import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../src/model/errors.js';
import { diffPolicies, grantsOf, inferDeployPolicy, loadSchemaRegistry, policySize, type InferDeployPolicyOptions, type InferredPolicy, type SchemaRegistry } from '../../src/permissions/index.js';
import { actionsOf, hasSharedSchemas, NEEDS_SCHEMAS, SHARED_SCHEMAS } from './helpers.js';

const ACCOUNT = '123456789012';
const lambdaTrust = { Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] };

/** The resources a policy allows an action on. */
function resourcesFor(policy: InferredPolicy, action: string): string[] {
  return grantsOf(policy.documents)
    .filter((g) => g.action === action)
    .map((g) => g.resource)
    .sort();
}

describe.skipIf(!hasSharedSchemas)(`inferDeployPolicy on hand-written templates${NEEDS_SCHEMAS}`, () => {
  let registry: SchemaRegistry;
  let infer: (template: unknown, options?: Partial<InferDeployPolicyOptions>) => InferredPolicy;

  beforeAll(async () => {
    registry = await loadSchemaRegistry(SHARED_SCHEMAS);
    infer = (template, options = {}) =>
      inferDeployPolicy(template, { registry, stackName: 'orders-dev', region: 'eu-west-1', account: ACCOUNT, permissionsBoundaryArn: `arn:aws:iam::${ACCOUNT}:policy/orders-dev-boundary`, ...options });
  });

  it('GIVEN a function named with Fn::Sub and a role named with Fn::Join WHEN inferred THEN their actions are scoped to their exact ARNs', () => {
    const policy = infer({
      Resources: {
        Role: { Type: 'AWS::IAM::Role', Properties: { RoleName: { 'Fn::Join': ['-', [{ Ref: 'AWS::StackName' }, { Ref: 'AWS::Region' }, 'role']] }, AssumeRolePolicyDocument: lambdaTrust } },
        Fn: {
          Type: 'AWS::Lambda::Function',
          Properties: { FunctionName: { 'Fn::Sub': '${AWS::StackName}-create' }, Role: { 'Fn::GetAtt': ['Role', 'Arn'] }, Code: { ZipFile: 'exports.handler = () => 1' } },
        },
      },
    });
    expect(resourcesFor(policy, 'lambda:CreateFunction')).toEqual([`arn:aws:lambda:eu-west-1:${ACCOUNT}:function:orders-dev-create`]);
    expect(resourcesFor(policy, 'lambda:UpdateFunctionCode')).toEqual([`arn:aws:lambda:eu-west-1:${ACCOUNT}:function:orders-dev-create`]);
    expect(resourcesFor(policy, 'iam:CreateRole')).toEqual([`arn:aws:iam::${ACCOUNT}:role/orders-dev-eu-west-1-role`]);
    expect(resourcesFor(policy, 'iam:PutRolePolicy')).toEqual([`arn:aws:iam::${ACCOUNT}:role/orders-dev-eu-west-1-role`]);
  });

  it('GIVEN a function that uses a role of the template WHEN inferred THEN iam:PassRole is allowed on that role only, for the service its trust policy names', () => {
    const policy = infer({
      Resources: {
        Role: { Type: 'AWS::IAM::Role', Properties: { RoleName: 'orders-fn-role', AssumeRolePolicyDocument: lambdaTrust } },
        Unused: { Type: 'AWS::IAM::Role', Properties: { RoleName: 'orders-other-role', AssumeRolePolicyDocument: lambdaTrust } },
        Fn: { Type: 'AWS::Lambda::Function', Properties: { FunctionName: 'orders-fn', Role: { 'Fn::GetAtt': ['Role', 'Arn'] }, Code: { ZipFile: 'x' } } },
      },
    });
    const passRole = policy.documents.flatMap((d) => d.Statement).filter((s) => actionsOf([{ Statement: [s] }]).includes('iam:PassRole'));
    expect(passRole).toHaveLength(1);
    expect(passRole[0]!.Action).toEqual(['iam:PassRole']);
    expect(passRole[0]!.Resource).toEqual([`arn:aws:iam::${ACCOUNT}:role/orders-fn-role`]);
    expect(passRole[0]!.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'lambda.amazonaws.com' } });
  });

  it('GIVEN unnamed resources (as CDK writes them) WHEN inferred THEN their ARNs are stack-name patterns, explained', () => {
    const policy = infer({
      Resources: {
        ServiceRole: {
          Type: 'AWS::IAM::Role',
          Properties: { AssumeRolePolicyDocument: { Statement: [{ Effect: 'Allow', Principal: { Service: { 'Fn::Join': ['', ['lambda.', { Ref: 'AWS::URLSuffix' }]] } }, Action: 'sts:AssumeRole' }] } },
        },
        Handler: { Type: 'AWS::Lambda::Function', Properties: { Role: { 'Fn::GetAtt': ['ServiceRole', 'Arn'] }, Code: { ZipFile: 'x' } } },
        Jobs: { Type: 'AWS::SQS::Queue', Properties: {} },
        Uploads: { Type: 'AWS::S3::Bucket', Properties: {} },
      },
    });
    expect(resourcesFor(policy, 'lambda:CreateFunction')).toEqual([`arn:aws:lambda:eu-west-1:${ACCOUNT}:function:orders-dev-Handler-*`]);
    expect(resourcesFor(policy, 'iam:PassRole')).toEqual([`arn:aws:iam::${ACCOUNT}:role/orders-dev-ServiceRole-*`]);
    expect(resourcesFor(policy, 'sqs:CreateQueue')).toEqual([`arn:aws:sqs:eu-west-1:${ACCOUNT}:orders-dev-Jobs-*`]);
    // S3 lower-cases the names CloudFormation generates for buckets.
    expect(resourcesFor(policy, 's3:CreateBucket')).toEqual(['arn:aws:s3:::orders-dev-uploads-*']);
    const lambda = policy.statements.find((s) => (s.statement.Action as string[]).includes('lambda:CreateFunction'))!;
    expect(lambda.wildcards.map((w) => w.reason)).toContain(`arn:aws:lambda:eu-west-1:${ACCOUNT}:function:orders-dev-Handler-*: Handler has no name in the template: CloudFormation generates one from the stack name`);
  });

  it('GIVEN a long stack name WHEN a generated name may be truncated THEN the pattern keeps only a prefix of the stack name', () => {
    const policy = infer({ Resources: { AVeryLongLogicalIdForTheQueueOfOrders: { Type: 'AWS::SQS::Queue', Properties: {} } } }, { stackName: 'orders-service-production-eu' });
    expect(resourcesFor(policy, 'sqs:CreateQueue')).toEqual([`arn:aws:sqs:eu-west-1:${ACCOUNT}:orders-service-p*`]);
  });

  it('GIVEN a function that passes a role the template does not create WHEN inferred THEN no iam:PassRole is granted and a warning names the role', () => {
    const policy = infer({
      Resources: { Fn: { Type: 'AWS::Lambda::Function', Properties: { FunctionName: 'orders-fn', Role: 'arn:aws:iam::123456789012:role/shared-admin', Code: { ZipFile: 'x' } } } },
    });
    expect(actionsOf(policy.documents)).not.toContain('iam:PassRole');
    expect(policy.warnings.join('\n')).toContain('Fn passes the role arn:aws:iam::123456789012:role/shared-admin, which the template does not create: iam:PassRole is not granted on it');
  });

  it('GIVEN types whose schema has no handlers WHEN inferred THEN a warning, IAM write actions scoped to the ARN as fallback, and nothing where IAM has no match', () => {
    const policy = infer({
      Resources: {
        Build: { Type: 'AWS::CodeBuild::Project', Properties: { Name: 'orders-build' } },
        Dns: { Type: 'AWS::Route53::RecordSet', Properties: { Name: 'api.example.com', HostedZoneId: 'Z1' } },
      },
    });
    expect(policy.unknownTypes).toEqual([
      { type: 'AWS::CodeBuild::Project', logicalIds: ['Build'], fallback: 'iam-write-actions' },
      { type: 'AWS::Route53::RecordSet', logicalIds: ['Dns'], fallback: 'none' },
    ]);
    expect(resourcesFor(policy, 'codebuild:CreateProject')).toEqual([`arn:aws:codebuild:eu-west-1:${ACCOUNT}:project/orders-build`]);
    expect(actionsOf(policy.documents).filter((a) => a.startsWith('route53:'))).toEqual([]);
    expect(policy.warnings.find((w) => w.startsWith('AWS::Route53::RecordSet'))).toMatch(/granted nothing .* give its actions as an override of AWS::Route53::RecordSet/);
  });

  it('GIVEN an override for a type without handlers WHEN inferred THEN exactly those actions are granted, scoped like the registry\'s', () => {
    const policy = infer(
      { Resources: { Build: { Type: 'AWS::CodeBuild::Project', Properties: { Name: 'orders-build' } } } },
      { overrides: { 'AWS::CodeBuild::Project': ['codebuild:CreateProject', 'codebuild:UpdateProject', 'codebuild:DeleteProject', 'codebuild:NotAnAction'] } },
    );
    expect(actionsOf(policy.documents).filter((a) => a.startsWith('codebuild:')).sort()).toEqual(['codebuild:CreateProject', 'codebuild:DeleteProject', 'codebuild:UpdateProject']);
    expect(resourcesFor(policy, 'codebuild:UpdateProject')).toEqual([`arn:aws:codebuild:eu-west-1:${ACCOUNT}:project/orders-build`]);
    expect(policy.unknownTypes).toEqual([{ type: 'AWS::CodeBuild::Project', logicalIds: ['Build'], fallback: 'override' }]);
    expect(policy.invalidActions).toContainEqual({ action: 'codebuild:NotAnAction', resourceTypes: ['AWS::CodeBuild::Project'], reason: 'IAM\'s codebuild service has no action "NotAnAction"' });
  });

  it('GIVEN schemas that list strings which are not IAM actions WHEN inferred THEN they are dropped and reported, never granted', () => {
    const policy = infer({ Resources: { Logs: { Type: 'AWS::Logs::LogGroup', Properties: { LogGroupName: '/orders' } }, Bucket: { Type: 'AWS::S3::Bucket', Properties: { BucketName: 'orders-bucket' } } } });
    const invalid = policy.invalidActions.map((i) => i.action);
    expect(invalid).toContain('s3:REST.PUT.OBJECT');
    expect(invalid).toContain('s3:PutBucketReplication');
    expect(policy.invalidActions.find((i) => i.action === 's3:REST.PUT.OBJECT')!.reason).toBe('not an IAM action name (service:Action)');
    const granted = actionsOf(policy.documents);
    for (const action of invalid) expect(granted).not.toContain(action);
    expect(resourcesFor(policy, 'logs:CreateLogGroup')).toEqual([`arn:aws:logs:eu-west-1:${ACCOUNT}:log-group:/orders`, `arn:aws:logs:eu-west-1:${ACCOUNT}:log-group:/orders:*`]);
  });

  it('GIVEN any template WHEN inferred THEN no action is a wildcard and every * resource is explained', () => {
    const policy = infer({
      Resources: {
        Fn: { Type: 'AWS::Lambda::Function', Properties: { FunctionName: 'orders-fn', Role: 'arn:aws:iam::123456789012:role/r', Code: { ZipFile: 'x' } } },
        Table: { Type: 'AWS::DynamoDB::Table', Properties: { TableName: 'orders' } },
        Topic: { Type: 'AWS::SNS::Topic', Properties: { TopicName: 'orders-events' } },
      },
    });
    for (const { action } of grantsOf(policy.documents)) expect(action).toMatch(/^[a-z0-9-]+:[A-Za-z0-9]+$/);
    for (const { statement, wildcards } of policy.statements) {
      const resources = typeof statement.Resource === 'string' ? [statement.Resource] : statement.Resource;
      if (resources.some((r) => r.includes('*'))) expect(wildcards.length, `statement ${statement.Sid}`).toBeGreaterThan(0);
    }
    expect(resourcesFor(policy, 'dynamodb:CreateTable')).toEqual([`arn:aws:dynamodb:eu-west-1:${ACCOUNT}:table/orders`]);
    expect(resourcesFor(policy, 'sns:CreateTopic')).toEqual([`arn:aws:sns:eu-west-1:${ACCOUNT}:orders-events`]);
    expect(resourcesFor(policy, 'cloudformation:ValidateTemplate')).toEqual(['*']);
  });

  it('GIVEN the stack and a given deployment bucket WHEN inferred THEN CloudFormation is scoped to the stack and uploads to the bucket', () => {
    const policy = infer({ Resources: { Topic: { Type: 'AWS::SNS::Topic', Properties: { TopicName: 't' } } } }, { deploymentBucket: 'orders-deployments' });
    expect(resourcesFor(policy, 'cloudformation:CreateChangeSet')).toEqual([`arn:aws:cloudformation:eu-west-1:${ACCOUNT}:stack/orders-dev/*`]);
    expect(resourcesFor(policy, 'cloudformation:ValidateTemplate')).toEqual(['*']);
    expect(resourcesFor(policy, 's3:PutObject')).toEqual(['arn:aws:s3:::orders-deployments/*']);
    expect(resourcesFor(policy, 's3:ListBucket')).toEqual(['arn:aws:s3:::orders-deployments']);
  });

  it('GIVEN a custom resource backed by a function of the template WHEN inferred THEN the caller may invoke that function only', () => {
    const policy = infer({
      Resources: {
        Provider: { Type: 'AWS::Lambda::Function', Properties: { FunctionName: 'orders-seed', Role: 'arn:aws:iam::123456789012:role/r', Code: { ZipFile: 'x' } } },
        Seed: { Type: 'Custom::Seed', Properties: { ServiceToken: { 'Fn::GetAtt': ['Provider', 'Arn'] } } },
        Meta: { Type: 'AWS::CDK::Metadata', Properties: { Analytics: 'x' } },
      },
    });
    expect(resourcesFor(policy, 'lambda:InvokeFunction')).toEqual([`arn:aws:lambda:eu-west-1:${ACCOUNT}:function:orders-seed`]);
    expect(policy.unknownTypes).toEqual([]);
  });

  it('GIVEN a template with a Transform and parameters WHEN inferred THEN a warning says its generated resources are not seen, and parameter values name resources', () => {
    const template = {
      Transform: 'AWS::Serverless-2016-10-31',
      Parameters: { Stage: { Type: 'String', Default: 'dev' } },
      Resources: { Queue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: { 'Fn::Sub': 'orders-${Stage}' } } } },
    };
    expect(infer(template).warnings[0]).toMatch(/Transform AWS::Serverless-2016-10-31: the resources it generates are not in this template/);
    expect(resourcesFor(infer(template), 'sqs:CreateQueue')).toEqual([`arn:aws:sqs:eu-west-1:${ACCOUNT}:orders-dev`]);
    expect(resourcesFor(infer(template, { parameters: { Stage: 'prod' } }), 'sqs:CreateQueue')).toEqual([`arn:aws:sqs:eu-west-1:${ACCOUNT}:orders-prod`]);
  });

  it('GIVEN an API Gateway REST API WHEN inferred THEN its actions are scoped to the region\'s /restapis paths, explained', () => {
    const policy = infer({
      Resources: {
        Api: { Type: 'AWS::ApiGateway::RestApi', Properties: { Name: 'orders' } },
        Route: { Type: 'AWS::ApiGateway::Resource', Properties: { RestApiId: { Ref: 'Api' }, ParentId: { 'Fn::GetAtt': ['Api', 'RootResourceId'] }, PathPart: 'orders' } },
      },
    });
    expect(resourcesFor(policy, 'apigateway:POST')).toEqual(['arn:aws:apigateway:eu-west-1::/restapis', 'arn:aws:apigateway:eu-west-1::/restapis/*', 'arn:aws:apigateway:eu-west-1::/tags/*']);
    const statement = policy.statements.find((s) => (s.statement.Action as string[]).includes('apigateway:POST'))!;
    expect(statement.neededBy).toEqual(['Api (AWS::ApiGateway::RestApi)', 'Route (AWS::ApiGateway::Resource)']);
    expect(statement.wildcards[0]!.reason).toMatch(/API ids are generated by API Gateway/);
  });

  it('GIVEN a policy larger than the size limit WHEN inferred THEN it is split into documents that each fit, losing no grant', () => {
    const resources: Record<string, unknown> = {};
    for (let i = 0; i < 40; i++) resources[`Queue${i}`] = { Type: 'AWS::SQS::Queue', Properties: { QueueName: `orders-queue-number-${i}` } };
    const whole = infer({ Resources: resources });
    const split = infer({ Resources: resources }, { maxPolicySize: 2_048 });
    expect(whole.documents).toHaveLength(1);
    expect(split.documents.length).toBeGreaterThan(2);
    for (const document of split.documents) expect(policySize(document)).toBeLessThanOrEqual(2_048);
    expect(split.sizes.documents).toEqual(split.documents.map((d) => policySize(d)));
    expect(diffPolicies(whole.documents, split.documents)).toEqual({ added: [], removed: [] });
  });

  it('GIVEN a template whose policy would need more managed policies than a role may have WHEN inferred THEN names after the stack are cut to its prefix, and the reviewer is told', () => {
    const resources: Record<string, unknown> = {};
    for (let i = 0; i < 150; i++) {
      resources[`Fn${i}`] = { Type: 'AWS::Lambda::Function', Properties: { FunctionName: `orders-dev-function-number-${i}`, Role: 'arn:aws:iam::123456789012:role/r', Code: { ZipFile: 'x' } } };
      resources[`Logs${i}`] = { Type: 'AWS::Logs::LogGroup', Properties: { LogGroupName: `/aws/lambda/orders-dev-function-number-${i}` } };
    }
    const exact = infer({ Resources: resources }, { compact: 'never' });
    expect(exact.documents.length).toBeGreaterThan(10);
    expect(exact.warnings.join('\n')).toMatch(/the policy needs \d+ managed policies; a role may have 10/);

    const compacted = infer({ Resources: resources });
    expect(compacted.documents.length).toBeLessThanOrEqual(10);
    expect(resourcesFor(compacted, 'lambda:CreateFunction')).toEqual([`arn:aws:lambda:eu-west-1:${ACCOUNT}:function:orders-dev*`]);
    expect(resourcesFor(compacted, 'logs:CreateLogGroup')).toEqual([`arn:aws:logs:eu-west-1:${ACCOUNT}:log-group:/aws/lambda/orders-dev*`]);
    expect(resourcesFor(compacted, 'cloudformation:UpdateStack')).toEqual([`arn:aws:cloudformation:eu-west-1:${ACCOUNT}:stack/orders-dev/*`]);
    expect(compacted.warnings.join('\n')).toMatch(/resources named after the stack were allowed by the stack-name prefix instead/);
    expect(compacted.warnings).toContainEqual(expect.stringMatching(/^broader than the template's own resources: .*lambda:CreateFunction.* on arn:aws:lambda:eu-west-1:123456789012:function:orders-dev\*: the resources named after the stack/));
  });

  it('GIVEN an old and a new template WHEN their policies are compared THEN the new queue\'s permissions are the growth', () => {
    const before = { Resources: { Topic: { Type: 'AWS::SNS::Topic', Properties: { TopicName: 'orders-events' } } } };
    const after = { Resources: { ...before.Resources, Jobs: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'orders-jobs' } } } };
    const diff = diffPolicies(infer(before).documents, infer(after).documents);
    expect(diff.removed).toEqual([]);
    expect(new Set(diff.added.map((g) => g.resource))).toEqual(new Set([`arn:aws:sqs:eu-west-1:${ACCOUNT}:orders-jobs`]));
    expect(diff.added.map((g) => g.action)).toContain('sqs:CreateQueue');
  });

  it('GIVEN a CDK-synthesized template (fixture) WHEN inferred THEN generated names are stack patterns, code is read from the assets bucket, and IAM is never widened', () => {
    // fixtures/cdk-orders-stack.template.json: aws-cdk-lib synth of stack OrdersStack (123456789012, eu-west-1):
    // an SQS queue, a DynamoDB table, a function from an asset with the queue as event source and read/write on the table.
    const template = JSON.parse(readFileSync(path.join(import.meta.dirname, 'fixtures', 'cdk-orders-stack.template.json'), 'utf8'));
    const policy = infer(template, { stackName: 'OrdersStack' });
    expect(resourcesFor(policy, 'lambda:CreateFunction')).toEqual([`arn:aws:lambda:eu-west-1:${ACCOUNT}:function:OrdersStack-Handler886CB40B-*`]);
    expect(resourcesFor(policy, 'iam:PassRole')).toEqual([`arn:aws:iam::${ACCOUNT}:role/OrdersStack-HandlerServiceRoleFCDC14AE-*`]);
    expect(resourcesFor(policy, 'iam:PutRolePolicy')).toEqual([`arn:aws:iam::${ACCOUNT}:role/OrdersStack-HandlerServiceRoleFCDC14AE-*`]);
    expect(resourcesFor(policy, 's3:GetObject')).toEqual(['arn:aws:s3:::cdk-hnb659fds-assets-123456789012-eu-west-1/*']);
    expect(resourcesFor(policy, 'dynamodb:CreateTable')).toEqual([`arn:aws:dynamodb:eu-west-1:${ACCOUNT}:table/OrdersStack-OrdersA9B65338-*`]);
    const iamGrants = grantsOf(policy.documents).filter((g) => g.action.startsWith('iam:'));
    for (const grant of iamGrants) expect(grant.resource).toMatch(/:role\/(OrdersStack-HandlerServiceRoleFCDC14AE-\*|aws-service-role\/\*)$/);
    // The inline policy names no user or group: what its schema lists for them is not granted, and listed as such.
    expect(policy.omitted.filter((o) => /User|Group/.test(o.action)).map((o) => [o.action, o.reason])).toContainEqual(['iam:PutUserPolicy', 'no property of the resource names a user']);
  });

  it('GIVEN something that is not a template WHEN inferred THEN an InputError names the template', () => {
    expect(() => infer({ Resources: 'none' }, { templateName: 'broken.json' })).toThrow(InputError);
    expect(() => infer('text', { templateName: 'broken.json' })).toThrow(/broken.json is not a CloudFormation template/);
  });
});
