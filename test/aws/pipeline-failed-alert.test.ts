import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { groupByLength, PipelineFailedAlert } from '../../src/aws/pipeline-failed-alert.js';
import { cicdStack } from './helpers.js';

const targets = { topicArn: 'arn:aws:sns:us-east-1:111111111111:alerts' };

describe('PipelineFailedAlert', () => {
  it('GIVEN more pipelines than one event pattern holds WHEN synthesized THEN they are split over rules, each pattern under 4096 characters, none left out', () => {
    const names = Array.from({ length: 300 }, (_, i) => `a-rather-long-service-name-${String(i).padStart(3, '0')}`);
    const stack = cicdStack();
    new PipelineFailedAlert(stack, 'Alert', { pipelineNames: names, targets });
    const rules = Object.values(Template.fromStack(stack).findResources('AWS::Events::Rule'));
    expect(rules.length).toBeGreaterThan(1);
    const watched = rules.flatMap((r) => {
      expect(JSON.stringify(r.Properties.EventPattern).length).toBeLessThan(4096);
      return (r.Properties.EventPattern as { detail: { pipeline: string[] } }).detail.pipeline;
    });
    expect(watched).toEqual(names);
  });

  it('GIVEN no webhook WHEN synthesized THEN only failed executions are watched, and only the topic is targeted', () => {
    const stack = cicdStack();
    new PipelineFailedAlert(stack, 'Alert', { pipelineNames: ['orders'], targets });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::Events::Rule', 1);
    template.hasResourceProperties('AWS::Events::Rule', { Targets: [{ Id: 'AlertsTopic', Arn: targets.topicArn, InputTransformer: { InputPathsMap: { pipeline: '$.detail.pipeline', execution: '$.detail.execution-id', region: '$.region', account: '$.account' }, InputTemplate: '"Pipeline <pipeline> failed (execution <execution>, account <account>, <region>)."' } }] });
  });

  it('GIVEN names WHEN grouped by length THEN order is kept and a name longer than the limit still gets a group of its own', () => {
    // Each name costs its length and 3 (quotes and comma).
    expect(groupByLength(['aaaa', 'bb', 'cccccccccc', 'd'], 12)).toEqual([['aaaa', 'bb'], ['cccccccccc'], ['d']]);
  });
});
