import { Annotations, Stack } from 'aws-cdk-lib';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { artifactOutputDirectory, secondarySourceVariable } from '../model/contract.js';
import { InputError, type InputProblem } from '../model/errors.js';
import type { ApprovalPlanAction, CommandsPlanAction, PipelinePlan, PlanAction, PlanStage, SourcePlanAction } from '../model/plan-schema.js';
import { partitionOf, shellQuote } from '../model/plan.js';
import {
  artifactKeyPrefix,
  buildActionRoleName,
  codebuildLogGroupName,
  commandsLogGroupName,
  deployActionRoleName,
  packageActionRoleName,
  PACKAGE_NAME,
  toolVersion,
} from './names.js';
import { acknowledgeWildcards } from './acknowledge.js';
import { PullRequestValidation } from './pull-request-validation.js';

/** The shared resources a pipeline uses, by reference (they usually live in another stack). */
export interface SharedPipelineResources {
  /** The shared artifact bucket's name. */
  readonly artifactBucketName: string;
  /** The shared artifact bucket's ARN. */
  readonly artifactBucketArn: string;
  /** The ARN of the KMS key the artifacts are encrypted with. */
  readonly artifactKeyArn: string;
  /**
   * The alerts topic's ARN: manual approvals notify it.
   *
   * @default - approvals notify nobody
   */
  readonly alertsTopicArn?: string;
  /**
   * The ARN of the KMS key that encrypts the alerts topic (publishing needs it).
   *
   * @default - the topic is not encrypted with a customer-managed key
   */
  readonly alertsKeyArn?: string;
}

/** Properties of a `ServicePipeline`. */
export interface ServicePipelineProps {
  /** The service's push plan (`buildPipelinePlan(config, service, 'push')`): what the pipeline runs. */
  readonly plan: PipelinePlan;
  /**
   * The service's pull-request plan: a test-only run whose result shows on the pull request.
   *
   * @default - no pull-request validation
   */
  readonly pullRequestPlan?: PipelinePlan;
  /** The shared artifact store and alerts topic. */
  readonly shared: SharedPipelineResources;
  /**
   * The version of service-pipelines the actions install.
   *
   * @default - the version that synthesizes the pipeline
   */
  readonly toolVersion?: string;
}

/** CodePipeline's Commands action: at most 50 commands of at most 1000 characters, 10 environment variables, 55 minutes. */
const COMMANDS_LIMITS = { commands: 50, commandLength: 1000, environmentVariables: 10, timeoutMinutes: 55 } as const;

/**
 * The pipeline of one service (the article's `ServicePipeline`), mapped from its plan onto
 * CodePipeline V2: each plan stage becomes a stage, each plan action an action.
 *
 * - Source: GitHub through a CodeConnections connection, started by a V2 push trigger on the
 *   branch (or the article's OAuth token from Secrets Manager, with a webhook, for parity).
 * - Commands actions: CodePipeline's `Commands` action, which runs on CodeBuild managed compute
 *   without a CodeBuild project. Each runs `npm install -g service-pipelines@<version>`, then the
 *   plan's commands with the plan's environment. Outputs are the `.pipeline/<artifact>/` folders.
 * - Approvals: manual approval actions that notify the alerts topic.
 * - A stage with `onFailure: ROLLBACK` rolls back to the last successful execution's artifacts.
 *
 * Isolation, with few resources: build and test actions (which run third-party packages) share
 * one role with no deploy rights; each environment's deploy action has a role that can assume
 * only that environment's deployer role. Roles carry inline policies (no `AWS::IAM::Policy`
 * resources), and the bucket, key and alerts are shared by all pipelines.
 */
export class ServicePipeline extends Construct {
  /** The pipeline. */
  readonly pipeline: codepipeline.CfnPipeline;
  /** Its name. */
  readonly pipelineName: string;
  /** The role CodePipeline runs the pipeline (and its source and approval actions) with. */
  readonly pipelineRole: iam.Role;
  /** The role of the build and test actions, and of the pull-request build: no deploy rights, artifacts read only. */
  readonly buildRole: iam.Role;
  /** The role of the Package action: writes the package artifact, no deploy rights. */
  readonly packageRole: iam.Role;
  /** The role of each environment's deploy actions, by environment name. */
  readonly deployRoles: Readonly<Record<string, iam.Role>>;
  /** The pull-request validation, when there is one. */
  readonly pullRequests?: PullRequestValidation;

  private readonly plan: PipelinePlan;
  private readonly installCommand: string;

  constructor(scope: Construct, id: string, props: ServicePipelineProps) {
    super(scope, id);
    const { plan, shared } = props;
    if (plan.trigger !== 'push') {
      throw new Error(`ServicePipeline ${this.node.path}: the plan ${plan.pipelineName} is a ${plan.trigger} plan; give the push plan (and the pull-request plan as pullRequestPlan)`);
    }
    this.plan = plan;
    this.pipelineName = plan.pipelineName;
    this.installCommand = `npm install --global --no-fund --no-audit ${PACKAGE_NAME}@${props.toolVersion ?? toolVersion()}`;
    checkPlan(plan);
    const stack = Stack.of(this);
    const partition = partitionOf(stack.region);
    const github = plan.source.github!;
    const pullRequestPlan = props.pullRequestPlan && github.connectionArn ? props.pullRequestPlan : undefined;
    if (props.pullRequestPlan && !github.connectionArn) {
      Annotations.of(this).addWarningV2(
        'service-pipelines:pull-requests-need-connection',
        `${plan.service}: pull-request validation needs a CodeConnections source (source.github.connectionArn); none is created for an OAuth-token source. Set pullRequests: false to silence this.`,
      );
    }

    const artifactObjects = `${shared.artifactBucketArn}/${artifactKeyPrefix(plan.pipelineName)}/*`;
    const commandsLogs = `arn:${partition}:logs:${stack.region}:${stack.account}:log-group:${commandsLogGroupName(plan.pipelineName)}`;
    // Who may write artifacts: the pipeline, the Package action and the deploy actions (their
    // outputs). Lint, tests, acceptance tests and pull-request builds run third-party code and
    // only read: none of them can replace the package that a later stage deploys.
    type ArtifactAccess = 'read' | 'write';
    const actionStatements = (access: ArtifactAccess): iam.PolicyStatement[] => [
      new iam.PolicyStatement({
        sid: 'ActionLogs',
        actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [commandsLogs, `${commandsLogs}:*`],
      }),
      ...artifactStatements(access),
    ];
    const artifactStatements = (access: ArtifactAccess): iam.PolicyStatement[] => [
      new iam.PolicyStatement({
        sid: 'Artifacts',
        actions: access === 'write' ? ['s3:GetObject', 's3:GetObjectVersion', 's3:PutObject'] : ['s3:GetObject', 's3:GetObjectVersion'],
        resources: [artifactObjects],
      }),
      new iam.PolicyStatement({ sid: 'ArtifactBucket', actions: ['s3:GetBucketLocation', 's3:GetBucketVersioning'], resources: [shared.artifactBucketArn] }),
      new iam.PolicyStatement({
        sid: 'ArtifactKey',
        actions: access === 'write' ? ['kms:Decrypt', 'kms:Encrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:DescribeKey'] : ['kms:Decrypt', 'kms:DescribeKey'],
        resources: [shared.artifactKeyArn],
      }),
    ];

    // The pipeline role may assume the action roles, and they trust it: the pipeline role names
    // them by ARN (built from their names) so that CloudFormation sees no reference cycle.
    const roleArn = (name: string) => `arn:${partition}:iam::${stack.account}:role/${name}`;
    const actionRoleNames = [
      buildActionRoleName(plan.service),
      packageActionRoleName(plan.service),
      ...plan.environments.map((e) => deployActionRoleName(plan.service, e.name)),
    ];
    const pipelineStatements = [
      new iam.PolicyStatement({ sid: 'AssumeActionRoles', actions: ['sts:AssumeRole'], resources: actionRoleNames.map(roleArn) }),
      ...artifactStatements('write'),
    ];
    if (github.connectionArn) {
      pipelineStatements.push(
        new iam.PolicyStatement({ sid: 'Source', actions: ['codeconnections:UseConnection', 'codestar-connections:UseConnection'], resources: [github.connectionArn] }),
      );
    }
    if (shared.alertsTopicArn && plan.stages.some((s) => s.actions.some((a) => a.kind === 'approval'))) {
      pipelineStatements.push(new iam.PolicyStatement({ sid: 'NotifyApprovers', actions: ['sns:Publish'], resources: [shared.alertsTopicArn] }));
      if (shared.alertsKeyArn) {
        pipelineStatements.push(new iam.PolicyStatement({ sid: 'AlertsKey', actions: ['kms:GenerateDataKey*', 'kms:Decrypt'], resources: [shared.alertsKeyArn] }));
      }
    }
    this.pipelineRole = new iam.Role(this, 'PipelineRole', {
      assumedBy: new iam.ServicePrincipal('codepipeline.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': stack.account } } }),
      description: `Runs the ${plan.pipelineName} pipeline: source, approvals, and assuming its action roles`,
      inlinePolicies: { Pipeline: new iam.PolicyDocument({ statements: pipelineStatements }) },
    });
    const pipelinePrincipal = new iam.ArnPrincipal(this.pipelineRole.roleArn);

    const buildStatements = actionStatements('read');
    if (pullRequestPlan) {
      const projectLogs = `arn:${partition}:logs:${stack.region}:${stack.account}:log-group:${codebuildLogGroupName(pullRequestPlan.pipelineName)}`;
      buildStatements.push(
        new iam.PolicyStatement({
          sid: 'PullRequestBuildLogs',
          actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [projectLogs, `${projectLogs}:*`],
        }),
        new iam.PolicyStatement({
          sid: 'PullRequestSource',
          actions: [
            'codeconnections:UseConnection',
            'codeconnections:GetConnectionToken',
            'codeconnections:GetConnection',
            'codestar-connections:UseConnection',
            'codestar-connections:GetConnectionToken',
            'codestar-connections:GetConnection',
          ],
          resources: [github.connectionArn!],
        }),
      );
    }
    this.buildRole = new iam.Role(this, 'BuildRole', {
      roleName: buildActionRoleName(plan.service),
      assumedBy: pullRequestPlan
        ? new iam.CompositePrincipal(
            pipelinePrincipal,
            new iam.ServicePrincipal('codebuild.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': stack.account } } }),
          )
        : pipelinePrincipal,
      description: `Build and test actions of ${plan.service}: no deploy rights, artifacts read only`,
      inlinePolicies: { Build: new iam.PolicyDocument({ statements: buildStatements }) },
    });
    this.packageRole = new iam.Role(this, 'PackageRole', {
      roleName: packageActionRoleName(plan.service),
      assumedBy: pipelinePrincipal,
      description: `The Package action of ${plan.service}: writes the package artifact, no deploy rights`,
      inlinePolicies: { Package: new iam.PolicyDocument({ statements: actionStatements('write') }) },
    });

    const deployRoles: Record<string, iam.Role> = {};
    for (const environment of plan.environments) {
      deployRoles[environment.name] = new iam.Role(this, `DeployRole-${environment.name}`, {
        roleName: deployActionRoleName(plan.service, environment.name),
        assumedBy: pipelinePrincipal,
        description: `Deploy actions of ${plan.service} to ${environment.name}: may assume ${environment.deployerRoleName} in ${environment.account} only`,
        inlinePolicies: {
          Deploy: new iam.PolicyDocument({
            statements: [
              ...actionStatements('write'),
              new iam.PolicyStatement({ sid: 'AssumeDeployerRole', actions: ['sts:AssumeRole', 'sts:TagSession'], resources: [environment.deployerRoleArn] }),
            ],
          }),
        },
      });
    }
    this.deployRoles = deployRoles;

    this.pipeline = new codepipeline.CfnPipeline(this, 'Pipeline', {
      name: plan.pipelineName,
      pipelineType: 'V2',
      executionMode: plan.executionMode,
      roleArn: this.pipelineRole.roleArn,
      restartExecutionOnUpdate: false,
      artifactStore: { type: 'S3', location: shared.artifactBucketName, encryptionKey: { id: shared.artifactKeyArn, type: 'KMS' } },
      stages: plan.stages.map((stage) => this.renderStage(stage, shared)),
      ...(github.connectionArn
        ? {
            triggers: [
              {
                providerType: 'CodeStarSourceConnection',
                gitConfiguration: { sourceActionName: sourceActionOf(plan).name, push: [{ branches: { includes: [plan.source.branch] } }] },
              },
            ],
          }
        : {}),
    });

    if (github.githubTokenSecret) {
      // The article's source: GitHub (version 1) with an OAuth token, started by a webhook.
      new codepipeline.CfnWebhook(this, 'Webhook', {
        authentication: 'GITHUB_HMAC',
        authenticationConfiguration: { secretToken: oauthToken(github.githubTokenSecret) },
        filters: [{ jsonPath: '$.ref', matchEquals: 'refs/heads/{Branch}' }],
        targetPipeline: this.pipeline.ref,
        targetAction: sourceActionOf(plan).name,
        targetPipelineVersion: 1,
        registerWithThirdParty: true,
      });
    }

    if (pullRequestPlan) {
      this.pullRequests = new PullRequestValidation(this, 'PullRequests', {
        plan: pullRequestPlan,
        roleArn: this.buildRole.roleArn,
        encryptionKeyArn: shared.artifactKeyArn,
        installCommand: this.installCommand,
      });
    }

    const reason =
      "Wildcards are confined to this pipeline: objects under its own key prefix of the shared artifact bucket, log streams of its own log group, and KMS data-key actions (kms:GenerateDataKey*, kms:ReEncrypt*) on the artifact key only.";
    for (const role of [this.pipelineRole, this.buildRole, this.packageRole, ...Object.values(this.deployRoles)]) {
      acknowledgeWildcards(role, reason);
    }
  }

  /** The role a deploy action of an environment runs with. */
  deployRole(environment: string): iam.Role {
    const role = this.deployRoles[environment];
    if (!role) {
      throw new Error(`ServicePipeline ${this.node.path}: no environment "${environment}" in ${this.pipelineName}; it has ${Object.keys(this.deployRoles).join(', ')}`);
    }
    return role;
  }

  private renderStage(stage: PlanStage, shared: SharedPipelineResources): codepipeline.CfnPipeline.StageDeclarationProperty {
    return {
      name: stage.name,
      actions: stage.actions.map((action) => this.renderAction(action, shared)),
      ...(stage.onFailure === 'ROLLBACK' ? { onFailure: { result: 'ROLLBACK' } } : {}),
    };
  }

  private renderAction(action: PlanAction, shared: SharedPipelineResources): codepipeline.CfnPipeline.ActionDeclarationProperty {
    switch (action.kind) {
      case 'source':
        return this.renderSource(action);
      case 'commands':
        return this.renderCommands(action);
      case 'approval':
        return renderApproval(action, shared);
      default:
        throw new Error(`ServicePipeline: this backend does not support plan actions of kind "${(action as { kind: string }).kind}"`);
    }
  }

  private renderSource(action: SourcePlanAction): codepipeline.CfnPipeline.ActionDeclarationProperty {
    const github = this.plan.source.github!;
    const common = { name: action.name, runOrder: action.runOrder, outputArtifacts: action.outputs.map((name) => ({ name })) };
    if (github.connectionArn) {
      return {
        ...common,
        actionTypeId: { category: 'Source', owner: 'AWS', provider: 'CodeStarSourceConnection', version: '1' },
        configuration: {
          ConnectionArn: github.connectionArn,
          FullRepositoryId: `${github.owner}/${github.repo}`,
          BranchName: this.plan.source.branch,
          OutputArtifactFormat: 'CODE_ZIP',
        },
      };
    }
    return {
      ...common,
      actionTypeId: { category: 'Source', owner: 'ThirdParty', provider: 'GitHub', version: '1' },
      configuration: {
        Owner: github.owner,
        Repo: github.repo,
        Branch: this.plan.source.branch,
        OAuthToken: oauthToken(github.githubTokenSecret!),
        PollForSourceChanges: false,
      },
    };
  }

  private renderCommands(action: CommandsPlanAction): codepipeline.CfnPipeline.ActionDeclarationProperty {
    const role = action.assumesDeployerRole ? this.deployRole(action.environment ?? '') : action.outputs.length > 0 ? this.packageRole : this.buildRole;
    const variables = Object.entries(action.env);
    const asVariables = variables.slice(0, COMMANDS_LIMITS.environmentVariables);
    // The action takes at most 10 variables; the rest are exported before the first command.
    const exported = variables.slice(COMMANDS_LIMITS.environmentVariables).map(([name, value]) => `export ${name}=${shellQuote(value)}`);
    const commands = [this.installCommand, ...exported, ...action.inputs.slice(1).map(secondaryInputLine), ...action.commands];
    checkCommands(this.plan, action, commands);
    return {
      name: action.name,
      runOrder: action.runOrder,
      actionTypeId: { category: 'Compute', owner: 'AWS', provider: 'Commands', version: '1' },
      roleArn: role.roleArn,
      commands,
      inputArtifacts: action.inputs.map((name) => ({ name })),
      ...(action.outputs.length > 0 ? { outputArtifacts: action.outputs.map((name) => ({ name, files: [`${artifactOutputDirectory(name)}/**/*`] })) } : {}),
      environmentVariables: asVariables.map(([name, value]) => ({ name, value, type: 'PLAINTEXT' })),
    };
  }
}

/**
 * A Commands action's output keeps the paths it was collected with (`.pipeline/<name>/...`), and
 * the contract says `CODEBUILD_SRC_DIR_<name>` holds the artifact's files themselves: point the
 * variable at the folder when it is there. All commands of the action run in one shell.
 */
function secondaryInputLine(name: string): string {
  const variable = secondarySourceVariable(name);
  const nested = `$${variable}/${artifactOutputDirectory(name)}`;
  return `if [ -d "${nested}" ]; then export ${variable}="${nested}"; fi`;
}

function renderApproval(action: ApprovalPlanAction, shared: SharedPipelineResources): codepipeline.CfnPipeline.ActionDeclarationProperty {
  return {
    name: action.name,
    runOrder: action.runOrder,
    actionTypeId: { category: 'Approval', owner: 'AWS', provider: 'Manual', version: '1' },
    configuration: {
      CustomData: action.comment.slice(0, 500),
      ...(shared.alertsTopicArn ? { NotificationArn: shared.alertsTopicArn } : {}),
    },
  };
}

function oauthToken(secretName: string): string {
  return `{{resolve:secretsmanager:${secretName}:SecretString}}`;
}

function sourceActionOf(plan: PipelinePlan): SourcePlanAction {
  const action = plan.stages.flatMap((s) => s.actions).find((a): a is SourcePlanAction => a.kind === 'source');
  if (!action) {
    throw new Error(`plan ${plan.pipelineName} has no source action`);
  }
  return action;
}

/** What the AWS engine needs of a plan that the plan schema does not guarantee. */
function checkPlan(plan: PipelinePlan): void {
  const problems: InputProblem[] = [];
  const where = `services.${plan.service}`;
  if (!plan.source.github) {
    problems.push({ where: `${where}.source.github`, message: 'required for the AWS engine: the repository its pipeline builds from' });
  }
  const timeouts = plan.stages.flatMap((s) => s.actions).filter((a): a is CommandsPlanAction => a.kind === 'commands').map((a) => a.timeoutMinutes);
  const longest = Math.max(0, ...timeouts);
  if (longest > COMMANDS_LIMITS.timeoutMinutes) {
    problems.push({
      where: `${where}.timeoutMinutes`,
      message: `${longest} minutes is more than a CodePipeline Commands action may run (${COMMANDS_LIMITS.timeoutMinutes}); use at most ${COMMANDS_LIMITS.timeoutMinutes}`,
    });
  }
  if (problems.length > 0) {
    throw new InputError(`the pipeline of ${plan.service} cannot be built in AWS`, problems);
  }
}

function checkCommands(plan: PipelinePlan, action: CommandsPlanAction, commands: readonly string[]): void {
  const problems: InputProblem[] = [];
  const where = `services.${plan.service}.commands (${plan.pipelineName}, action ${action.name})`;
  if (commands.length > COMMANDS_LIMITS.commands) {
    problems.push({ where, message: `${commands.length} commands; a Commands action runs at most ${COMMANDS_LIMITS.commands}` });
  }
  for (const line of commands) {
    if (line.length > COMMANDS_LIMITS.commandLength) {
      problems.push({ where, message: `a command of ${line.length} characters (a Commands action takes at most ${COMMANDS_LIMITS.commandLength}): ${line.slice(0, 60)}...` });
    }
  }
  if (problems.length > 0) {
    throw new InputError(`the pipeline of ${plan.service} does not fit CodePipeline's Commands action`, problems);
  }
}
