import { App, CfnResource, Stack, type Environment } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { ValidConfig } from '../model/validate.js';
import { InputError } from '../model/errors.js';
import type { PipelinePlan, PlansDocument } from '../model/plan-schema.js';
import { buildPlans, partitionOf } from '../model/plan.js';
import { AlertsTopic, type WebhookSecret } from './alerts-topic.js';
import { CrossAccountDeploymentRole } from './cross-account-deployment-role.js';
import type { PolicyDocumentJson } from './deploy-permissions.js';
import { artifactBucketName, artifactKeyPrefix, checkPrefix, DEFAULT_PREFIX } from './names.js';
import { PipelineArtifactStore } from './pipeline-artifact-store.js';
import { PipelineFailedAlert } from './pipeline-failed-alert.js';
import { ServicePipeline } from './service-pipeline.js';

/** Properties of `ServiceCicdPipelines`. */
export interface ServiceCicdPipelinesProps {
  /** The validated configuration (`validateConfig` or `loadConfig`). */
  readonly config: ValidConfig;
  /**
   * The plans to build the pipelines from.
   *
   * @default - `buildPlans(config)`
   */
  readonly plans?: PlansDocument;
  /**
   * The prefix of every stack name.
   *
   * @default 'service-pipelines'
   */
  readonly prefix?: string;
  /**
   * Inferred deploy policies, by `<service>/<environment>`, for services with
   * `deployPermissions: { infer }` (see `resolveDeployPolicies`).
   *
   * @default - none: a service with `infer` is an error
   */
  readonly deployPolicies?: ReadonlyMap<string, readonly PolicyDocumentJson[]>;
  /**
   * How many services share a pipelines stack. Services are assigned in config order, so
   * appending services never moves an existing pipeline to another stack; give a number to pin
   * the grouping (a pipeline that moves to another stack must be removed from the first before
   * the second can create it under the same name).
   *
   * @default - as many as fit in 400 resources and 700 KB of template (CloudFormation allows 500 and 1 MB)
   */
  readonly servicesPerStack?: number;
  /**
   * The version of service-pipelines the actions install.
   *
   * @default - the version that synthesizes the app
   */
  readonly toolVersion?: string;
  /**
   * Days pipeline artifacts are kept.
   *
   * @default 90
   */
  readonly artifactRetentionDays?: number;
}

/** The resource budget of one stack, below CloudFormation's 500 to leave room for alerts and growth. */
const STACK_RESOURCE_BUDGET = 400;
/**
 * The template budget of one pipelines stack, in bytes as written (CDK indents templates, and
 * the file is what is uploaded): well below CloudFormation's 1 MB, so that a service that grows
 * a little does not move the pipelines after it to another stack.
 */
const STACK_BYTES_BUDGET = 700_000;

/**
 * Every pipeline of a config, with what they share, over as many stacks as CloudFormation's
 * limits need (the article's `ServiceCicdPipelines`, which held them all in one stack and stopped
 * at about 20 services).
 *
 * - `<prefix>-shared` (CICD account): the artifact bucket and key, the alerts topic with its
 *   e-mail, Slack and webhook deliveries.
 * - `<prefix>-pipelines-<n>` (CICD account): the services' pipelines, pull-request builds and
 *   action roles, and one failed-execution alert for the stack's pipelines.
 * - `<prefix>-deployers-<account>-<n>` (each target account): the services' deployer roles.
 */
export class ServiceCicdPipelines extends Construct {
  /** The stack of the shared resources. */
  readonly sharedStack: Stack;
  /** The shared artifact bucket and key. */
  readonly artifactStore: PipelineArtifactStore;
  /** The shared alerts topic. */
  readonly alerts: AlertsTopic;
  /** The stacks holding the pipelines. */
  readonly pipelineStacks: Stack[] = [];
  /** One pipeline per service, in config order. */
  readonly pipelines: ServicePipeline[] = [];
  /** The failed-execution alerts, one per pipelines stack. */
  readonly failedAlerts: PipelineFailedAlert[] = [];
  /** The stacks holding the deployer roles, in the target accounts. */
  readonly deployerStacks: Stack[] = [];
  /** The deployer roles, one per service and environment. */
  readonly deployerRoles: CrossAccountDeploymentRole[] = [];
  /** The stack-name prefix. */
  readonly prefix: string;

  constructor(scope: Construct, id: string, props: ServiceCicdPipelinesProps) {
    super(scope, id);
    const { config } = props;
    this.prefix = props.prefix ?? DEFAULT_PREFIX;
    checkPrefix(this.prefix);
    const plans = props.plans ?? buildPlans(config);
    const cicdEnv: Environment = { account: config.cicd.account, region: config.cicd.region };

    this.sharedStack = new Stack(this, 'Shared', {
      stackName: `${this.prefix}-shared`,
      env: cicdEnv,
      description: 'service-pipelines: the artifact store and alerts shared by every service pipeline',
    });
    const bucketName = artifactBucketName(this.prefix, config.cicd.account, config.cicd.region);
    this.artifactStore = new PipelineArtifactStore(this.sharedStack, 'Artifacts', {
      bucketName,
      ...(props.artifactRetentionDays === undefined ? {} : { artifactRetentionDays: props.artifactRetentionDays }),
    });
    const notifications = config.notifications;
    this.alerts = new AlertsTopic(this.sharedStack, 'Alerts', {
      emails: notifications?.email ?? [],
      ...(notifications?.slack ? { slack: notifications.slack } : {}),
      ...(notifications?.webhook ? { webhook: awsWebhook(notifications.webhook) } : {}),
      chatbotConfigurationName: `${this.prefix}-alerts`,
    });

    const services = servicePlans(plans);
    const shared = {
      artifactBucketName: bucketName,
      artifactBucketArn: `arn:${partitionOf(config.cicd.region)}:s3:::${bucketName}`,
      artifactKeyArn: this.artifactStore.key.keyArn,
      alertsTopicArn: this.alerts.topic.topicArn,
      alertsKeyArn: this.alerts.key.keyArn,
    };
    const pipelineProps = (service: ServicePlans) => ({
      plan: service.push,
      ...(service.pullRequest ? { pullRequestPlan: service.pullRequest } : {}),
      shared,
      ...(props.toolVersion ? { toolVersion: props.toolVersion } : {}),
    });
    let groups: ServicePlans[][];
    if (props.servicesPerStack !== undefined) {
      if (!Number.isInteger(props.servicesPerStack) || props.servicesPerStack < 1) {
        throw new Error(`ServiceCicdPipelines ${this.node.path}: servicesPerStack must be a whole number ≥ 1, got ${props.servicesPerStack}`);
      }
      groups = chunk(services, props.servicesPerStack);
    } else {
      groups = packByBudget(services, cicdEnv, (scope, id, service) => new ServicePipeline(scope, id, pipelineProps(service)));
    }
    groups.forEach((group, index) => {
      const n = index + 1;
      const stack = new Stack(this, `Pipelines${n}`, {
        stackName: `${this.prefix}-pipelines-${n}`,
        env: cicdEnv,
        description: `service-pipelines: pipelines of ${group.map((s) => s.push.service).join(', ')}`.slice(0, 1024),
      });
      stack.addStackDependency(this.sharedStack);
      this.pipelineStacks.push(stack);
      for (const service of group) {
        this.pipelines.push(new ServicePipeline(stack, service.push.service, pipelineProps(service)));
      }
      this.failedAlerts.push(
        new PipelineFailedAlert(stack, 'PipelineFailedAlert', { pipelineNames: group.map((s) => s.push.pipelineName), targets: this.alerts.targets }),
      );
    });

    this.buildDeployerStacks(config, services, props.deployPolicies ?? new Map());
  }

  /** The pipeline of a service. */
  pipelineOf(service: string): ServicePipeline {
    const pipeline = this.pipelines.find((p) => p.pipelineName === service);
    if (!pipeline) {
      throw new Error(`ServiceCicdPipelines: no pipeline for "${service}"; there are ${this.pipelines.map((p) => p.pipelineName).join(', ')}`);
    }
    return pipeline;
  }

  /** The article's name for the shared alerts topic. */
  get alertsTopic() {
    return this.alerts.topic;
  }

  private buildDeployerStacks(config: ValidConfig, services: ServicePlans[], deployPolicies: ReadonlyMap<string, readonly PolicyDocumentJson[]>): void {
    // One group of stacks per target account: IAM is global, so the region is that of the
    // account's first environment.
    const accounts = new Map<string, { region: string; roles: { service: string; serverlessService: string; environment: string; region: string; serviceIndex: number }[] }>();
    for (const { push } of services) {
      const serviceIndex = config.services.findIndex((s) => s.name === push.service);
      for (const environment of push.environments) {
        const entry = accounts.get(environment.account) ?? { region: environment.region, roles: [] };
        entry.roles.push({ service: push.service, serverlessService: push.serverlessService, environment: environment.name, region: environment.region, serviceIndex });
        accounts.set(environment.account, entry);
      }
    }
    for (const [account, { region, roles }] of accounts) {
      const sized = roles.map((role) => {
        const permissions = config.services[role.serviceIndex]?.deployPermissions;
        const documents = permissions !== undefined && !Array.isArray(permissions) ? deployPolicies.get(`${role.service}/${role.environment}`) : undefined;
        if (permissions !== undefined && !Array.isArray(permissions) && documents === undefined) {
          throw new InputError(`the deploy permissions of ${role.service} in ${role.environment} are to be inferred, and were not`, [
            {
              where: `services[${role.serviceIndex}].deployPermissions.infer`,
              message: 'give synth the CloudFormation schemas (--schemas DIR|ZIP) so that the policy can be inferred, or list the statements',
            },
          ]);
        }
        const acknowledgeWildcards = config.services[role.serviceIndex]?.acknowledgeWildcards;
        return { ...role, permissions, documents, acknowledgeWildcards, serverlessService: role.serverlessService };
      });
      const roleProps = (role: (typeof sized)[number]) => ({
        serviceName: role.service,
        targetStageName: role.environment,
        deployingAccountId: config.cicd.account,
        targetRegion: role.region,
        serverlessService: role.serverlessService,
        ...(Array.isArray(role.permissions) ? { deployPermissions: role.permissions } : {}),
        ...(role.documents ? { policyDocuments: role.documents, lastDocumentIsExtra: !Array.isArray(role.permissions) && (role.permissions?.extra?.length ?? 0) > 0 } : {}),
        ...(role.acknowledgeWildcards ? { acknowledgeWildcards: role.acknowledgeWildcards } : {}),
        where: `services[${role.serviceIndex}].deployPermissions`,
        acknowledgementsWhere: `services[${role.serviceIndex}].acknowledgeWildcards`,
      });
      const groups = packByBudget(sized, { account, region }, (scope, id, role) => new CrossAccountDeploymentRole(scope, id, roleProps(role)));
      groups.forEach((group, index) => {
        const n = index + 1;
        const stack = new Stack(this, `Deployers${account}n${n}`, {
          stackName: `${this.prefix}-deployers-${account}-${n}`,
          env: { account, region },
          description: `service-pipelines: deployer roles of the services, assumable from the CICD account ${config.cicd.account} by their deploy actions only`,
        });
        this.deployerStacks.push(stack);
        for (const role of group) {
          this.deployerRoles.push(new CrossAccountDeploymentRole(stack, `${role.service}-${role.environment}`, roleProps(role)));
        }
      });
    }
  }
}

/**
 * The webhook of the AWS alerts: a secret. A URL written in the config names this machine (the
 * config allows no other), which EventBridge can neither reach nor call over http.
 */
function awsWebhook(webhook: NonNullable<NonNullable<ValidConfig['notifications']>['webhook']>): WebhookSecret {
  if (typeof webhook === 'string') {
    throw new InputError('the webhook cannot be reached from AWS', [
      {
        where: 'notifications.webhook',
        message: `${webhook} is on this machine, for local runs; EventBridge posts only to public https URLs: keep the URL in a Secrets Manager secret of the CICD account and give { secret: "<name>" }`,
      },
    ]);
  }
  return { secret: webhook.secret, ...(webhook.jsonKey ? { jsonKey: webhook.jsonKey } : {}) };
}

interface ServicePlans {
  readonly push: PipelinePlan;
  readonly pullRequest?: PipelinePlan;
}

/** Pair each service's push plan with its pull-request plan. */
function servicePlans(plans: PlansDocument): ServicePlans[] {
  const pushes = plans.pipelines.filter((p) => p.trigger === 'push');
  if (pushes.length === 0) {
    throw new InputError('the plans hold no push pipeline: nothing to build', [{ where: 'plans', message: 'give the plans of at least one service' }]);
  }
  // CodePipeline keys a pipeline's artifacts by the first 20 characters of its name, and each
  // pipeline's roles are scoped to that prefix: two pipelines sharing it would share artifacts.
  const byPrefix = new Map<string, string>();
  for (const push of pushes) {
    const other = byPrefix.get(artifactKeyPrefix(push.pipelineName));
    if (other !== undefined) {
      throw new InputError(`services "${other}" and "${push.service}" would share artifacts in AWS`, [
        {
          where: `services (${push.service})`,
          message: `CodePipeline stores a pipeline's artifacts under the first 20 characters of its name ("${artifactKeyPrefix(push.pipelineName)}"); rename one so that they differ within 20 characters`,
        },
      ]);
    }
    byPrefix.set(artifactKeyPrefix(push.pipelineName), push.service);
  }
  return pushes.map((push) => {
    const pullRequest = plans.pipelines.find((p) => p.trigger === 'pull-request' && p.service === push.service);
    return pullRequest ? { push, pullRequest } : { push };
  });
}

/**
 * Group items (services, deployer roles), in order, into stacks that stay within the resource
 * and size budgets. Each item is built once in a scratch stack to measure what it adds to a template.
 */
function packByBudget<T>(items: readonly T[], env: Environment, build: (scope: Construct, id: string, item: T) => Construct): T[][] {
  // Never synthesized: not on exit either (an App synthesizes itself on exit when CDK_OUTDIR is set).
  const scratch = new Stack(new App({ analyticsReporting: false, autoSynth: false }), 'Measure', { env });
  const groups: T[][] = [];
  let current: T[] = [];
  let resources = 0;
  let bytes = 0;
  items.forEach((item, index) => {
    const measured = measure(scratch, build(scratch, `S${index}`, item));
    if (current.length > 0 && (resources + measured.resources > STACK_RESOURCE_BUDGET || bytes + measured.bytes > STACK_BYTES_BUDGET)) {
      groups.push(current);
      current = [];
      resources = 0;
      bytes = 0;
    }
    current.push(item);
    resources += measured.resources;
    bytes += measured.bytes;
  });
  if (current.length > 0) groups.push(current);
  return groups;
}

/** The resources a construct adds to its stack's template, and their size as CDK writes them. */
function measure(stack: Stack, scope: Construct): { resources: number; bytes: number } {
  let resources = 0;
  let bytes = 0;
  for (const node of scope.node.findAll()) {
    if (!CfnResource.isCfnResource(node)) continue;
    resources += 1;
    const render = (node as unknown as { _toCloudFormation?: () => unknown })._toCloudFormation;
    // Templates are written with one-space indentation, resources two levels deep.
    bytes += typeof render === 'function' ? indentedLength(stack.resolve(render.call(node)), 2) : 8_000;
  }
  return { resources, bytes };
}

function indentedLength(value: unknown, depth: number): number {
  const text = JSON.stringify(value, undefined, 1);
  const lines = text.split('\n').length;
  return text.length + lines * depth;
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const groups: T[][] = [];
  for (let i = 0; i < items.length; i += size) groups.push(items.slice(i, i + size));
  return groups;
}
