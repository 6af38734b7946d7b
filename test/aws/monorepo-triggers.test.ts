/**
 * The AWS engine and the services of one repository: it takes `source.triggerPaths` and
 * `source.directory` from the plan, as any plan (a file written by hand or by a tool), and refuses
 * what CodePipeline would refuse or could not honour.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ServicePipeline } from '../../src/aws/service-pipeline.js';
import { ToolDistribution } from '../../src/aws/tool-distribution.js';
import { InputError } from '../../src/model/errors.js';
import { buildPipelinePlan } from '../../src/model/plan.js';
import type { PipelinePlan } from '../../src/model/plan-schema.js';
import { cicdStack, config, service, testTool } from './helpers.js';

const shared = { artifactBucketName: 'artifacts-bucket', artifactBucketArn: 'arn:aws:s3:::artifacts-bucket', artifactKeyArn: 'arn:aws:kms:us-east-1:111111111111:key/artifacts' };

function pushPlan(source: Partial<PipelinePlan['source']>): PipelinePlan {
  const plan = buildPipelinePlan(config([service('orders')]), 'orders', 'push');
  return { ...plan, source: { ...plan.source, ...source } };
}

function build(plan: PipelinePlan): Template {
  const stack = cicdStack();
  const tool = new ToolDistribution(stack, 'Tool', { source: testTool() });
  new ServicePipeline(stack, 'Service', { plan, shared, tool });
  return Template.fromStack(stack);
}

function refusal(plan: PipelinePlan): InputError {
  try {
    build(plan);
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return error as InputError;
  }
  throw new Error('expected the plan to be refused');
}

describe('ServicePipeline: trigger file paths from the plan', () => {
  it('GIVEN a plan with trigger paths WHEN built THEN the push trigger filters its branch by them', () => {
    const template = build(pushPlan({ directory: 'services/orders', triggerPaths: ['services/orders/**', 'libs/money/**'] }));

    template.hasResourceProperties('AWS::CodePipeline::Pipeline', {
      Triggers: [{ ProviderType: 'CodeStarSourceConnection', GitConfiguration: { SourceActionName: 'Source', Push: [{ Branches: { Includes: ['main'] }, FilePaths: { Includes: ['services/orders/**', 'libs/money/**'] } }] } }],
    });
  });

  it('GIVEN a plan of a repository of its own WHEN built THEN the trigger has no file paths: any push starts it', () => {
    const template = build(pushPlan({}));

    template.hasResourceProperties('AWS::CodePipeline::Pipeline', { Triggers: [{ ProviderType: 'CodeStarSourceConnection', GitConfiguration: { SourceActionName: 'Source', Push: [{ Branches: { Includes: ['main'] } }] } }] });
  });

  it('GIVEN a plan written by hand with 9 trigger paths, and one of 256 characters WHEN built THEN it is refused, naming the plan\'s field and the limits', () => {
    const nine = refusal(pushPlan({ directory: 'services/orders', triggerPaths: Array.from({ length: 9 }, (_, i) => `libs/lib${i}/**`) }));
    const long = refusal(pushPlan({ directory: 'services/orders', triggerPaths: [`${'a'.repeat(253)}/**`] }));

    expect(nine.problems).toContainEqual({ where: 'services.orders.source.triggerPaths', message: '9 file path patterns; a CodePipeline push trigger takes at most 8' });
    expect(long.problems).toContainEqual({ where: 'services.orders.source.triggerPaths', message: `"${'a'.repeat(40)}..." is 256 characters; CodePipeline takes file path patterns of at most 255` });
  });

  it('GIVEN a service in a folder of its repository with the OAuth-token source WHEN built THEN it is refused: that source starts on every push', () => {
    const plan = pushPlan({ directory: 'services/orders', triggerPaths: ['services/orders/**'], github: { owner: 'example-org', repo: 'shop', githubTokenSecret: 'github-token' } });

    expect(refusal(plan).problems).toContainEqual({
      where: 'services.orders.source.github.githubTokenSecret',
      message:
        'the OAuth-token source starts the pipeline on every push to the repository, whatever it changes; a service in a folder of it (source.directory services/orders) needs a CodeConnections source (connectionArn), whose trigger filters by file path',
    });
  });
});
