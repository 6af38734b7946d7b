import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import { Construct } from 'constructs';
import { renderBuildspec, type Buildspec } from '../buildspec/index.js';
import { InputError } from '../model/errors.js';
import type { CommandsPlanAction, PipelinePlan } from '../model/plan-schema.js';
import { STEP_COMMAND } from '../model/plan.js';

/** Properties of a `PullRequestValidation`. */
export interface PullRequestValidationProps {
  /** The service's pull-request plan (`trigger: 'pull-request'`): its Build stage is what runs. */
  readonly plan: PipelinePlan;
  /** The role the build runs with: it must trust `codebuild.amazonaws.com` and hold no deploy rights. */
  readonly roleArn: string;
  /** The KMS key CodeBuild encrypts the build's output with. */
  readonly encryptionKeyArn: string;
  /** The shell line that installs service-pipelines itself. */
  readonly installCommand: string;
  /**
   * The build image: a CodeBuild standard image with Node 20.
   *
   * @default 'aws/codebuild/standard:7.0'
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
    // The buildspec is typed and rendered by src/buildspec, the same model the local engine runs.
    const buildSpec: Buildspec = {
      version: 0.2,
      env: { shell: 'bash', variables },
      phases: {
        install: { 'runtime-versions': { nodejs: '20' }, commands: [props.installCommand] },
        build: { commands: buildCommands(actions) },
      },
    };
    this.project = new codebuild.CfnProject(this, 'Project', {
      name: this.projectName,
      description: `Pull requests of ${github.owner}/${github.repo}: lint, tests and package of ${plan.service}, reported on the pull request`,
      serviceRole: props.roleArn,
      encryptionKey: props.encryptionKeyArn,
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
        image: props.image ?? 'aws/codebuild/standard:7.0',
        imagePullCredentialsType: 'CODEBUILD',
      },
      triggers: {
        webhook: true,
        filterGroups: [
          [
            { type: 'EVENT', pattern: 'PULL_REQUEST_CREATED, PULL_REQUEST_UPDATED, PULL_REQUEST_REOPENED' },
            { type: 'BASE_REF', pattern: `^refs/heads/${escapeRegExp(plan.source.branch)}$` },
          ],
        ],
      },
      // The actions run one after another in this one build: their limits add up (CodeBuild allows 8 hours).
      timeoutInMinutes: Math.min(480, actions.reduce((sum, a) => sum + a.timeoutMinutes, 0)),
      logsConfig: { cloudWatchLogs: { status: 'ENABLED' } },
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
 * The build actions' commands in the plan's order, one after the other in one build. The
 * `step install` line each action starts with runs once: it installs the same dependencies.
 */
export function buildCommands(actions: readonly CommandsPlanAction[]): string[] {
  const seen = new Set<string>();
  const lines: string[] = [];
  const ordered = [...actions].sort((a, b) => a.runOrder - b.runOrder);
  for (const action of ordered) {
    for (const line of action.commands) {
      if (line.startsWith(`${STEP_COMMAND} install`) && seen.has(line)) continue;
      seen.add(line);
      lines.push(line);
    }
  }
  return lines;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
