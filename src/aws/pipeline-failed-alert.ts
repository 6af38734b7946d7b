import * as events from 'aws-cdk-lib/aws-events';
import { Construct } from 'constructs';
import type { AlertTargets } from './alerts-topic.js';

/** Properties of a `PipelineFailedAlert`. */
export interface PipelineFailedAlertProps {
  /** The names of the pipelines to watch. At least one. */
  readonly pipelineNames: readonly string[];
  /** Where alerts go. */
  readonly targets: AlertTargets;
  /**
   * Also post "approval waiting" to the webhook (the topic gets approvals from the approval
   * action itself, through its notification ARN).
   *
   * @default true
   */
  readonly approvalsToWebhook?: boolean;
}

/** EventBridge caps an event pattern at 4096 characters; leave room for the rest of the pattern. */
const MAX_NAMES_LENGTH = 3500;

/**
 * Alerts when an execution of one of the given pipelines fails (the article's `PipelineFailedAlert`),
 * and posts approvals waiting to the webhook.
 *
 * One rule serves many pipelines, instead of one notification rule per pipeline: the pipelines'
 * names are listed in the rule's pattern, split over as many rules as the pattern size needs.
 */
export class PipelineFailedAlert extends Construct {
  /** The rules, one per group of pipelines whose names fit in a pattern. */
  readonly rules: events.CfnRule[] = [];

  constructor(scope: Construct, id: string, props: PipelineFailedAlertProps) {
    super(scope, id);
    if (props.pipelineNames.length === 0) {
      throw new Error(`PipelineFailedAlert ${this.node.path}: give at least one pipeline name`);
    }
    groupByLength(props.pipelineNames, MAX_NAMES_LENGTH).forEach((names, index) => {
      const suffix = index === 0 ? '' : `${index + 1}`;
      this.rules.push(
        new events.CfnRule(this, `Failed${suffix}`, {
          description: `Alerts when an execution of ${describe(names)} fails`,
          eventPattern: {
            source: ['aws.codepipeline'],
            'detail-type': ['CodePipeline Pipeline Execution State Change'],
            detail: { state: ['FAILED'], pipeline: names },
          },
          targets: failedTargets(props.targets),
        }),
      );
      if (props.targets.webhook && (props.approvalsToWebhook ?? true)) {
        this.rules.push(
          new events.CfnRule(this, `ApprovalWaiting${suffix}`, {
            description: `Posts approvals waiting in ${describe(names)} to the webhook`,
            eventPattern: {
              source: ['aws.codepipeline'],
              'detail-type': ['CodePipeline Action Execution State Change'],
              detail: { state: ['STARTED'], type: { category: ['Approval'] }, pipeline: names },
            },
            targets: [
              {
                id: 'Webhook',
                arn: props.targets.webhook.destinationArn,
                roleArn: props.targets.webhook.roleArn,
                inputTransformer: {
                  inputPathsMap: { pipeline: '$.detail.pipeline', stage: '$.detail.stage', region: '$.region' },
                  inputTemplate: '{"text": "Approval waiting: <pipeline>, stage <stage> (<region>)"}',
                },
              },
            ],
          }),
        );
      }
    });
  }
}

const failedPaths = { pipeline: '$.detail.pipeline', execution: '$.detail.execution-id', region: '$.region', account: '$.account' };

function failedTargets(targets: AlertTargets): events.CfnRule.TargetProperty[] {
  const list: events.CfnRule.TargetProperty[] = [
    {
      id: 'AlertsTopic',
      arn: targets.topicArn,
      inputTransformer: {
        inputPathsMap: failedPaths,
        inputTemplate: '"Pipeline <pipeline> failed (execution <execution>, account <account>, <region>)."',
      },
    },
  ];
  if (targets.webhook) {
    list.push({
      id: 'Webhook',
      arn: targets.webhook.destinationArn,
      roleArn: targets.webhook.roleArn,
      // A Slack-compatible message: incoming webhooks take {"text": "..."}.
      inputTransformer: {
        inputPathsMap: failedPaths,
        inputTemplate: '{"text": ":red_circle: Pipeline <pipeline> failed (execution <execution>, account <account>, <region>)"}',
      },
    });
  }
  return list;
}

function describe(names: readonly string[]): string {
  const text = names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more pipelines`;
  return text.slice(0, 500);
}

/** Split names in order into groups whose JSON-quoted lengths add up to at most `max`. */
export function groupByLength(names: readonly string[], max: number): string[][] {
  const groups: string[][] = [];
  let current: string[] = [];
  let length = 0;
  for (const name of names) {
    const cost = name.length + 3;
    if (current.length > 0 && length + cost > max) {
      groups.push(current);
      current = [];
      length = 0;
    }
    current.push(name);
    length += cost;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}
