import { Validations } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import { Construct } from 'constructs';
import { renderBuildspec, type Buildspec } from '../buildspec/index.js';
import { InputError } from '../model/errors.js';
import type { CommandsPlanAction, PipelinePlan } from '../model/plan-schema.js';
import { actionCommandLines, enterDirectoryLine, stepCommandLine } from '../model/plan.js';
import { triggerPathsRegExpSource } from '../model/trigger-paths.js';
import { CODEBUILD_IMAGE, RUNTIME_VERSIONS } from './node-runtime.js';

/** Properties of a `PullRequestValidation`. */
export interface PullRequestValidationProps {
  /** The service's pull-request plan (`trigger: 'pull-request'`): its Build stage is what runs. */
  readonly plan: PipelinePlan;
  /**
   * The role the build runs with: third-party code runs with it, so it must trust only
   * `codebuild.amazonaws.com` (for this project) and reach no artifact and no deployer.
   */
  readonly roleArn: string;
  /**
   * Who must approve, by a comment on the pull request, before CodeBuild builds it: pull requests
   * of contributors without one of `approverRoles` wait for that approval.
   *
   * @default 'ALL_PULL_REQUESTS'
   */
  readonly requiresCommentApproval?: 'ALL_PULL_REQUESTS' | 'FORK_PULL_REQUESTS';
  /**
   * The repository roles whose pull requests build at once, and who may approve the others.
   *
   * @default ['GITHUB_WRITE', 'GITHUB_MAINTAIN', 'GITHUB_ADMIN']: the repository's members with write access
   */
  readonly approverRoles?: readonly string[];
  /** What the build runs first, after selecting Node.js: the Node.js check and the installation of service-pipelines itself. */
  readonly setupCommands: readonly string[];
  /**
   * The build image: a CodeBuild standard image that holds Node.js 22 (`runtime-versions` selects it).
   *
   * @default 'aws/codebuild/amazonlinux2-x86_64-standard:5.0'
   */
  readonly image?: string;
}

/**
 * The test-only run of a service's pull requests: one CodeBuild project started by GitHub's
 * pull-request webhook, running the Build stage of the pull-request plan.
 *
 * Why CodeBuild and not a second pipeline: the result must show on the pull request, and
 * CodeBuild is the AWS service that reports it there by itself (`ReportBuildStatus`: a commit
 * status named after `BuildStatusConfig.Context`, pending then success or failure, linking to the
 * build's logs), through the same CodeConnections connection. A CodePipeline V2 pull-request
 * trigger starts executions but reports nothing to GitHub; reporting would take a function and a
 * GitHub token. One project also costs fewer resources than a pipeline and its roles.
 */
export class PullRequestValidation extends Construct {
  /** The CodeBuild project. */
  readonly project: codebuild.CfnProject;
  /** The project's name (the plan's pipeline name, `<service>-pr`). */
  readonly projectName: string;

  constructor(scope: Construct, id: string, props: PullRequestValidationProps) {
    super(scope, id);
    const { plan } = props;
    if (plan.trigger !== 'pull-request') {
      throw new Error(`PullRequestValidation ${this.node.path}: the plan ${plan.pipelineName} is a ${plan.trigger} plan; give the pull-request plan`);
    }
    const github = plan.source.github;
    if (!github?.connectionArn) {
      throw new InputError(`the pull-request validation of ${plan.service} needs a CodeConnections source`, [
        { where: `services.${plan.service}.source.github.connectionArn`, message: 'required for pull-request validation in AWS (or set pullRequests: false)' },
      ]);
    }
    this.projectName = plan.pipelineName;
    const actions = plan.stages.flatMap((stage) => stage.actions).filter((a): a is CommandsPlanAction => a.kind === 'commands');
    if (actions.length === 0) {
      throw new Error(`PullRequestValidation ${this.node.path}: the plan ${plan.pipelineName} has no commands to run`);
    }
    const variables = sharedEnvironment(actions, plan.pipelineName);
    const enter = enterDirectoryLine(plan);
    // The buildspec is typed and rendered by src/buildspec, the same model the local engine runs.
    const buildSpec: Buildspec = {
      version: 0.2,
      env: { shell: 'bash', variables },
      phases: {
        install: { 'runtime-versions': { ...RUNTIME_VERSIONS }, commands: [...props.setupCommands] },
        // The source is the whole repository: the steps run in the service's folder of it.
        build: { commands: [...(enter ? [enter] : []), ...buildCommands(actions)] },
      },
    };
    this.project = new codebuild.CfnProject(this, 'Project', {
      name: this.projectName,
      description: `Pull requests of ${github.owner}/${github.repo}: lint, tests and package of ${plan.service}, reported on the pull request`,
      serviceRole: props.roleArn,
      source: {
        type: 'GITHUB',
        location: `https://github.com/${github.owner}/${github.repo}.git`,
        auth: { type: 'CODECONNECTIONS', resource: github.connectionArn },
        reportBuildStatus: true,
        buildStatusConfig: { context: `service-pipelines/${plan.service}` },
        buildSpec: renderBuildspec(buildSpec),
        gitCloneDepth: 1,
      },
      artifacts: { type: 'NO_ARTIFACTS' },
      environment: {
        type: 'LINUX_CONTAINER',
        computeType: 'BUILD_GENERAL1_SMALL',
        image: props.image ?? CODEBUILD_IMAGE,
        imagePullCredentialsType: 'CODEBUILD',
      },
      triggers: {
        webhook: true,
        filterGroups: [
          [
            { type: 'EVENT', pattern: 'PULL_REQUEST_CREATED, PULL_REQUEST_UPDATED, PULL_REQUEST_REOPENED' },
            { type: 'BASE_REF', pattern: `^refs/heads/${escapeRegExp(plan.source.branch)}$` },
            // A service of a monorepo: only pull requests that change its folder or what it depends on.
            ...(plan.source.triggerPaths.length ? [{ type: 'FILE_PATH', pattern: triggerPathsRegExpSource(plan.source.triggerPaths) }] : []),
          ],
        ],
        // A pull request runs its author's code (scripts, dependencies, tests): from anyone outside
        // the repository's writers, only once one of them approved it by a comment.
        pullRequestBuildPolicy: {
          requiresCommentApproval: props.requiresCommentApproval ?? 'ALL_PULL_REQUESTS',
          approverRoles: [...(props.approverRoles ?? ['GITHUB_WRITE', 'GITHUB_MAINTAIN', 'GITHUB_ADMIN'])],
        },
      },
      // The actions run one after another in this one build: their limits add up (CodeBuild allows 8 hours).
      timeoutInMinutes: Math.min(480, actions.reduce((sum, a) => sum + a.timeoutMinutes, 0)),
      logsConfig: { cloudWatchLogs: { status: 'ENABLED' } },
    });
    Validations.of(this.project).acknowledge({
      id: 'AwsSolutions-CB4',
      reason:
        'The pull-request build writes no artifact and no cache, so no key has anything to encrypt; its logs go to CloudWatch. It is kept away from the artifact key, which third-party code has no business with.',
    });
  }
}

/** The build actions of a pull-request plan share their environment (the Build stage's); one buildspec holds it. */
function sharedEnvironment(actions: readonly CommandsPlanAction[], pipelineName: string): Record<string, string> {
  const first = actions[0]!.env;
  for (const action of actions) {
    const same = Object.keys(action.env).length === Object.keys(first).length && Object.entries(action.env).every(([k, v]) => first[k] === v);
    if (!same) {
      throw new Error(`pull-request plan ${pipelineName}: action ${action.name} has an environment of its own; this backend runs the build actions in one build`);
    }
  }
  return { ...first };
}

/**
 * The build actions' commands in the plan's order, one after the other in one build. A setup
 * step the actions share (the same `install`) runs once: it prepares the same workspace.
 */
export function buildCommands(actions: readonly CommandsPlanAction[]): string[] {
  const setups = new Set<string>();
  const lines: string[] = [];
  const ordered = [...actions].sort((a, b) => a.runOrder - b.runOrder);
  for (const action of ordered) {
    for (const line of action.setup.map(stepCommandLine)) {
      if (setups.has(line)) continue;
      setups.add(line);
      lines.push(line);
    }
    lines.push(...actionCommandLines({ setup: [], ...(action.step ? { step: action.step } : {}), ...(action.commands ? { commands: action.commands } : {}) }));
  }
  return lines;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
