import { App, CfnResource, DefaultStackSynthesizer, Stack, type Environment } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { InputError } from '../model/errors.js';
import type { PipelinePlan, PlanEnvironment, PlansDocument, PlanWebhook } from '../model/plan-schema.js';
import { partitionOf } from '../model/plan.js';
import { AcceptanceInvokerRole } from './acceptance-invoker-role.js';
import { AlertsTopic, type WebhookSecret } from './alerts-topic.js';
import { CrossAccountDeploymentRole } from './cross-account-deployment-role.js';
import type { PolicyDocumentJson } from './deploy-permissions.js';
import { artifactBucketName, artifactKeyPrefix, checkPrefix, DEFAULT_PREFIX } from './names.js';
import { PipelineArtifactStore } from './pipeline-artifact-store.js';
import { PipelineFailedAlert } from './pipeline-failed-alert.js';
import { ServicePipeline } from './service-pipeline.js';
import { ToolDistribution } from './tool-distribution.js';
import type { ToolSource } from './tool-source.js';

/** Properties of `ServiceCicdPipelines`. */
export interface ServiceCicdPipelinesProps {
  /**
   * The plans to build the pipelines from (`buildPlans(config)`, or a `pipelines.plan.json` read
   * with `parsePlansDocument`): they are all this construct reads.
   */
  readonly plans: PlansDocument;
  /**
   * Where the actions get service-pipelines: `ToolSource.fromPlans(plans, pack)` (the plans'
   * `toolSource`, else the tool packed by `packTool`).
   */
  readonly tool: ToolSource;
  /**
   * The prefix of every stack name (and of the tool's SSM parameter, `/<prefix>/tool`).
   *
   * @default 'service-pipelines'
   */
  readonly prefix?: string;
  /**
   * Inferred deploy policies, by `<service>/<environment>`, for services whose plans say
   * `deployPermissions: { kind: 'infer' }` (see `resolveDeployPolicies`).
   *
   * @default - none: a service whose permissions are to be inferred is an error
   */
  readonly deployPolicies?: ReadonlyMap<string, readonly PolicyDocumentJson[]>;
  /**
   * How many services share a pipelines stack. Services are assigned in the plans' order, so
   * appending services never moves an existing pipeline to another stack; give a number to pin
   * the grouping (a pipeline that moves to another stack must be removed from the first before
   * the second can create it under the same name).
   *
   * @default - as many as fit in 400 resources and 700 KB of template (CloudFormation allows 500 and 1 MB)
   */
  readonly servicesPerStack?: number;
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
 * Every pipeline of a plans document, with what they share, over as many stacks as
 * CloudFormation's limits need (the article's `ServiceCicdPipelines`, which held them all in one
 * stack and stopped at about 20 services).
 *
 * - `<prefix>-shared` (CICD account): the artifact bucket and key, the alerts topic with its
 *   e-mail, Slack and webhook deliveries, and the tool the actions install (`ToolDistribution`:
 *   its tarball under the stack's asset prefix `<prefix>/tool/` of the CDK bootstrap bucket, and
 *   the SSM parameter `/<prefix>/tool` that names it).
 * - `<prefix>-pipelines-<n>` (CICD account): the services' pipelines, pull-request builds and
 *   action roles, and one failed-execution alert for the stack's pipelines.
 * - `<prefix>-deployers-<account>-<n>` (each target account): the services' deployer roles and
 *   their permissions boundaries, and the invoker roles of their acceptance tests.
 */
export class ServiceCicdPipelines extends Construct {
  /** The stack of the shared resources. */
  readonly sharedStack: Stack;
  /** The shared artifact bucket and key. */
  readonly artifactStore: PipelineArtifactStore;
  /** The shared alerts topic. */
  readonly alerts: AlertsTopic;
  /** The tool every action installs. */
  readonly tool: ToolDistribution;
  /** The stacks holding the pipelines. */
  readonly pipelineStacks: Stack[] = [];
  /** One pipeline per service, in the plans' order. */
  readonly pipelines: ServicePipeline[] = [];
  /** The failed-execution alerts, one per pipelines stack. */
  readonly failedAlerts: PipelineFailedAlert[] = [];
  /** The stacks holding the deployer roles, in the target accounts. */
  readonly deployerStacks: Stack[] = [];
  /** The deployer roles, one per service and environment. */
  readonly deployerRoles: CrossAccountDeploymentRole[] = [];
  /** The invoker roles of the acceptance tests, one per service and environment. */
  readonly invokerRoles: AcceptanceInvokerRole[] = [];
  /** The stack-name prefix. */
  readonly prefix: string;
  /** The plans the pipelines were built from. */
  readonly plans: PlansDocument;

  constructor(scope: Construct, id: string, props: ServiceCicdPipelinesProps) {
    super(scope, id);
    const { plans } = props;
    this.plans = plans;
    this.prefix = props.prefix ?? DEFAULT_PREFIX;
    checkPrefix(this.prefix);
    const services = servicePlans(plans);
    const cicdEnv: Environment = { account: plans.cicd.account, region: plans.cicd.region };

    this.sharedStack = new Stack(this, 'Shared', {
      stackName: `${this.prefix}-shared`,
      env: cicdEnv,
      description: 'service-pipelines: the artifact store, alerts and tool shared by every service pipeline',
      // The stack's assets (the packed tool) under a prefix of their own in the bootstrap bucket:
      // the action roles may read the tarballs there, whichever version the parameter names.
      synthesizer: new DefaultStackSynthesizer({ bucketPrefix: `${this.prefix}/tool/` }),
    });
    const bucketName = artifactBucketName(this.prefix, plans.cicd.account, plans.cicd.region);
    this.artifactStore = new PipelineArtifactStore(this.sharedStack, 'Artifacts', {
      bucketName,
      ...(props.artifactRetentionDays === undefined ? {} : { artifactRetentionDays: props.artifactRetentionDays }),
    });
    const notifications = sharedNotifications(services);
    this.alerts = new AlertsTopic(this.sharedStack, 'Alerts', {
      emails: notifications.email,
      ...(notifications.slack ? { slack: notifications.slack } : {}),
      ...(notifications.webhook ? { webhook: awsWebhook(notifications.webhook) } : {}),
      chatbotConfigurationName: `${this.prefix}-alerts`,
    });
    this.tool = new ToolDistribution(this.sharedStack, 'Tool', { source: props.tool, parameterName: `/${this.prefix}/tool` });

    const shared = {
      artifactBucketName: bucketName,
      artifactBucketArn: `arn:${partitionOf(plans.cicd.region)}:s3:::${bucketName}`,
      artifactKeyArn: this.artifactStore.key.keyArn,
      alertsTopicArn: this.alerts.topic.topicArn,
      alertsKeyArn: this.alerts.key.keyArn,
    };
    const pipelineProps = (service: ServicePlans) => ({
      plan: service.push,
      ...(service.pullRequest ? { pullRequestPlan: service.pullRequest } : {}),
      shared,
      tool: this.tool,
    });
    let groups: ServicePlans[][];
    if (props.servicesPerStack !== undefined) {
      if (!Number.isInteger(props.servicesPerStack) || props.servicesPerStack < 1) {
        throw new Error(`ServiceCicdPipelines ${this.node.path}: servicesPerStack must be a whole number ≥ 1, got ${props.servicesPerStack}`);
      }
      groups = chunk(services, props.servicesPerStack);
    } else {
      groups = packByBudget(services, cicdEnv, (scope, id, service) => [new ServicePipeline(scope, id, pipelineProps(service))]);
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

    this.buildDeployerStacks(plans.cicd.account, services, props.deployPolicies ?? new Map());
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

  private buildDeployerStacks(cicdAccount: string, services: ServicePlans[], deployPolicies: ReadonlyMap<string, readonly PolicyDocumentJson[]>): void {
    // One group of stacks per target account: IAM is global, so the region is that of the
    // account's first environment.
    const accounts = new Map<string, { region: string; roles: { plan: PipelinePlan; environment: PlanEnvironment; serviceIndex: number }[] }>();
    services.forEach(({ push }, serviceIndex) => {
      for (const environment of push.environments) {
        const entry = accounts.get(environment.account) ?? { region: environment.region, roles: [] };
        entry.roles.push({ plan: push, environment, serviceIndex });
        accounts.set(environment.account, entry);
      }
    });
    for (const [account, { region, roles }] of accounts) {
      const sized = roles.map((role) => {
        const permissions = role.plan.deployPermissions;
        const documents = permissions.kind === 'infer' ? deployPolicies.get(`${role.plan.service}/${role.environment.name}`) : undefined;
        if (permissions.kind === 'infer' && documents === undefined) {
          throw new InputError(`the deploy permissions of ${role.plan.service} in ${role.environment.name} are to be inferred, and were not`, [
            {
              where: `services[${role.serviceIndex}].deployPermissions.infer`,
              message: 'give synth the CloudFormation schemas (--schemas DIR|ZIP) so that the policy can be inferred, or list the statements',
            },
          ]);
        }
        return { ...role, documents };
      });
      const roleProps = (role: (typeof sized)[number]) => {
        const permissions = role.plan.deployPermissions;
        const acknowledgements = role.plan.acknowledgeWildcards;
        return {
          serviceName: role.plan.service,
          targetStageName: role.environment.name,
          deployingAccountId: cicdAccount,
          targetRegion: role.environment.region,
          serverlessService: role.plan.serverlessService,
          ...(permissions.kind === 'statements' ? { deployPermissions: permissions.statements } : {}),
          ...(role.documents ? { policyDocuments: role.documents, lastDocumentIsExtra: permissions.kind === 'infer' && permissions.extra.length > 0 } : {}),
          ...(Object.keys(acknowledgements).length > 0 ? { acknowledgeWildcards: acknowledgements } : {}),
          where: `services[${role.serviceIndex}].deployPermissions`,
          acknowledgementsWhere: `services[${role.serviceIndex}].acknowledgeWildcards`,
        };
      };
      const invokerProps = (role: (typeof sized)[number]) => ({
        serviceName: role.plan.service,
        targetStageName: role.environment.name,
        deployingAccountId: cicdAccount,
        targetRegion: role.environment.region,
        serverlessService: role.plan.serverlessService,
      });
      const build = (scope: Construct, id: string, role: (typeof sized)[number]) => [
        new CrossAccountDeploymentRole(scope, id, roleProps(role)),
        new AcceptanceInvokerRole(scope, `${id}-invoker`, invokerProps(role)),
      ];
      const groups = packByBudget(sized, { account, region }, build);
      groups.forEach((group, index) => {
        const n = index + 1;
        const stack = new Stack(this, `Deployers${account}n${n}`, {
          stackName: `${this.prefix}-deployers-${account}-${n}`,
          env: { account, region },
          description: `service-pipelines: deployer roles of the services, assumable from the CICD account ${cicdAccount} by their deploy actions only, and the invoker roles of their acceptance tests`,
        });
        this.deployerStacks.push(stack);
        for (const role of group) {
          const [deployer, invoker] = build(stack, `${role.plan.service}-${role.environment.name}`, role);
          this.deployerRoles.push(deployer as CrossAccountDeploymentRole);
          this.invokerRoles.push(invoker as AcceptanceInvokerRole);
        }
      });
    }
  }
}

/**
 * The notifications every pipeline of the plans shares (the alerts topic is one for all).
 *
 * @throws InputError when two pipelines ask for different ones (a plan written by hand)
 */
function sharedNotifications(services: readonly ServicePlans[]): PipelinePlan['notifications'] {
  const first = services[0]!.push.notifications;
  const other = services.find((s) => JSON.stringify(s.push.notifications) !== JSON.stringify(first));
  if (other) {
    throw new InputError('the pipelines of the plans ask for different notifications; the AWS engine has one alerts topic for all', [
      { where: `plans: ${other.push.pipelineName}.notifications`, message: `give every pipeline the notifications of ${services[0]!.push.pipelineName}` },
    ]);
  }
  return first;
}

/**
 * The webhook of the AWS alerts: a secret. A URL in the plans names this machine (the config
 * allows no other), which EventBridge can neither reach nor call over http.
 */
function awsWebhook(webhook: PlanWebhook): WebhookSecret {
  if ('url' in webhook) {
    throw new InputError('the webhook cannot be reached from AWS', [
      {
        where: 'notifications.webhook',
        message: `${webhook.url} is on this machine, for local runs; EventBridge posts only to public https URLs: keep the URL in a Secrets Manager secret of the CICD account and give { secret: "<name>" }`,
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
function packByBudget<T>(items: readonly T[], env: Environment, build: (scope: Construct, id: string, item: T) => readonly Construct[]): T[][] {
  // Never synthesized: not on exit either (an App synthesizes itself on exit when CDK_OUTDIR is set).
  const scratch = new Stack(new App({ analyticsReporting: false, autoSynth: false }), 'Measure', { env });
  const groups: T[][] = [];
  let current: T[] = [];
  let resources = 0;
  let bytes = 0;
  items.forEach((item, index) => {
    const measured = build(scratch, `S${index}`, item)
      .map((scope) => measure(scratch, scope))
      .reduce((a, b) => ({ resources: a.resources + b.resources, bytes: a.bytes + b.bytes }));
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
