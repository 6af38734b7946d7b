import { Annotations, Stack } from 'aws-cdk-lib';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { secondarySourceVariable, STEP_ENV } from '../model/contract.js';
import { InputError, type InputProblem } from '../model/errors.js';
import type { ApprovalPlanAction, CommandsPlanAction, PipelinePlan, PlanAction, PlanStage, SourcePlanAction } from '../model/plan-schema.js';
import { COMMANDS_ACTION_TIMEOUT_MINUTES } from '../model/config.js';
import { actionCommandLines, enterDirectoryLine, outputsArtifactName, PACKAGE_ARTIFACT, partitionOf, serviceOutputDirectory, shellQuote, SOURCE_ARTIFACT } from '../model/plan.js';
import { FILE_PATH_FILTER_LIMITS } from '../model/trigger-paths.js';
import {
  acceptanceActionRoleName,
  artifactKeyPrefix,
  buildActionRoleName,
  codebuildLogGroupName,
  commandsLogGroupName,
  deployActionRoleName,
  invokerRoleArn,
  invokerRoleName,
  PACKAGE_DIGEST_NAMESPACE,
  PACKAGE_DIGEST_VARIABLES,
  PACKAGE_MANIFEST,
  packageActionRoleName,
  pullRequestRoleName,
} from './names.js';
import { acknowledgeWildcards } from './acknowledge.js';
import { nodeRuntimeLine } from './node-runtime.js';
import { PullRequestValidation } from './pull-request-validation.js';
import type { ToolInstall } from './tool-distribution.js';

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
   * How the actions install service-pipelines (a `ToolDistribution`, usually in the shared stack):
   * every action and the pull-request build run its commands first, and every role they run
   * with gets its statements.
   */
  readonly tool: ToolInstall;
}

/** CodePipeline's Commands action: at most 50 commands of at most 1000 characters, 10 environment variables, 55 minutes. */
const COMMANDS_LIMITS = { commands: 50, commandLength: 1000, environmentVariables: 10, timeoutMinutes: COMMANDS_ACTION_TIMEOUT_MINUTES } as const;

/** Why each wildcard statement of the pipeline's roles is safe, by Sid: the cdk-nag acknowledgements. */
const PIPELINE_STATEMENT_REASONS: Readonly<Record<string, string>> = {
  ActionLogs: "The log streams of this pipeline's own log group, /aws/codepipeline/<pipeline>.",
  ReadArtifacts:
    "Objects of the artifacts this role reads, each under this pipeline's key prefix and the artifact's own folder (<pipeline[0..20]>/<artifact[0..10]>/): CodePipeline names every object at random.",
  WriteArtifacts:
    "Objects of the one artifact this role writes, under this pipeline's key prefix and that artifact's folder: CodePipeline names every object at random.",
  ArtifactKey: 'Data-key actions (kms:GenerateDataKey*, kms:ReEncrypt*) on the artifact key only.',
  AlertsKey: 'kms:GenerateDataKey* on the alerts key only, to publish approval notifications.',
  PullRequestBuildLogs: "The log streams of the pull-request project's own log group, /aws/codebuild/<project>.",
  ReadToolTarball:
    'The packed service-pipelines tarballs under the shared stack\'s asset prefix of the CDK bootstrap bucket (<prefix>*.tgz), each checked against the sha256 the tool parameter names before it is installed: one grant for every tool version, so an upgrade changes no pipeline.',
};

/**
 * The pipeline of one service (the article's `ServicePipeline`), mapped from its plan onto
 * CodePipeline V2: each plan stage becomes a stage, each plan action an action.
 *
 * - Source: GitHub through a CodeConnections connection, started by a V2 push trigger on the
 *   branch (or the article's OAuth token from Secrets Manager, with a webhook, for parity).
 * - Commands actions: CodePipeline's `Commands` action, which runs on CodeBuild managed compute
 *   without a CodeBuild project. Each selects Node.js 22 and checks it, installs the tool by its
 *   digest (`ToolDistribution`), then runs the plan's commands with the plan's environment, each
 *   under the plan's time limit. Outputs are the `.pipeline/<artifact>/` folders; the Package
 *   action also records the package's digests as output variables, which every deploy receives.
 * - Approvals: manual approval actions that notify the alerts topic.
 * - A stage with `onFailure: ROLLBACK` rolls back to the last successful execution's artifacts
 *   and variables.
 *
 * Isolation, with few resources: lint and test actions (which run third-party packages) share
 * one role with no deploy rights that reads the source and writes nothing; only the Package role
 * writes the package; each environment's deploy action has a role that writes only its outputs
 * and can assume only that environment's deployer role; each environment's acceptance tests have
 * a role that reads only that environment's outputs and can assume only its invoker role (which
 * may invoke the service's functions, nothing else); the pull-request build has a role of its
 * own, which the pipeline cannot assume. Each role reaches only the artifact folders it reads or
 * writes. Roles carry inline policies (no `AWS::IAM::Policy` resources), and the bucket, key and
 * alerts are shared by all pipelines.
 */
export class ServicePipeline extends Construct {
  /** The pipeline. */
  readonly pipeline: codepipeline.CfnPipeline;
  /** Its name. */
  readonly pipelineName: string;
  /** The role CodePipeline runs the pipeline (and its source and approval actions) with. */
  readonly pipelineRole: iam.Role;
  /** The role of the lint and test actions: no deploy rights, reads the source. */
  readonly buildRole: iam.Role;
  /** The role of each environment's acceptance tests, by environment name: reads that environment's outputs, may assume its invoker role. */
  readonly acceptanceRoles: Readonly<Record<string, iam.Role>>;
  /** The role of the pull-request build: its own repository and logs, nothing of the pipeline's. */
  readonly pullRequestRole?: iam.Role;
  /** The role of the Package action: writes the package artifact, no deploy rights. */
  readonly packageRole: iam.Role;
  /** The role of each environment's deploy actions, by environment name. */
  readonly deployRoles: Readonly<Record<string, iam.Role>>;
  /** The pull-request validation, when there is one. */
  readonly pullRequests?: PullRequestValidation;

  private readonly plan: PipelinePlan;
  /** What every action runs first: the Node.js check, then the tool's installation. */
  private readonly setupCommands: readonly string[];
  private readonly artifactNames: ReadonlyMap<string, string>;

  constructor(scope: Construct, id: string, props: ServicePipelineProps) {
    super(scope, id);
    const { plan, shared } = props;
    if (plan.trigger !== 'push') {
      throw new Error(`ServicePipeline ${this.node.path}: the plan ${plan.pipelineName} is a ${plan.trigger} plan; give the push plan (and the pull-request plan as pullRequestPlan)`);
    }
    this.plan = plan;
    this.pipelineName = plan.pipelineName;
    this.setupCommands = [nodeRuntimeLine(), ...props.tool.installCommands];
    const toolStatements = props.tool.policyStatements;
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

    this.artifactNames = cloudArtifactNames(plan);
    const keyPrefix = artifactKeyPrefix(plan.pipelineName);
    // CodePipeline stores each object of an artifact under `<pipeline[0..20]>/<artifact[0..10]>/<random>`:
    // a role reaches exactly the artifacts it reads or writes (names unique within 10 characters).
    const objectsOf = (artifact: string) => `${shared.artifactBucketArn}/${keyPrefix}/${this.cloudArtifactName(artifact).slice(0, 10)}/*`;
    const commandsLogs = `arn:${partition}:logs:${stack.region}:${stack.account}:log-group:${commandsLogGroupName(plan.pipelineName)}`;
    // Who may read and write which artifact: only the pipeline writes Source, only Package writes
    // Package, and each deploy writes only its own outputs. Lint, tests and acceptance tests run
    // third-party code and only read what they test.
    const artifactStatements = (access: { read: readonly string[] | 'all'; write?: readonly string[]; writeActions?: readonly string[] }): iam.PolicyStatement[] => [
      new iam.PolicyStatement({
        sid: 'ReadArtifacts',
        actions: ['s3:GetObject', 's3:GetObjectVersion'],
        resources: access.read === 'all' ? [`${shared.artifactBucketArn}/${keyPrefix}/*`] : access.read.map(objectsOf),
      }),
      ...(access.write
        ? [new iam.PolicyStatement({ sid: 'WriteArtifacts', actions: ['s3:PutObject', ...(access.writeActions ?? [])], resources: access.write.map(objectsOf) })]
        : []),
      new iam.PolicyStatement({ sid: 'ArtifactBucket', actions: ['s3:GetBucketLocation', 's3:GetBucketVersioning'], resources: [shared.artifactBucketArn] }),
      new iam.PolicyStatement({
        sid: 'ArtifactKey',
        actions: access.write ? ['kms:Decrypt', 'kms:Encrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:DescribeKey'] : ['kms:Decrypt', 'kms:DescribeKey'],
        resources: [shared.artifactKeyArn],
      }),
    ];
    const actionLogs = new iam.PolicyStatement({
      sid: 'ActionLogs',
      actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [commandsLogs, `${commandsLogs}:*`],
    });

    // The pipeline role may assume the action roles, and they trust it: the pipeline role names
    // them by ARN (built from their names) so that CloudFormation sees no reference cycle.
    const roleArn = (name: string) => `arn:${partition}:iam::${stack.account}:role/${name}`;
    const actionRoleNames = [
      buildActionRoleName(plan.service),
      packageActionRoleName(plan.service),
      ...plan.environments.flatMap((e) => [deployActionRoleName(plan.service, e.name), acceptanceActionRoleName(plan.service, e.name)]),
    ];
    const pipelineStatements = [
      new iam.PolicyStatement({ sid: 'AssumeActionRoles', actions: ['sts:AssumeRole'], resources: actionRoleNames.map(roleArn) }),
      // The source action writes Source with the pipeline role; PutObjectAcl as aws-cdk-lib's
      // CodeStarConnectionsSourceAction grants it (bucket.grantPutAcl: s3:PutObjectAcl, s3:PutObjectVersionAcl).
      ...artifactStatements({ read: 'all', write: [SOURCE_ARTIFACT], writeActions: ['s3:PutObjectAcl', 's3:PutObjectVersionAcl'] }),
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

    this.buildRole = new iam.Role(this, 'BuildRole', {
      roleName: buildActionRoleName(plan.service),
      assumedBy: pipelinePrincipal,
      description: `Lint and test actions of ${plan.service}: no deploy rights, reads the source`,
      inlinePolicies: { Build: new iam.PolicyDocument({ statements: [actionLogs, ...toolStatements, ...artifactStatements({ read: [SOURCE_ARTIFACT] })] }) },
    });
    this.packageRole = new iam.Role(this, 'PackageRole', {
      roleName: packageActionRoleName(plan.service),
      assumedBy: pipelinePrincipal,
      description: `The Package action of ${plan.service}: the only writer of the package artifact, no deploy rights`,
      inlinePolicies: { Package: new iam.PolicyDocument({ statements: [actionLogs, ...toolStatements, ...artifactStatements({ read: [SOURCE_ARTIFACT], write: [PACKAGE_ARTIFACT] })] }) },
    });

    const deployRoles: Record<string, iam.Role> = {};
    for (const environment of plan.environments) {
      deployRoles[environment.name] = new iam.Role(this, `DeployRole-${environment.name}`, {
        roleName: deployActionRoleName(plan.service, environment.name),
        assumedBy: pipelinePrincipal,
        description: `Deploy actions of ${plan.service} to ${environment.name}: may assume ${environment.deployerRoleName} in ${environment.account} only, writes only its outputs`,
        inlinePolicies: {
          Deploy: new iam.PolicyDocument({
            statements: [
              actionLogs,
              ...toolStatements,
              ...artifactStatements({ read: [SOURCE_ARTIFACT, PACKAGE_ARTIFACT], write: [outputsArtifactName(environment.name)] }),
              new iam.PolicyStatement({ sid: 'AssumeDeployerRole', actions: ['sts:AssumeRole', 'sts:TagSession'], resources: [environment.deployerRoleArn] }),
            ],
          }),
        },
      });
    }
    this.deployRoles = deployRoles;

    const acceptanceRoles: Record<string, iam.Role> = {};
    for (const environment of plan.environments) {
      acceptanceRoles[environment.name] = new iam.Role(this, `AcceptanceRole-${environment.name}`, {
        roleName: acceptanceActionRoleName(plan.service, environment.name),
        assumedBy: pipelinePrincipal,
        description: `Acceptance tests of ${plan.service} in ${environment.name}: read its outputs, may assume ${invokerRoleName(plan.service, environment.name)} in ${environment.account} only`,
        inlinePolicies: {
          Acceptance: new iam.PolicyDocument({
            statements: [
              actionLogs,
              ...toolStatements,
              ...artifactStatements({ read: [SOURCE_ARTIFACT, outputsArtifactName(environment.name)] }),
              new iam.PolicyStatement({ sid: 'AssumeInvokerRole', actions: ['sts:AssumeRole'], resources: [this.invokerRoleArn(environment)] }),
            ],
          }),
        },
      });
    }
    this.acceptanceRoles = acceptanceRoles;

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
                gitConfiguration: {
                  sourceActionName: sourceActionOf(plan).name,
                  // A service of a monorepo starts on changes to its folder and what it depends on only.
                  push: [{ branches: { includes: [plan.source.branch] }, ...(plan.source.triggerPaths.length ? { filePaths: { includes: [...plan.source.triggerPaths] } } : {}) }],
                },
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
      this.pullRequestRole = this.createPullRequestRole(pullRequestPlan, github.connectionArn!, toolStatements);
      this.pullRequests = new PullRequestValidation(this, 'PullRequests', {
        plan: pullRequestPlan,
        roleArn: this.pullRequestRole.roleArn,
        setupCommands: this.setupCommands,
      });
    }

    for (const role of [
      this.pipelineRole,
      this.buildRole,
      this.packageRole,
      ...Object.values(this.deployRoles),
      ...Object.values(this.acceptanceRoles),
      ...(this.pullRequestRole ? [this.pullRequestRole] : []),
    ]) {
      acknowledgeWildcards(role, PIPELINE_STATEMENT_REASONS);
    }
  }

  /** The name CodePipeline knows a plan artifact by (the plan's, unless two share their first 10 characters). */
  cloudArtifactName(artifact: string): string {
    const name = this.artifactNames.get(artifact);
    if (name === undefined) throw new Error(`ServicePipeline ${this.node.path}: the plan ${this.pipelineName} has no artifact "${artifact}"`);
    return name;
  }

  /**
   * The pull-request build's role: trusted by CodeBuild for this project only (not by the
   * pipeline), it reads no artifact and reaches the connection only for the service's repository.
   */
  private createPullRequestRole(pullRequestPlan: PipelinePlan, connectionArn: string, toolStatements: readonly iam.PolicyStatement[]): iam.Role {
    const stack = Stack.of(this);
    const partition = partitionOf(stack.region);
    const github = pullRequestPlan.source.github!;
    const projectLogs = `arn:${partition}:logs:${stack.region}:${stack.account}:log-group:${codebuildLogGroupName(pullRequestPlan.pipelineName)}`;
    const projectArn = `arn:${partition}:codebuild:${stack.region}:${stack.account}:project/${pullRequestPlan.pipelineName}`;
    return new iam.Role(this, 'PullRequestRole', {
      roleName: pullRequestRoleName(pullRequestPlan.service),
      assumedBy: new iam.ServicePrincipal('codebuild.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account }, ArnEquals: { 'aws:SourceArn': projectArn } },
      }),
      description: `Pull-request builds of ${pullRequestPlan.service} (third-party code): its repository through the connection, its logs; no artifact, no deploy`,
      inlinePolicies: {
        PullRequests: new iam.PolicyDocument({
          statements: [
            new iam.PolicyStatement({
              sid: 'PullRequestBuildLogs',
              actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
              resources: [projectLogs, `${projectLogs}:*`],
            }),
            ...toolStatements,
            // One statement per service prefix: each request carries only its own prefix's key.
            ...(['codeconnections', 'codestar-connections'] as const).map(
              (prefix) =>
                new iam.PolicyStatement({
                  sid: prefix === 'codeconnections' ? 'PullRequestSource' : 'PullRequestSourceCodeStar',
                  actions: [`${prefix}:UseConnection`],
                  resources: [connectionArn],
                  conditions: { StringEquals: { [`${prefix}:FullRepositoryId`]: `${github.owner}/${github.repo}` } },
                }),
            ),
            // CodeBuild fetches the source with a token of the connection; IAM has no repository
            // key for these two (docs: the token reaches what the GitHub app's installation reaches).
            new iam.PolicyStatement({
              sid: 'PullRequestConnection',
              actions: ['codeconnections:GetConnection', 'codeconnections:GetConnectionToken', 'codestar-connections:GetConnection', 'codestar-connections:GetConnectionToken'],
              resources: [connectionArn],
            }),
          ],
        }),
      },
    });
  }

  /** The role the acceptance tests of an environment run with. */
  acceptanceRole(environment: string): iam.Role {
    const role = this.acceptanceRoles[environment];
    if (!role) {
      throw new Error(`ServicePipeline ${this.node.path}: no environment "${environment}" in ${this.pipelineName}; it has ${Object.keys(this.acceptanceRoles).join(', ')}`);
    }
    return role;
  }

  /** The invoker role of an environment, in its account: what its acceptance tests assume to invoke the service's functions. */
  private invokerRoleArn(environment: PipelinePlan['environments'][number]): string {
    return invokerRoleArn(this.plan.service, environment.name, environment.account, partitionOf(environment.region));
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
    const common = { name: action.name, runOrder: action.runOrder, outputArtifacts: action.outputs.map((name) => ({ name: this.cloudArtifactName(name) })) };
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

  /** The role of an action, by the privilege the plan gives it. */
  private roleFor(action: CommandsPlanAction): iam.Role {
    switch (action.privilege) {
      case 'read':
        // A read action that targets an environment is its acceptance tests: that environment's outputs and invoker.
        return action.environment === undefined ? this.buildRole : this.acceptanceRole(action.environment);
      case 'write-package':
        return this.packageRole;
      case 'deploy':
        return this.deployRole(action.environment ?? '');
      default:
        throw new Error(`ServicePipeline: this backend does not support actions of privilege "${String(action.privilege)}" (${this.pipelineName}, action ${action.name})`);
    }
  }

  private renderCommands(action: CommandsPlanAction): codepipeline.CfnPipeline.ActionDeclarationProperty {
    const role = this.roleFor(action);
    const packages = action.outputs.includes(PACKAGE_ARTIFACT);
    // A deploy receives the digest the Package action recorded, as variables that no action can
    // change (a rollback receives those of the execution it rolls back to).
    const digests = action.privilege === 'deploy' && action.inputs.includes(PACKAGE_ARTIFACT)
      ? Object.values(PACKAGE_DIGEST_VARIABLES).map((name): [string, string] => [name, `#{${PACKAGE_DIGEST_NAMESPACE}.${name}}`])
      : [];
    // Acceptance tests invoke the stage's functions through the invoker role (`SERVICE_INVOKE`), never the deployer.
    const environment = action.privilege === 'read' && action.environment !== undefined ? this.plan.environments.find((e) => e.name === action.environment) : undefined;
    const invoker: [string, string][] = environment ? [[STEP_ENV.invokerRoleArn, this.invokerRoleArn(environment)]] : [];
    const variables = [...digests, ...invoker, ...Object.entries(action.env)];
    const asVariables = variables.slice(0, COMMANDS_LIMITS.environmentVariables);
    // The action takes at most 10 variables; the rest are exported before the first command.
    const exported = variables.slice(COMMANDS_LIMITS.environmentVariables).map(([name, value]) => `export ${name}=${shellQuote(value)}`);
    const limit = timeLimitLines(action);
    const enter = enterDirectoryLine(this.plan);
    const commands = [
      ...this.setupCommands,
      limit.start,
      ...exported,
      ...action.inputs.slice(1).map((name) => secondaryInputLine(name, this.cloudArtifactName(name), this.plan)),
      // The Source artifact is the whole repository: the steps run in the service's folder of it.
      ...(enter ? [enter] : []),
      ...actionCommandLines(action).map(limit.wrap),
      ...(packages ? packageDigestLines(this.plan) : []),
    ];
    checkCommands(this.plan, action, commands);
    return {
      name: action.name,
      runOrder: action.runOrder,
      actionTypeId: { category: 'Compute', owner: 'AWS', provider: 'Commands', version: '1' },
      roleArn: role.roleArn,
      commands,
      inputArtifacts: action.inputs.map((name) => ({ name: this.cloudArtifactName(name) })),
      ...(action.outputs.length > 0
        ? { outputArtifacts: action.outputs.map((name) => ({ name: this.cloudArtifactName(name), files: [`${serviceOutputDirectory(this.plan, name)}/**/*`] })) }
        : {}),
      ...(packages ? { namespace: PACKAGE_DIGEST_NAMESPACE, outputVariables: Object.values(PACKAGE_DIGEST_VARIABLES) } : {}),
      environmentVariables: asVariables.map(([name, value]) => ({ name, value, type: 'PLAINTEXT' })),
    };
  }
}

/**
 * The names CodePipeline knows the plan's artifacts by. CodePipeline keys an artifact's objects by
 * the first 10 characters of its name, and each role is scoped to the folders of its artifacts: two
 * artifacts sharing those 10 characters (`Outputs_preprod`, `Outputs_prod`) would share a folder,
 * and one deploy could write the other's outputs. The later one gets a name of its own
 * (`A<n>_<name>`, unique within 10 characters); every other keeps the plan's.
 */
export function cloudArtifactNames(plan: PipelinePlan): Map<string, string> {
  const names = new Map<string, string>();
  const folders = new Set<string>();
  plan.artifacts.forEach((artifact, index) => {
    const name = folders.has(artifact.name.slice(0, 10)) ? `A${index}_${artifact.name}`.slice(0, 100) : artifact.name;
    folders.add(name.slice(0, 10));
    names.set(artifact.name, name);
  });
  return names;
}

/**
 * A Commands action's output keeps the paths it was collected with (`.pipeline/<name>/...`), and
 * the contract says `CODEBUILD_SRC_DIR_<name>` holds the artifact's files themselves: point the
 * variable at the folder when it is there (and at the artifact CodePipeline knows by another
 * name, when it does). All commands of the action run in one shell.
 */
function secondaryInputLine(name: string, cloudName: string, plan: PipelinePlan): string {
  const variable = secondarySourceVariable(name);
  const renamed = cloudName === name ? '' : `export ${variable}="$${secondarySourceVariable(cloudName)}"; `;
  const nested = `$${variable}/${serviceOutputDirectory(plan, name)}`;
  return `${renamed}if [ -d "${nested}" ]; then export ${variable}="${nested}"; fi`;
}

/**
 * The Package action's last commands: its output variables, the digests of the package it wrote
 * (read by every Deploy action as `#{PackageDigest.PACKAGE_SHA256}`, outside any artifact).
 */
function packageDigestLines(plan: PipelinePlan): string[] {
  const manifest = `"$CODEBUILD_SRC_DIR/${serviceOutputDirectory(plan, PACKAGE_ARTIFACT)}/${PACKAGE_MANIFEST}"`;
  return [
    `export ${PACKAGE_DIGEST_VARIABLES.manifest}="$(sha256sum ${manifest} | cut -d ' ' -f 1)"`,
    `export ${PACKAGE_DIGEST_VARIABLES.bundle}="$(node -p 'const m = require(process.argv[1]); (m.bundle && m.bundle.sha256) || ""' ${manifest})"`,
  ];
}

/**
 * The plan's time limit, applied in the action (the Commands action takes no timeout of its own
 * and stops at 55 minutes): the first line sets the deadline and defines `sp_limit`, which runs a
 * step under `timeout` for what is left of it and names the limit when it is reached. All commands
 * of the action run in one shell.
 */
export function timeLimitLines(action: Pick<CommandsPlanAction, 'name' | 'timeoutMinutes'>): { start: string; wrap: (line: string) => string } {
  const message = `${action.name} ran past its time limit of ${action.timeoutMinutes} minutes (timeoutMinutes)`;
  return {
    start:
      `SP_DEADLINE=$(( $(date +%s) + ${action.timeoutMinutes * 60} )); ` +
      `sp_limit() { timeout --kill-after=30 "$(( SP_DEADLINE - $(date +%s) ))" "$@" || { s=$?; if [ "$s" -eq 124 ]; then echo "${message}" >&2; fi; return "$s"; }; }`,
    wrap: (line) => `sp_limit ${line}`,
  };
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
  problems.push(...triggerPathProblems(plan, where));
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

/**
 * The push trigger's file paths within CodePipeline's limits (`GitFilePathFilterCriteria`), and a
 * source that can filter by them: the OAuth-token source starts on every push.
 */
function triggerPathProblems(plan: PipelinePlan, where: string): InputProblem[] {
  const paths = plan.source.triggerPaths;
  const problems: InputProblem[] = [];
  if (paths.length > FILE_PATH_FILTER_LIMITS.patterns) {
    problems.push({ where: `${where}.source.triggerPaths`, message: `${paths.length} file path patterns; a CodePipeline push trigger takes at most ${FILE_PATH_FILTER_LIMITS.patterns}` });
  }
  for (const path of paths.filter((p) => p.length > FILE_PATH_FILTER_LIMITS.patternLength)) {
    problems.push({ where: `${where}.source.triggerPaths`, message: `"${path.slice(0, 40)}..." is ${path.length} characters; CodePipeline takes file path patterns of at most ${FILE_PATH_FILTER_LIMITS.patternLength}` });
  }
  if (paths.length > 0 && plan.source.github?.githubTokenSecret) {
    problems.push({
      where: `${where}.source.github.githubTokenSecret`,
      message: `the OAuth-token source starts the pipeline on every push to the repository, whatever it changes; a service in a folder of it (source.directory ${plan.source.directory}) needs a CodeConnections source (connectionArn), whose trigger filters by file path`,
    });
  }
  return problems;
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
