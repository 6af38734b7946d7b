/**
 * The plan builder: a pure function from a validated config to the plan of each service.
 */
import nodePath from 'node:path';
import type { CommandName } from './config.js';
import { artifactOutputDirectory } from './contract.js';
import { InputError } from './errors.js';
import {
  PLAN_SCHEMA_VERSION,
  plansDocumentSchema,
  type CommandsPlanAction,
  type PipelinePlan,
  type PlanAction,
  type PlanArtifact,
  type PlanDeployPermissions,
  type PlanEnvironment,
  type PlanStage,
  type PlansDocument,
  type PlanWebhook,
  type Privilege,
  type StepCall,
  type StepName,
} from './plan-schema.js';
import { triggerPathsOf } from './trigger-paths.js';
import type { ValidConfig } from './validate.js';

type ServiceDefinition = ValidConfig['services'][number];

/** The artifact every pipeline starts from. */
export const SOURCE_ARTIFACT = 'Source';
/** The code bundle and per-stage templates, built once. */
export const PACKAGE_ARTIFACT = 'Package';
/** The executable that runs a step, in CodeBuild and on a laptop alike. */
export const STEP_COMMAND = 'service-pipelines step';

/** Default time limit of each action, in minutes. */
export const DEFAULT_TIMEOUT_MINUTES = 20;

/** Which `commands` key overrides a step. */
export const commandKeyOfStep: Record<StepName, CommandName> = {
  install: 'install',
  lint: 'lint',
  'test-unit': 'testUnit',
  'test-integration': 'testIntegration',
  package: 'package',
  deploy: 'deploy',
  'test-acceptance': 'testAcceptance',
  rollback: 'rollback',
};

/** The artifact holding the outputs of a deployed stack (`stack-outputs.json`) for one environment. */
export function outputsArtifactName(environment: string): string {
  return `Outputs_${environment.replace(/-/g, '_')}`;
}

/** The deployer role's name in a target account: one per service and environment. */
export function deployerRoleName(service: string, environment: string): string {
  return `${service}-${environment}-deployer`;
}

/** The deployer role's ARN. */
export function deployerRoleArn(service: string, environment: string, account: string, partition = 'aws'): string {
  return `arn:${partition}:iam::${account}:role/${deployerRoleName(service, environment)}`;
}

/**
 * The permissions boundary of a service's roles in one environment: a managed policy the
 * deployer-role stack creates. The deployer may create or change a role only with this boundary
 * attached, and the deploy step sets it on every role the service's template creates.
 */
export function permissionsBoundaryName(service: string, environment: string): string {
  return `${service}-${environment}-boundary`;
}

/** The permissions boundary's ARN. */
export function permissionsBoundaryArn(service: string, environment: string, account: string, partition = 'aws'): string {
  return `arn:${partition}:iam::${account}:policy/${permissionsBoundaryName(service, environment)}`;
}

/** The stage name of an environment's deploy stage, and of its approval stage. */
export function deployStageName(environment: string): string {
  return `Deploy-${environment}`;
}
export function approvalStageName(environment: string): string {
  return `Approve-${environment}`;
}

/** Quote a word for a POSIX shell, only when it needs it. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) {
    return word;
  }
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Options of `buildPlans`. */
export interface BuildPlanOptions {
  /**
   * Build only the pipelines of this service.
   *
   * @default - every service
   */
  readonly service?: string;
}

/**
 * Build the plans of every service of a config: its main pipeline and, unless
 * `pullRequests: false`, its test-only pull-request pipeline.
 *
 * @throws InputError when `options.service` names no service of the config
 */
export function buildPlans(config: ValidConfig, options: BuildPlanOptions = {}): PlansDocument {
  const services = options.service === undefined ? config.services : config.services.filter((s) => s.name === options.service);
  if (services.length === 0) {
    throw unknownServiceError(config, options.service ?? '');
  }
  const pipelines = services.flatMap((service) => {
    const main = buildPipelinePlan(config, service.name, 'push');
    return service.pullRequests === false ? [main] : [main, buildPipelinePlan(config, service.name, 'pull-request')];
  });
  const selfUpdate = config.selfUpdate;
  return {
    schemaVersion: PLAN_SCHEMA_VERSION,
    cicd: { account: config.cicd.account, region: config.cicd.region },
    ...(selfUpdate
      ? {
          selfUpdate: {
            github: {
              owner: selfUpdate.github.owner,
              repo: selfUpdate.github.repo,
              branch: selfUpdate.github.branch ?? 'main',
              ...(selfUpdate.github.connectionArn ? { connectionArn: selfUpdate.github.connectionArn } : {}),
              ...(selfUpdate.github.githubTokenSecret ? { githubTokenSecret: selfUpdate.github.githubTokenSecret } : {}),
            },
            directory: selfUpdate.directory ?? '.',
          },
        }
      : {}),
    ...(config.toolSource ? { toolSource: { ...config.toolSource } } : {}),
    pipelines,
  };
}

/**
 * Read a plans document (`pipelines.plan.json`, or `plan --json`), as every engine takes it.
 *
 * @param where - what to name in errors (the file)
 * @throws InputError when it is not a plans document of this schema version, naming each problem by its path
 */
export function parsePlansDocument(value: unknown, where = 'the plan'): PlansDocument {
  const version = value !== null && typeof value === 'object' ? (value as { schemaVersion?: unknown }).schemaVersion : undefined;
  if (typeof version === 'number' && version !== PLAN_SCHEMA_VERSION) {
    throw new InputError(`${where} is a plan of schema version ${version}; this service-pipelines reads version ${PLAN_SCHEMA_VERSION}`, [
      {
        where: `${where}: schemaVersion`,
        message: `write it again from the config with this version: \`service-pipelines plan --json > ${where === 'the plan' ? 'pipelines.plan.json' : where}\` (or \`synth\`)`,
      },
    ]);
  }
  const parsed = plansDocumentSchema.safeParse(value);
  if (!parsed.success) {
    throw new InputError(
      `${where} is not a plans document`,
      parsed.error.issues.map((issue) => ({ where: `${where}: ${issue.path.join('.') || '(the document)'}`, message: issue.message })),
    );
  }
  return parsed.data;
}

/** The error for a service name the config does not have, listing those it has. */
export function unknownServiceError(config: ValidConfig, name: string): InputError {
  return new InputError(`unknown service "${name}"; the config has: ${config.services.map((s) => s.name).join(', ')}`, [
    { where: 'service', message: `"${name}" is not in the config's services` },
  ]);
}

/**
 * Build one pipeline's plan.
 *
 * A push pipeline: Source → Build (lint, unit tests, integration tests and package, in parallel)
 * → for each environment: an approval stage where `approval: true`, then a deploy stage
 * (deploy, then acceptance tests). A pull-request pipeline stops after Build.
 */
export function buildPipelinePlan(config: ValidConfig, serviceName: string, trigger: 'push' | 'pull-request'): PipelinePlan {
  const service = config.services.find((s) => s.name === serviceName);
  if (!service) {
    throw unknownServiceError(config, serviceName);
  }
  const environments = environmentsOf(config, service);
  const timeoutMinutes = service.timeoutMinutes ?? DEFAULT_TIMEOUT_MINUTES;
  const first = environments[0]!;
  const artifacts: PlanArtifact[] = [
    { name: SOURCE_ARTIFACT, producedBy: 'Source.Source', description: 'The service source at the commit that started the execution.' },
    {
      name: PACKAGE_ARTIFACT,
      producedBy: 'Build.Package',
      description: 'The code bundle, built once, with its sha256 and the deployment template of each environment.',
    },
  ];
  const flavor = service.flavor ?? 'serverless';
  const install = stepCall(service, 'install', []);
  const commandsAction = (
    name: string,
    step: StepName,
    runOrder: number,
    fields: { inputs: string[]; outputs: string[]; env: Record<string, string>; privilege: Privilege; environment?: string; args?: string[] },
  ): CommandsPlanAction => ({
    kind: 'commands',
    name,
    runOrder,
    inputs: fields.inputs,
    outputs: fields.outputs,
    privilege: fields.privilege,
    ...(fields.environment === undefined ? {} : { environment: fields.environment }),
    setup: [install],
    step: stepCall(service, step, fields.args ?? []),
    env: fields.env,
    timeoutMinutes,
  });

  const buildEnv = {
    ...service.variables,
    SERVICE_NAME: service.name,
    STAGE: first.name,
    TARGET_REGION: first.region,
  };
  const stages: PlanStage[] = [
    {
      name: 'Source',
      onFailure: 'FAIL',
      actions: [{ kind: 'source', name: 'Source', runOrder: 1, inputs: [], outputs: [SOURCE_ARTIFACT] }],
    },
    {
      name: 'Build',
      onFailure: 'FAIL',
      actions: [
        commandsAction('Lint', 'lint', 1, { inputs: [SOURCE_ARTIFACT], outputs: [], env: buildEnv, privilege: 'read' }),
        commandsAction('UnitTests', 'test-unit', 1, { inputs: [SOURCE_ARTIFACT], outputs: [], env: buildEnv, privilege: 'read' }),
        commandsAction('IntegrationTests', 'test-integration', 1, { inputs: [SOURCE_ARTIFACT], outputs: [], env: buildEnv, privilege: 'read' }),
        commandsAction('Package', 'package', 1, {
          inputs: [SOURCE_ARTIFACT],
          outputs: [PACKAGE_ARTIFACT],
          env: buildEnv,
          privilege: 'write-package',
          // The roles of each environment's template are made here, with that environment's boundary.
          args: environments.flatMap((e) => ['--stage', `${e.name}@${e.region}`, '--permissions-boundary', `${e.name}=${e.permissionsBoundaryArn}`]),
        }),
      ],
    },
  ];

  if (trigger === 'push') {
    for (const environment of environments) {
      const env = {
        ...service.variables,
        SERVICE_NAME: service.name,
        STAGE: environment.name,
        TARGET_REGION: environment.region,
        DEPLOYER_ROLE_ARN: environment.deployerRoleArn,
      };
      // Where the deployer role can be assumed, dependencies' install scripts do not run (npm
      // still runs the scripts a step names, so this changes nothing else).
      const deployEnv = { ...env, PERMISSIONS_BOUNDARY_ARN: environment.permissionsBoundaryArn, npm_config_ignore_scripts: 'true' };
      const stageArgs = ['--stage', environment.name, '--region', environment.region];
      const outputs = outputsArtifactName(environment.name);
      if (environment.approval) {
        stages.push({
          name: approvalStageName(environment.name),
          environment: environment.name,
          onFailure: 'FAIL',
          actions: [
            {
              kind: 'approval',
              name: 'Approve',
              runOrder: 1,
              inputs: [],
              outputs: [],
              environment: environment.name,
              comment: `Deploy ${service.name} to ${environment.name} (account ${environment.account}, ${environment.region})?`,
            },
          ],
        });
      }
      artifacts.push({
        name: outputs,
        producedBy: `${deployStageName(environment.name)}.Deploy`,
        description: `The outputs of the ${environment.stackName} stack (stack-outputs.json), for the acceptance tests.`,
      });
      const deploy = commandsAction('Deploy', 'deploy', 1, {
        inputs: [SOURCE_ARTIFACT, PACKAGE_ARTIFACT],
        outputs: [outputs],
        env: deployEnv,
        privilege: 'deploy',
        environment: environment.name,
        args: stageArgs,
      });
      const acceptance = commandsAction('AcceptanceTests', 'test-acceptance', 2, {
        inputs: [SOURCE_ARTIFACT, outputs],
        outputs: [],
        env,
        privilege: 'read',
        environment: environment.name,
        args: stageArgs,
      });
      const actions: PlanAction[] = [deploy, acceptance];
      stages.push({
        name: deployStageName(environment.name),
        environment: environment.name,
        onFailure: environment.rollbackOnFailure ? 'ROLLBACK' : 'FAIL',
        actions,
        ...(environment.rollbackOnFailure
          ? {
              rollback: {
                strategy: 'redeploy-last-good' as const,
                environment: environment.name,
                actions: [
                  // The last good release deployed again, with the deploy's rights, then verified as a deploy is.
                  { ...commandsAction('Rollback', 'rollback', 3, { ...fieldsOf(deploy), privilege: 'deploy', environment: environment.name, args: stageArgs }), inputs: [SOURCE_ARTIFACT], outputs: [outputs] },
                  { ...acceptance, name: 'RollbackVerification', runOrder: 4 },
                ],
              },
            }
          : {}),
      });
    }
  }

  return {
    schemaVersion: PLAN_SCHEMA_VERSION,
    pipelineName: trigger === 'push' ? service.name : `${service.name}-pr`,
    service: service.name,
    serverlessService: serverlessServiceOf(service),
    trigger,
    flavor,
    source: {
      branch: service.source.github?.branch ?? 'main',
      ...(service.source.github
        ? {
            github: {
              owner: service.source.github.owner,
              repo: service.source.github.repo,
              ...(service.source.github.connectionArn ? { connectionArn: service.source.github.connectionArn } : {}),
              ...(service.source.github.githubTokenSecret ? { githubTokenSecret: service.source.github.githubTokenSecret } : {}),
            },
          }
        : {}),
      ...(service.source.path ? { path: service.source.path } : {}),
      directory: service.source.directory ?? '.',
      triggerPaths: triggerPathsOf(service.source.directory ?? '.', service.source.dependsOn),
    },
    cicd: { account: config.cicd.account, region: config.cicd.region },
    executionMode: trigger === 'push' ? (config.executionMode ?? 'SUPERSEDED') : 'PARALLEL',
    environments: trigger === 'push' ? environments : [],
    artifacts,
    stages,
    notifications: {
      email: config.notifications?.email ?? [],
      ...(config.notifications?.slack ? { slack: config.notifications.slack } : {}),
      ...(config.notifications?.webhook ? { webhook: planWebhook(config.notifications.webhook) } : {}),
    },
    deployPermissions: deployPermissionsOf(service),
    acknowledgeWildcards: { ...service.acknowledgeWildcards },
  };
}

/** The fields of an action `commandsAction` takes again (a rollback is made from its deploy). */
function fieldsOf(action: CommandsPlanAction): { inputs: string[]; outputs: string[]; env: Record<string, string> } {
  return { inputs: action.inputs, outputs: action.outputs, env: action.env };
}

/** What the service's deployer roles may do, as the plan says it. */
function deployPermissionsOf(service: ServiceDefinition): PlanDeployPermissions {
  const permissions = service.deployPermissions;
  if (permissions === undefined) {
    return { kind: 'default' };
  }
  if (Array.isArray(permissions)) {
    return { kind: 'statements', statements: permissions.map((statement) => ({ ...statement })) };
  }
  return { kind: 'infer', template: permissions.infer, extra: (permissions.extra ?? []).map((statement) => ({ ...statement })) };
}

/** The plan's webhook: the secret that holds its URL, or a URL on this machine (the config allows no other). */
function planWebhook(webhook: NonNullable<NonNullable<ValidConfig['notifications']>['webhook']>): PlanWebhook {
  return typeof webhook === 'string' ? { url: webhook } : { secret: webhook.secret, ...(webhook.jsonKey ? { jsonKey: webhook.jsonKey } : {}) };
}

/** The environments a service deploys to, in the config's order, with their derived names. */
export function environmentsOf(config: ValidConfig, service: ServiceDefinition): PlanEnvironment[] {
  return config.environments
    .filter((e) => service.environments === undefined || service.environments.includes(e.name))
    .map((e) => ({
      name: e.name,
      account: e.account,
      region: e.region,
      approval: e.approval ?? false,
      rollbackOnFailure: e.rollbackOnFailure ?? false,
      deployerRoleName: deployerRoleName(service.name, e.name),
      deployerRoleArn: deployerRoleArn(service.name, e.name, e.account, partitionOf(e.region)),
      permissionsBoundaryArn: permissionsBoundaryArn(service.name, e.name, e.account, partitionOf(e.region)),
      stackName: `${serverlessServiceOf(service)}-${e.name}`,
    }));
}

/**
 * The name the service deploys under: serverless.yml's `service:`, which names its stacks
 * (`<serverlessService>-<stage>`) and the resources the Serverless Framework creates. The
 * pipeline's own name (`name`) names the pipeline, its roles and the local state.
 */
export function serverlessServiceOf(service: ServiceDefinition): string {
  return service.serverlessService ?? service.name;
}

/** The AWS partition of a region. */
export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  if (region.startsWith('us-isob-')) return 'aws-iso-b';
  if (region.startsWith('us-iso-')) return 'aws-iso';
  return 'aws';
}

/**
 * How a service runs a step: every step goes through `service-pipelines step`, which gives the
 * documented environment, assumes the deployer role where allowed, and runs the flavor's default
 * or the service's own commands (`commands.<step>` of the config).
 */
function stepCall(service: ServiceDefinition, step: StepName, args: string[]): StepCall {
  const override = service.commands?.[commandKeyOfStep[step]];
  return {
    step,
    args,
    flavor: service.flavor ?? 'serverless',
    commands: override === undefined ? [] : typeof override === 'string' ? [override] : [...override],
  };
}

/** The shell line of a step call: what CI runners run, and what the local engine runs or does in-process. */
export function stepCommandLine(call: StepCall): string {
  const flavor = call.flavor === 'custom' ? ['--flavor', 'custom'] : [];
  const words = [...call.args, ...flavor, ...call.commands.flatMap((line) => ['--command', line])];
  return [STEP_COMMAND, call.step, ...words.map(shellQuote)].join(' ');
}

/** The shell lines of a commands action, in one shell and in order: its setup, then its step (or its commands). */
export function actionCommandLines(action: Pick<CommandsPlanAction, 'setup' | 'step' | 'commands'>): string[] {
  return [...action.setup.map(stepCommandLine), ...(action.step ? [stepCommandLine(action.step)] : (action.commands ?? []))];
}

/**
 * Where, relative to an action's primary source (`CODEBUILD_SRC_DIR`: the repository), its steps
 * write an output artifact: `.pipeline/<name>` of the service's directory.
 */
export function serviceOutputDirectory(plan: Pick<PipelinePlan, 'source'>, artifactName: string): string {
  return nodePath.posix.join(plan.source.directory, artifactOutputDirectory(artifactName));
}

/**
 * The shell line that enters the service's directory before its steps run (the primary source is
 * the whole repository), or none for a service whose directory is the repository.
 */
export function enterDirectoryLine(plan: Pick<PipelinePlan, 'source'>): string | undefined {
  return plan.source.directory === '.' ? undefined : `cd ${shellQuote(plan.source.directory)}`;
}

/**
 * The local clone's root for a service folder on this machine (`source.path`) that is the
 * repository's `directory`, or undefined when the folder is not that directory of anything.
 */
export function repositoryFolderOf(serviceFolder: string, directory: string): string | undefined {
  const folder = nodePath.resolve(serviceFolder);
  if (directory === '.') {
    return folder;
  }
  const suffix = directory.split('/');
  const parts = folder.split(nodePath.sep);
  if (parts.length <= suffix.length || parts.slice(-suffix.length).join('/') !== directory) {
    return undefined;
  }
  return parts.slice(0, -suffix.length).join(nodePath.sep) || nodePath.sep;
}

/** Find an action of a plan by `<stage>.<action>`. */
export function findAction(plan: PipelinePlan, stageName: string, actionName: string): PlanAction | undefined {
  return plan.stages.find((s) => s.name === stageName)?.actions.find((a) => a.name === actionName);
}
