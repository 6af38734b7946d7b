/**
 * The GitHub Actions engine: a pipeline plan as a workflow, job for job. Built from the plan
 * alone: every job runs the plan's `service-pipelines step ...` lines, its permissions follow the
 * action's privilege, and its place follows the stages and run orders.
 *
 * - A commands action is a job (source and approval actions are not: every job checks the commit
 *   out, and an approval is the protection rule of the environment its deploy job runs in).
 * - Jobs of a stage with the same run order run in parallel; each group needs the one before.
 * - A `deploy` action runs in its GitHub environment (`environment: <env>`: the reviewers of the
 *   approval, the OIDC subject its deployer trusts), with `id-token: write`, and gets its
 *   credentials from `aws-actions/configure-aws-credentials`; no other job can mint a token.
 * - The package is built once, uploaded as an artifact with its digests as job outputs; every job
 *   that deploys it checks GitHub's digest of the artifact and gives the step the recorded ones.
 * - `redeploy-last-good` rollback: jobs in `<env>-rollback` (no reviewers) after a failure of the
 *   stage, redeploying the package of the last run that passed the stage, digest-checked.
 */
import { artifactOutputDirectory, secondarySourceVariable, STEP_ENV } from '../model/contract.js';
import { InputError } from '../model/errors.js';
import { actionCommandLines, shellQuote, stepCommandLine } from '../model/plan.js';
import type { CommandsPlanAction, PipelinePlan, PlanStage, PlansDocument } from '../model/plan-schema.js';
import { jobId, PACKAGE_OUTPUTS, rollbackEnvironmentName, taggedJobNamePrefix, webhookSecretName } from './names.js';
import { PINNED_ACTIONS } from './pinned-actions.js';
import { toolInstallStep, type GitHubToolSource } from './tool-source.js';
import { concat, expr, type Concurrency, type Expression, type Job, type Permissions, type Step, type Text, type Workflow, type WorkflowFile } from './workflow-model.js';

/** Options of `buildGitHubWorkflows`. */
export interface GitHubWorkflowsOptions {
  /** Where the runners get service-pipelines. */
  readonly tool: GitHubToolSource;
  /**
   * The runner label of every job.
   *
   * @default 'ubuntu-latest'
   */
  readonly runsOn?: string;
  /**
   * The Node.js version the jobs set up.
   *
   * @default '22'
   */
  readonly nodeVersion?: string;
}

/** A GitHub environment the workflows need: create it in the repository before the first run. */
export interface GitHubEnvironment {
  readonly repository: string;
  readonly name: string;
  /** Whether it needs required reviewers (the plan's approval). */
  readonly reviewers: boolean;
  /** The deployer role its jobs assume. */
  readonly deployerRoleArn: string;
  /** The branch its deployments may come from. */
  readonly branch: string;
  /** For a rollback environment, the environment it rolls back. */
  readonly rollbackOf?: string;
}

/** A repository secret the workflows read. */
export interface GitHubSecret {
  readonly repository: string;
  readonly name: string;
  readonly purpose: string;
}

/** What `buildGitHubWorkflows` gives. */
export interface GitHubWorkflows {
  readonly files: readonly WorkflowFile[];
  readonly environments: readonly GitHubEnvironment[];
  readonly secrets: readonly GitHubSecret[];
  /** What the plans ask for that GitHub Actions leaves out. */
  readonly warnings: readonly string[];
}

/** The longest a job runs on GitHub-hosted runners, in minutes. */
export const GITHUB_HOSTED_JOB_LIMIT_MINUTES = 360;

/**
 * A push workflow and, where the plans have one, a pull-request workflow per service.
 *
 * @throws InputError naming the pipeline and what GitHub Actions cannot do with it
 */
export function buildGitHubWorkflows(plans: PlansDocument, options: GitHubWorkflowsOptions): GitHubWorkflows {
  const files: WorkflowFile[] = [];
  const environments: GitHubEnvironment[] = [];
  const secrets: GitHubSecret[] = [];
  const warnings: string[] = [];
  const problems: { where: string; message: string }[] = [];
  plans.pipelines.forEach((plan, index) => {
    try {
      const built = new WorkflowBuilder(plan, `pipelines[${index}] (${plan.pipelineName})`, options).build();
      files.push(built.file);
      environments.push(...built.environments);
      secrets.push(...built.secrets.filter((s) => !secrets.some((t) => t.repository === s.repository && t.name === s.name)));
      warnings.push(...built.warnings);
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      problems.push(...error.problems);
    }
  });
  const names = new Map<string, string>();
  for (const file of files) {
    const key = `${file.repository.toLowerCase()}/${file.fileName.toLowerCase()}`;
    if (names.has(key)) {
      problems.push({ where: `pipeline ${file.pipelineName}`, message: `its workflow file ${file.fileName} is also ${names.get(key)}'s in ${file.repository}` });
    }
    names.set(key, file.pipelineName);
  }
  if (problems.length > 0) {
    throw new InputError('GitHub Actions cannot run these plans as they are; nothing was written', problems);
  }
  return { files, environments, secrets, warnings };
}

/** The concurrency of a workflow for the plan's execution mode. */
export function concurrencyOf(plan: Pick<PipelinePlan, 'executionMode' | 'pipelineName'>): Concurrency | undefined {
  const group = `service-pipelines-${plan.pipelineName}`;
  switch (plan.executionMode) {
    case 'SUPERSEDED':
      // One run at a time; of the runs waiting, the newest replaces the one before it.
      return { group, 'cancel-in-progress': false };
    case 'QUEUED':
      // One run at a time; the others wait their turn, in order (GitHub keeps up to 100 waiting).
      return { group, 'cancel-in-progress': false, queue: 'max' };
    case 'PARALLEL':
      return undefined;
    default:
      throw new InputError(`execution mode ${String(plan.executionMode)} has no GitHub Actions equivalent`, [
        { where: `pipeline ${plan.pipelineName}: executionMode`, message: 'SUPERSEDED, QUEUED or PARALLEL' },
      ]);
  }
}

const READ: Permissions = { contents: 'read' };

/** Which artifact of the run a plan artifact is, and where its files are. */
interface ArtifactRef {
  readonly artifact: string;
  readonly folder: string;
}

class WorkflowBuilder {
  private readonly jobs: Record<string, Job> = {};
  private readonly environments: GitHubEnvironment[] = [];
  private readonly warnings: string[] = [];
  private readonly repository: string;
  private readonly directory: string;
  private readonly webhookSecret?: string;
  /** The job that writes the package, and the artifact it writes. */
  private packageJob?: { id: string; artifact: string };
  /** Environments whose deploy waits for an approval not yet given to a job. */
  private readonly approvals = new Set<string>();

  constructor(
    private readonly plan: PipelinePlan,
    private readonly where: string,
    private readonly options: GitHubWorkflowsOptions,
  ) {
    const github = plan.source.github;
    if (!github) {
      throw new InputError('no repository', [
        { where: `${where}: source.github`, message: 'GitHub Actions runs a pipeline in its service\'s repository: give source.github (owner, repo)' },
      ]);
    }
    this.repository = `${github.owner}/${github.repo}`;
    this.directory = plan.source.directory.replace(/\/+$/, '') || '.';
    const webhook = plan.notifications.webhook;
    if (webhook && 'url' in webhook) {
      throw new InputError('the webhook cannot be reached from GitHub', [
        {
          where: 'notifications.webhook',
          message: `${webhook.url} is on this machine, for local runs; keep an https URL in a secret and give { secret: "<name>" } (GitHub Actions reads it from the repository secret ${webhookSecretName('<name>')})`,
        },
      ]);
    }
    if (webhook && plan.trigger === 'push') this.webhookSecret = webhookSecretName(webhook.secret);
    if (plan.trigger === 'push' && (plan.notifications.email.length > 0 || plan.notifications.slack)) {
      this.warnings.push(
        `${plan.pipelineName}: notifications.email and notifications.slack are AWS-only (SNS, AWS Chatbot); GitHub notifies by its own settings, and the webhook, if any, from a repository secret`,
      );
    }
  }

  build(): { file: WorkflowFile; environments: GitHubEnvironment[]; secrets: GitHubSecret[]; warnings: string[] } {
    const plan = this.plan;
    let previous: string[] = [];
    for (const stage of plan.stages) {
      const stageJobs: string[] = [];
      for (const group of runOrderGroups(stage.actions)) {
        const ids: string[] = [];
        for (const action of group) {
          switch (action.kind) {
            case 'source':
              // Every job checks the commit out: the Source artifact is the checkout.
              break;
            case 'approval':
              this.approvals.add(action.environment);
              if (this.webhookSecret) this.addJob(jobId('notify', 'approval', action.environment), this.approvalNotice(stage, action.comment, previous));
              break;
            case 'commands':
              ids.push(this.addCommandsJob(stage, action, previous, isLastGroup(stage, action.runOrder)));
              break;
            default:
              throw new InputError(`an action of kind ${(action as { kind: string }).kind} has no GitHub Actions job`, [
                { where: `${this.where}: ${stage.name}.${(action as { name: string }).name}`, message: 'source, commands or approval' },
              ]);
          }
        }
        if (ids.length > 0) {
          previous = ids;
          stageJobs.push(...ids);
        }
      }
      if (stage.rollback) this.addRollbackJobs(stage, stageJobs);
    }
    if (this.approvals.size > 0) {
      throw new InputError('an approval guards no deploy', [
        ...[...this.approvals].map((environment) => ({
          where: `${this.where}: Approve-${environment}`,
          message: `GitHub asks the reviewers of an environment when a job deploys to it, and no deploy action of ${environment} follows the approval`,
        })),
      ]);
    }
    if (this.webhookSecret) this.addJob('notify', this.resultNotice());

    const concurrency = concurrencyOf(plan);
    const branches = [plan.source.branch];
    const paths = plan.source.triggerPaths.length > 0 ? { paths: plan.source.triggerPaths } : {};
    const workflow: Workflow = {
      name: plan.pipelineName,
      on: plan.trigger === 'push' ? { push: { branches, ...paths } } : { pull_request: { branches, ...paths } },
      permissions: READ,
      ...(concurrency ? { concurrency } : {}),
      defaults: { run: { shell: 'bash' } },
      jobs: this.jobs,
    };
    return {
      file: { fileName: `${plan.pipelineName}.yml`, repository: this.repository, pipelineName: plan.pipelineName, workflow },
      environments: this.environments,
      secrets: this.webhookSecret ? [{ repository: this.repository, name: this.webhookSecret, purpose: 'the webhook URL (notifications.webhook)' }] : [],
      warnings: this.warnings,
    };
  }

  private addJob(id: string, job: Job): string {
    if (!/^[a-z][a-z0-9_-]*$/.test(id) || this.jobs[id] !== undefined) {
      throw new InputError(`two jobs would be named ${id}`, [{ where: this.where, message: 'give the actions names that differ in letters and digits' }]);
    }
    this.jobs[id] = job;
    return id;
  }

  /** The job of a commands action. */
  private addCommandsJob(stage: PlanStage, action: CommandsPlanAction, needs: readonly string[], lastGroup: boolean): string {
    const id = this.uniqueJobId(stage, action);
    const where = `${this.where}: ${stage.name}.${action.name}`;
    if (action.privilege === 'deploy' && this.plan.trigger === 'pull-request') {
      throw new InputError('a pull-request pipeline cannot deploy', [{ where, message: 'pull requests run untrusted code: their workflow has no job that can assume a deployer' }]);
    }
    const readsPackage = this.packageJob !== undefined && action.inputs.includes(this.packageJob.artifact);
    // The last jobs of a stage that rolls back carry the package they tested: see `taggedJobNamePrefix`.
    const tagged = lastGroup && stage.environment !== undefined && stage.rollback !== undefined && this.packageJob !== undefined;
    const dependsOnPackage = (readsPackage || tagged) && this.packageJob !== undefined && !needs.includes(this.packageJob.id);
    const job = this.commandsJob(stage, action, {
      needs: [...needs, ...(dependsOnPackage && this.packageJob ? [this.packageJob.id] : [])],
      name: tagged && this.packageJob ? concat(taggedJobNamePrefix(stage.name, action.name), expr(`needs.${this.packageJob.id}.outputs.${PACKAGE_OUTPUTS.manifest}`)) : `${stage.name} / ${action.name}`,
      artifacts: new Map(),
      where,
    });
    if (action.privilege === 'write-package') {
      if (this.packageJob || action.outputs.length !== 1) {
        throw new InputError('the package is written once, by one action', [{ where, message: 'one write-package action per pipeline, with one output artifact' }]);
      }
      this.packageJob = { id, artifact: action.outputs[0]! };
    }
    if (action.privilege === 'deploy') this.approvals.delete(action.environment!);
    return this.addJob(id, job);
  }

  private uniqueJobId(stage: PlanStage, action: CommandsPlanAction): string {
    const id = stage.environment ? jobId(action.name, stage.environment) : jobId(action.name);
    return this.jobs[id] === undefined ? id : jobId(stage.name, action.name);
  }

  /**
   * A commands job: check out, set up Node.js and the tool, fetch the input artifacts, run the
   * action's setup and then its step (or commands), and upload its outputs.
   */
  private commandsJob(
    stage: PlanStage,
    action: CommandsPlanAction,
    context: {
      needs: string[];
      name: Text;
      if?: Expression;
      artifacts: Map<string, ArtifactRef>;
      where: string;
      rollback?: { environment: string; jobOf: (name: string) => string };
    },
  ): Job {
    const deploys = action.privilege === 'deploy';
    const environment = action.environment;
    const planEnvironment = environment === undefined ? undefined : this.plan.environments.find((e) => e.name === environment);
    if (deploys && !planEnvironment) {
      throw new InputError(`no environment ${environment ?? '(none)'} in the plan`, [{ where: context.where, message: 'a deploy action names one of the plan\'s environments' }]);
    }
    if (action.timeoutMinutes > GITHUB_HOSTED_JOB_LIMIT_MINUTES) {
      this.warnings.push(`${context.where}: timeoutMinutes ${action.timeoutMinutes} is past the ${GITHUB_HOSTED_JOB_LIMIT_MINUTES} minutes GitHub-hosted runners give a job`);
    }
    const lastGood = context.rollback !== undefined && deploys;
    const steps: Step[] = [...this.prepareSteps()];
    const env: Record<string, Text> = { ...this.contractEnv() };
    for (const [name, value] of Object.entries(action.env)) {
      // The job assumes the deployer itself (configure-aws-credentials): a step must not assume it again.
      if (deploys && name === STEP_ENV.deployerRoleArn) continue;
      env[name] = value;
    }

    if (lastGood) {
      steps.push({
        name: `Find the last good release of ${environment!}`,
        id: 'last-good',
        env: { GITHUB_TOKEN: expr('github.token') },
        run: `service-pipelines github last-good --stage ${shellQuote(stage.name)} --artifact ${shellQuote(this.packageJob!.artifact)}`,
      });
    }
    for (const input of action.inputs) {
      if (input === 'Source') continue;
      const ref = context.artifacts.get(input) ?? { artifact: input, folder: this.artifactFolder(input) };
      steps.push(this.download(ref));
      env[secondarySourceVariable(input)] = concat(expr('github.workspace'), `/${ref.folder}`);
    }
    if (lastGood && this.packageJob) {
      const folder = this.artifactFolder(this.packageJob.artifact);
      steps.push({
        ...this.download({ artifact: this.packageJob.artifact, folder }),
        name: `Download ${this.packageJob.artifact} of the last good release`,
        with: {
          name: this.packageJob.artifact,
          path: folder,
          'run-id': expr('steps.last-good.outputs.run-id'),
          'github-token': expr('github.token'),
          'digest-mismatch': 'error',
        },
      });
    }
    const readsPackage = this.packageJob !== undefined && action.inputs.includes(this.packageJob.artifact);
    if (deploys && readsPackage && this.packageJob) {
      env['PACKAGE_SHA256'] = expr(`needs.${this.packageJob.id}.outputs.${PACKAGE_OUTPUTS.bundle}`);
      env['PACKAGE_MANIFEST_SHA256'] = expr(`needs.${this.packageJob.id}.outputs.${PACKAGE_OUTPUTS.manifest}`);
      steps.push({
        name: 'Check that the package digests were recorded',
        run: [
          'for digest in "$PACKAGE_SHA256" "$PACKAGE_MANIFEST_SHA256"; do',
          '  if ! [[ "$digest" =~ ^[0-9a-f]{64}$ ]]; then echo "::error::the package job recorded no digest of the package: refusing to deploy a package nothing pins"; exit 1; fi',
          'done',
        ].join('\n'),
      });
    }
    if (action.setup.length > 0) {
      steps.push({ name: 'Set up the workspace', run: action.setup.map(stepCommandLine).join('\n') });
    }
    if (deploys && planEnvironment) {
      steps.push({
        name: `Assume ${planEnvironment.deployerRoleName}`,
        uses: PINNED_ACTIONS.configureAwsCredentials,
        with: {
          'role-to-assume': planEnvironment.deployerRoleArn,
          'aws-region': planEnvironment.region,
          'role-session-name': concat('github-', expr('github.run_id'), '-', expr('github.run_attempt')),
          'role-duration-seconds': 3600,
        },
      });
      // A rollback follows a failure only where prod was touched (not a rejected approval, not a failed install).
      if (!lastGood) steps.push({ name: 'Record that the deploy started', id: 'started', run: 'echo "started=true" >> "$GITHUB_OUTPUT"' });
    }
    const main = lastGood && action.step ? { ...action, setup: [], step: { ...action.step, args: [...action.step.args, '--package', this.artifactFolderInService(this.packageJob!.artifact)] } } : { ...action, setup: [] };
    steps.push({
      name: action.name,
      ...(lastGood ? { env: { PACKAGE_MANIFEST_SHA256: expr(`steps.last-good.outputs.${PACKAGE_OUTPUTS.manifest}`) } } : {}),
      run: actionCommandLines(main).join('\n'),
    });
    if (action.privilege === 'write-package') {
      const name = action.outputs[0]!;
      steps.push({
        name: 'Record the package digests',
        id: 'digests',
        run: [
          `bundle=$(cat ${shellQuote(`${artifactOutputDirectory(name)}.sha256`)})`,
          `manifest=$(sha256sum ${shellQuote(`${artifactOutputDirectory(name)}/manifest.json`)} | cut -d ' ' -f 1)`,
          'for digest in "$bundle" "$manifest"; do',
          '  if ! [[ "$digest" =~ ^[0-9a-f]{64}$ ]]; then echo "::error::the package step wrote no digest of the package"; exit 1; fi',
          'done',
          `echo "${PACKAGE_OUTPUTS.bundle}=$bundle" >> "$GITHUB_OUTPUT"`,
          `echo "${PACKAGE_OUTPUTS.manifest}=$manifest" >> "$GITHUB_OUTPUT"`,
        ].join('\n'),
      });
    }
    for (const output of action.outputs) {
      const artifact = context.rollback ? context.rollback.jobOf(output) : output;
      context.artifacts.set(output, { artifact, folder: this.artifactFolder(output) });
      steps.push({
        name: `Upload ${artifact}`,
        uses: PINNED_ACTIONS.uploadArtifact,
        with: { name: artifact, path: this.artifactFolder(output), 'if-no-files-found': 'error', 'include-hidden-files': true },
      });
    }

    const outputs: Record<string, Expression> = {};
    if (action.privilege === 'write-package') {
      outputs[PACKAGE_OUTPUTS.bundle] = expr(`steps.digests.outputs.${PACKAGE_OUTPUTS.bundle}`);
      outputs[PACKAGE_OUTPUTS.manifest] = expr(`steps.digests.outputs.${PACKAGE_OUTPUTS.manifest}`);
    }
    if (deploys && !lastGood) outputs['started'] = expr('steps.started.outputs.started');

    let githubEnvironment: string | undefined;
    if (deploys && planEnvironment) {
      githubEnvironment = lastGood ? rollbackEnvironmentName(planEnvironment.name) : planEnvironment.name;
      if (!this.environments.some((e) => e.name === githubEnvironment)) {
        this.environments.push({
          repository: this.repository,
          name: githubEnvironment,
          reviewers: !lastGood && this.approvals.has(planEnvironment.name),
          deployerRoleArn: planEnvironment.deployerRoleArn,
          branch: this.plan.source.branch,
          ...(lastGood ? { rollbackOf: planEnvironment.name } : {}),
        });
      }
    }
    const permissions: Permissions = deploys ? { contents: 'read', 'id-token': 'write', ...(lastGood ? { actions: 'read' } : {}) } : READ;
    return {
      name: context.name,
      'runs-on': this.runsOn(),
      ...(context.needs.length > 0 ? { needs: context.needs } : {}),
      ...(context.if ? { if: context.if } : {}),
      ...(githubEnvironment ? { environment: githubEnvironment } : {}),
      permissions,
      'timeout-minutes': action.timeoutMinutes,
      ...(Object.keys(outputs).length > 0 ? { outputs } : {}),
      env,
      ...(this.directory === '.' ? {} : { defaults: { run: { 'working-directory': this.directory } } }),
      steps,
    };
  }

  /**
   * The rollback of a stage: its actions as jobs after the stage, when one of the stage's jobs
   * failed after a deploy started; each later group only when the one before succeeded.
   */
  private addRollbackJobs(stage: PlanStage, stageJobs: readonly string[]): void {
    const rollback = stage.rollback!;
    const where = `${this.where}: ${stage.name}.rollback`;
    if (!this.packageJob) {
      throw new InputError('nothing to roll back to', [{ where, message: 'redeploy-last-good redeploys the package: the plan has no write-package action' }]);
    }
    const deployJobs = stageJobs.filter((id) => this.jobs[id]?.environment !== undefined);
    if (deployJobs.length === 0) {
      throw new InputError('nothing to roll back', [{ where, message: `the stage has no deploy action in ${rollback.environment}` }]);
    }
    const artifacts = new Map<string, ArtifactRef>();
    const context = { environment: rollback.environment, jobOf: (name: string) => `${name}_rollback` };
    let previous: string[] = [];
    for (const group of runOrderGroups(rollback.actions)) {
      const ids: string[] = [];
      for (const action of group) {
        const id = jobId(action.name, rollback.environment);
        const first = previous.length === 0;
        // After a failure of the stage, if a deploy had started; each later group after the one before succeeded.
        const condition = first
          ? `!cancelled() && contains(needs.*.result, 'failure') && (${deployJobs.map((d) => `needs.${d}.outputs.started == 'true'`).join(' || ')})`
          : `!cancelled() && ${previous.map((p) => `needs.${p}.result == 'success'`).join(' && ')}`;
        const job = this.commandsJob(stage, action, {
          needs: first ? [...stageJobs] : previous,
          name: `${stage.name} / ${action.name}`,
          if: expr(condition),
          artifacts,
          where: `${where}.${action.name}`,
          rollback: context,
        });
        ids.push(this.addJob(id, job));
      }
      previous = ids;
    }
  }

  /** The steps every job starts with: the commit, Node.js, the tool. */
  private prepareSteps(): Step[] {
    return [
      { name: 'Check out the commit', uses: PINNED_ACTIONS.checkout, with: { 'persist-credentials': false } },
      { name: 'Set up Node.js', uses: PINNED_ACTIONS.setupNode, with: { 'node-version': this.options.nodeVersion ?? '22' } },
      toolInstallStep(this.options.tool),
    ];
  }

  /** What every step gets, as in CodeBuild and locally (README, "Environment given to every step"). */
  private contractEnv(): Record<string, Text> {
    return {
      [STEP_ENV.srcDir]: this.directory === '.' ? expr('github.workspace') : concat(expr('github.workspace'), `/${this.directory}`),
      [STEP_ENV.buildId]: concat(this.plan.pipelineName, ':', expr('github.run_id'), '-', expr('github.run_attempt')),
      [STEP_ENV.resolvedSourceVersion]: expr('github.sha'),
      [STEP_ENV.buildSucceeding]: '1',
    };
  }

  private download(ref: ArtifactRef): Step {
    return {
      name: `Download ${ref.artifact}`,
      uses: PINNED_ACTIONS.downloadArtifact,
      with: { name: ref.artifact, path: ref.folder, 'digest-mismatch': 'error' },
    };
  }

  /** An artifact's folder, relative to the repository (actions take paths from the workspace). */
  private artifactFolder(name: string): string {
    const inService = this.artifactFolderInService(name);
    return this.directory === '.' ? inService : `${this.directory}/${inService}`;
  }

  /** An artifact's folder, relative to the service's folder (where the steps run). */
  private artifactFolderInService(name: string): string {
    return artifactOutputDirectory(name);
  }

  private runsOn(): string {
    return this.options.runsOn ?? 'ubuntu-latest';
  }

  /** The job that posts to the webhook that a deploy waits for its reviewers. */
  private approvalNotice(stage: PlanStage, comment: string, needs: readonly string[]): Job {
    return this.noticeJob(`${stage.name} / Notify`, needs, {
      TEXT: `${this.plan.pipelineName} waits for approval: ${comment}`,
    });
  }

  /** The last job: posts the run's result (failed or succeeded) to the webhook. */
  private resultNotice(): Job {
    const needs = Object.keys(this.jobs).filter((id) => !id.startsWith('notify-'));
    return this.noticeJob(
      'Notify',
      needs,
      {
        FAILED: expr("contains(needs.*.result, 'failure')"),
        CANCELLED: expr("contains(needs.*.result, 'cancelled')"),
        NEEDS: expr('toJSON(needs)'),
        PIPELINE: this.plan.pipelineName,
      },
      expr('always()'),
    );
  }

  private noticeJob(name: string, needs: readonly string[], env: Record<string, Text>, condition?: Expression): Job {
    const script = env['TEXT'] !== undefined
      ? ['text="$TEXT $GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID"']
      : [
          'if [ "$CANCELLED" = "true" ]; then echo "the run was cancelled: nothing to announce"; exit 0; fi',
          'if [ "$FAILED" = "true" ]; then',
          '  failed=$(jq -r \'[to_entries[] | select(.value.result == "failure") | .key] | join(", ")\' <<< "$NEEDS")',
          '  text="$PIPELINE failed ($failed) at ${GITHUB_SHA:0:7}: $GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID"',
          'else',
          '  text="$PIPELINE succeeded at ${GITHUB_SHA:0:7}: $GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID"',
          'fi',
        ];
    const webhook = this.plan.notifications.webhook;
    const jsonKey = webhook && 'jsonKey' in webhook ? webhook.jsonKey : undefined;
    return {
      name,
      'runs-on': this.runsOn(),
      ...(needs.length > 0 ? { needs: [...needs] } : {}),
      ...(condition ? { if: condition } : {}),
      permissions: {},
      'timeout-minutes': 5,
      steps: [
        {
          name: 'Post to the webhook',
          env: { ...env, WEBHOOK: expr(`secrets.${this.webhookSecret!}`), ...(jsonKey ? { WEBHOOK_JSON_KEY: jsonKey } : {}) },
          run: [
            'url="$WEBHOOK"',
            'if [ -n "${WEBHOOK_JSON_KEY:-}" ]; then url=$(jq -r --arg key "$WEBHOOK_JSON_KEY" \'.[$key] // empty\' <<< "$WEBHOOK"); fi',
            `if [[ "$url" != https://* ]]; then echo "::warning::the repository secret ${this.webhookSecret!} holds no https URL: not posting"; exit 0; fi`,
            ...script,
            'body=$(jq -n --arg text "$text" \'{text: $text, blocks: [{type: "section", text: {type: "mrkdwn", text: $text}}]}\')',
            'if ! curl --fail --silent --show-error --max-time 10 -H "Content-Type: application/json" --data "$body" "$url" > /dev/null; then echo "::warning::the webhook did not take the message"; fi',
          ].join('\n'),
        },
      ],
    };
  }
}

/** The actions of a stage by run order, lowest first. */
function runOrderGroups<T extends { runOrder: number }>(actions: readonly T[]): T[][] {
  const orders = [...new Set(actions.map((a) => a.runOrder))].sort((a, b) => a - b);
  return orders.map((order) => actions.filter((a) => a.runOrder === order));
}

function isLastGroup(stage: PlanStage, runOrder: number): boolean {
  return runOrder === Math.max(...stage.actions.map((a) => a.runOrder));
}
