import { Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/model/errors.js';
import type { ServiceConfig } from '../../src/model/config.js';
import { appOf, config, resourceCount, service } from './helpers.js';

function app(services: ServiceConfig[], extra: Parameters<typeof config>[1] = {}) {
  return appOf(config(services, extra));
}

/** Every resource the CICD account holds: the shared stack and the pipelines stacks. */
function cicdResources(built: ReturnType<typeof app>): number {
  return [built.cicd.sharedStack, ...built.cicd.pipelineStacks].map(resourceCount).reduce((a, b) => a + b, 0);
}

describe('ServiceCicdPipelines', () => {
  it('GIVEN one and then two services WHEN synthesized THEN the second service costs 12 resources in the CICD account, pull-request validation included', () => {
    const one = cicdResources(app([service('orders')]));
    const two = cicdResources(app([service('orders'), service('payments')]));
    // Pipeline, its role, the lint/test role (reads the source), the package role, a deploy role
    // and an acceptance-test role per environment (3 + 3), the pull-request build and its own
    // role (third-party code shares no role).
    expect(two - one).toBe(12);
  });

  it('GIVEN two services whose names agree in their first 20 characters WHEN synthesized THEN it is refused, since CodePipeline would key their artifacts alike', () => {
    expect(() => app([service('customer-notifications'), service('customer-notifications-v2')])).toThrow(
      /services "customer-notifications" and "customer-notifications-v2" would share artifacts in AWS/,
    );
  });

  it('GIVEN two services WHEN synthesized THEN they share one artifact bucket, one key, one topic and one failed-execution rule', () => {
    const built = app([service('orders'), service('payments')]);
    const shared = Template.fromStack(built.cicd.sharedStack);
    shared.resourceCountIs('AWS::SNS::Topic', 1);
    shared.resourceCountIs('AWS::KMS::Key', 2);
    const pipelines = Template.fromStack(built.cicd.pipelineStacks[0]!);
    pipelines.resourceCountIs('AWS::CodePipeline::Pipeline', 2);
    pipelines.resourceCountIs('AWS::S3::Bucket', 0);
    pipelines.resourceCountIs('AWS::Events::Rule', 1);
    pipelines.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.codepipeline'], 'detail-type': ['CodePipeline Pipeline Execution State Change'], detail: { state: ['FAILED'], pipeline: ['orders', 'payments'] } },
      Targets: [Match.objectLike({ Id: 'AlertsTopic', InputTransformer: Match.objectLike({ InputTemplate: Match.stringLikeRegexp('Pipeline <pipeline> failed') }) })],
    });
  });

  it('GIVEN the shared artifact store WHEN synthesized THEN the bucket is KMS-encrypted, TLS-only, private, logged, and expires old artifacts', () => {
    const shared = Template.fromStack(app([service('orders')]).cicd.sharedStack);
    shared.hasResourceProperties('AWS::S3::Bucket', {
      BucketName: 'service-pipelines-artifacts-111111111111-us-east-1',
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: Match.anyValue() }, BucketKeyEnabled: true }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'artifacts/' }),
      LifecycleConfiguration: { Rules: [Match.objectLike({ Id: 'ExpireOldArtifacts', ExpirationInDays: 90, Status: 'Enabled' })] },
    });
    shared.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    shared.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true, Description: 'Encrypts the artifacts of the service pipelines' });
  });

  it('GIVEN e-mail, Slack and a webhook WHEN synthesized THEN the KMS-encrypted topic mails, Chatbot posts to the channel, and failures and approvals reach the webhook as Slack JSON', () => {
    const built = app([service('orders')], {
      notifications: { email: ['team@example.com'], slack: { workspaceId: 'T0123ABCD', channelId: 'C0123ABCDEF' }, webhook: { secret: 'pipelines/alerts-webhook' } },
    });
    const shared = Template.fromStack(built.cicd.sharedStack);
    shared.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    shared.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'team@example.com' });
    shared.hasResourceProperties('AWS::Chatbot::SlackChannelConfiguration', {
      SlackWorkspaceId: 'T0123ABCD',
      SlackChannelId: 'C0123ABCDEF',
      SnsTopicArns: [Match.anyValue()],
      GuardrailPolicies: [Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith([':iam::aws:policy/AWSDenyAll'])]) })],
    });
    // The URL is a credential: CloudFormation resolves it from the secret; no template holds it.
    shared.hasResourceProperties('AWS::Events::ApiDestination', { InvocationEndpoint: '{{resolve:secretsmanager:pipelines/alerts-webhook:SecretString:::}}', HttpMethod: 'POST' });
    const rules = Template.fromStack(built.cicd.pipelineStacks[0]!);
    rules.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({ detail: { state: ['FAILED'], pipeline: ['orders'] } }),
      Targets: Match.arrayWith([Match.objectLike({ Id: 'Webhook', InputTransformer: Match.objectLike({ InputTemplate: Match.stringLikeRegexp('^\\{"text": ') }) })]),
    });
    rules.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({ 'detail-type': ['CodePipeline Action Execution State Change'], detail: { state: ['STARTED'], type: { category: ['Approval'] }, pipeline: ['orders'] } }),
    });
  });

  it('GIVEN a webhook on this machine (local runs) WHEN built for AWS THEN an InputError says EventBridge cannot reach it and to use a secret', () => {
    expect(() => app([service('orders')], { notifications: { webhook: 'http://127.0.0.1:9000/hook' } })).toThrow(InputError);
    expect(() => app([service('orders')], { notifications: { webhook: 'http://127.0.0.1:9000/hook' } })).toThrow(/notifications\.webhook: .*give \{ secret: "<name>" \}/);
  });

  it('GIVEN the target accounts WHEN synthesized THEN each holds a stack of deployer roles assumable only by the matching deploy action role', () => {
    const built = app([service('orders')]);
    expect(built.cicd.deployerStacks.map((s) => `${s.stackName}@${s.account}`)).toEqual([
      'service-pipelines-deployers-222222222222-1@222222222222',
      'service-pipelines-deployers-333333333333-1@333333333333',
      'service-pipelines-deployers-444444444444-1@444444444444',
    ]);
    Template.fromStack(built.cicd.deployerStacks[2]!).hasResourceProperties('AWS::IAM::Role', {
      RoleName: 'orders-prod-deployer',
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: { AWS: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith([':iam::111111111111:root'])]) }) },
            Condition: { ArnEquals: { 'aws:PrincipalArn': 'arn:aws:iam::111111111111:role/orders-prod-deploy-action' } },
          }),
        ],
      },
    });
  });

  it('GIVEN deployPermissions to infer and no inferred policy WHEN built THEN an InputError points at the infer key', () => {
    expect(() => app([service('orders', { deployPermissions: { infer: './orders/.serverless' } })])).toThrow(InputError);
    expect(() => app([service('orders', { deployPermissions: { infer: './orders/.serverless' } })])).toThrow(/services\[0\]\.deployPermissions\.infer/);
  });

  it('GIVEN selfUpdate WHEN synthesized THEN a CDK Pipelines pipeline tests and synthesizes the repository, then deploys the pipelines and deployer stacks', () => {
    const built = app([service('orders')], {
      selfUpdate: { github: { owner: 'example-org', repo: 'pipelines', connectionArn: 'arn:aws:codeconnections:us-east-1:111111111111:connection/abc' } },
    });
    expect(built.selfUpdate).toBeDefined();
    const assembly = built.app.synth();
    const selfUpdate = assembly.getStackByName('service-pipelines-self-update');
    const template = Template.fromJSON(selfUpdate.template as Record<string, unknown>);
    template.hasResourceProperties('AWS::CodePipeline::Pipeline', Match.objectLike({ Name: 'service-pipelines-self-update', PipelineType: 'V2' }));
    const buildspecs = JSON.stringify(template.findResources('AWS::CodeBuild::Project'));
    expect(buildspecs).toContain('npm test --if-present');
    // The repository's own service-pipelines, installed by npm ci from its lockfile: npx never fetches it by name.
    expect(buildspecs).toContain('npx --no-install service-pipelines synth --config pipelines.config.ts --out cdk.out');
    expect(buildspecs).not.toMatch(/npx service-pipelines/);
    const stages = (Object.values(template.findResources('AWS::CodePipeline::Pipeline'))[0]!.Properties.Stages as { Name: string }[]).map((s) => s.Name);
    expect(stages).toEqual(['Source', 'Build', 'UpdatePipeline', 'Assets', 'Cicd'].filter((s) => stages.includes(s)));
    expect(stages).toContain('Cicd');
    const deployed = JSON.stringify(Object.values(template.findResources('AWS::CodePipeline::Pipeline'))[0]!.Properties.Stages);
    for (const stack of ['service-pipelines-shared', 'service-pipelines-pipelines-1', 'service-pipelines-deployers-444444444444-1']) expect(deployed).toContain(stack);
  });

  it('GIVEN a full config WHEN checked with the cdk-nag AwsSolutions pack THEN there is no unacknowledged finding', () => {
    const built = appOf(
      config(
        [
          service('orders'),
          service('payments', {
            deployPermissions: [{ Sid: 'Tables', Effect: 'Allow', Action: ['dynamodb:CreateTable'], Resource: 'arn:aws:dynamodb:*:*:table/payments-*' }],
            acknowledgeWildcards: { Tables: 'The tables of this service, payments-<stage>-<table>, in the regions it deploys to.' },
          }),
        ],
        {
        notifications: { email: ['team@example.com'], slack: { workspaceId: 'T0123ABCD', channelId: 'C0123ABCDEF' }, webhook: { secret: 'pipelines/alerts-webhook', jsonKey: 'url' } },
        selfUpdate: { github: { owner: 'example-org', repo: 'pipelines', connectionArn: 'arn:aws:codeconnections:us-east-1:111111111111:connection/abc' } },
      }),
    );
    Validations.of(built.app).addPlugins(new AwsSolutionsChecks(built.app));
    expect(() => built.app.synth()).not.toThrow();
  });

  it('GIVEN three hundred services WHEN synthesized THEN the pipelines and deployer roles are split over stacks that each stay within 400 resources and 1 MB', () => {
    const services = Array.from({ length: 300 }, (_, i) => service(`service-${String(i).padStart(3, '0')}`));
    const built = app(services);
    const assembly = built.app.synth();
    const pipelineStacks = assembly.stacks.filter((s) => s.stackName.includes('-pipelines-'));
    expect(pipelineStacks.length).toBeGreaterThan(1);
    let pipelines = 0;
    for (const stack of assembly.stacks) {
      const template = stack.template as { Resources: Record<string, { Type: string }> };
      expect(Object.keys(template.Resources).length).toBeLessThanOrEqual(400);
      // As written to disk (and uploaded): CDK indents templates with one space.
      expect(JSON.stringify(stack.template, undefined, 1).length).toBeLessThan(1_000_000);
      pipelines += Object.values(template.Resources).filter((r) => r.Type === 'AWS::CodePipeline::Pipeline').length;
    }
    expect(pipelines).toBe(300);
    // Three deployer roles and three invoker roles per service, in stacks of their target accounts.
    expect(built.cicd.deployerRoles).toHaveLength(900);
    expect(built.cicd.invokerRoles).toHaveLength(900);
    expect(assembly.stacks.filter((s) => s.stackName.startsWith('service-pipelines-deployers-444444444444-')).length).toBeGreaterThan(1);
    // In config order: the first stack holds the first services.
    expect(built.cicd.pipelines[0]!.node.scope).toBe(built.cicd.pipelineStacks[0]);
  }, 180_000);
});
