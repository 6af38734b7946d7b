/**
 * The local engine: runs a pipeline plan on this machine, the plan being the whole contract. This
 * module holds an execution's life (its record, heartbeat, recovery of dead runs, end and
 * notifications) and wires the parts that do the rest, each testable alone:
 *
 * - the scheduler (`scheduler.ts`): what runs when, and the outcome; pure;
 * - one runner per kind of action (`runners/`): source, commands (the buildspec executor, the
 *   plan's step calls in this process), approval;
 * - the run recorder (`run-recorder.ts`): the history and the events, each action's log streamed
 *   to its file;
 * - the local deployments (`local-deployments.ts`): what each environment served here serves;
 * - the stage locks (`stage-locks.ts`), over the state store (`state-store.ts`).
 */
import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { FailureError, InputError } from '../model/errors.js';
import { deployStageName } from '../model/plan.js';
import { pipelinePlanSchema, type PipelinePlan, type PlanAction, type PlanStage } from '../model/plan-schema.js';
import { systemClock, type Clock } from '../runtime/clock.js';
import { nodeProcesses, nodeProcessTable, type Processes, type ProcessTable } from '../runtime/process.js';
import type { AwsSeam } from '../steps/aws.js';
import { ArtifactStore, removeReadOnly, type StoredArtifact } from './artifact-store.js';
import type { RunEvent } from './events.js';
import type { RunBuildspec } from './executor/types.js';
import { storedLocalDeployments, type LocalDeployments } from './local-deployments.js';
import { GC_LOCK, maintenanceHolderAlive } from './maintenance.js';
import { describeWebhook, notifyWebhook, type HttpPost, type RunNotification } from './notifier.js';
import { HEARTBEAT_INTERVAL_MS, markRunningHere, recoverAbandonedExecutions, unmarkRunningHere } from './recovery.js';
import { RunRecorder } from './run-recorder.js';
import { ApprovalRunner, type ApprovalPrompt } from './runners/approval-runner.js';
import { CommandsRunner } from './runners/commands-runner.js';
import { errorText, type RunContext } from './runners/run-context.js';
import { SourceRunner } from './runners/source-runner.js';
import { runStages, type ActionOutcome, type RollbackOutcome, type ScheduleOutcome, type SchedulerPorts, type StageEntry } from './scheduler.js';
import { ensureCliShim } from './shim.js';
import { enterStage } from './stage-locks.js';
import { StateStore, type ExecutionStatus, type FinalExecutionStatus, type NewExecution } from './state-store.js';

export type { ApprovalDecision, ApprovalPrompt, ApprovalRequest } from './runners/approval-runner.js';

/** The state folder's name, in the working folder. */
export const STATE_FOLDER = '.service-pipelines';

/** What `runPipeline` needs besides the plan: where to keep state, how to decide approvals, and the seams. */
export interface RunPipelineOptions {
  /** The state folder (`<working folder>/.service-pipelines`), absolute. */
  readonly home: string;
  /** The folder the plan's relative paths (`source.path`) are relative to: the config's folder. */
  readonly baseDir: string;
  /**
   * The file the plan came from (the config, or a plans document), recorded in the history.
   *
   * @default - none recorded
   */
  readonly definitionFile?: string;
  /**
   * How errors name the plan's `source.path` (the config key it came from, `services[0].source.path`).
   *
   * @default - `source.path of the <pipeline> plan`
   */
  readonly sourceWhere?: string;
  /**
   * Stop after this environment's deploy stage.
   *
   * @default - run every stage
   */
  readonly until?: string;
  /**
   * Decide every approval at once, as `--approve` / `--reject` do.
   *
   * @default - ask `prompt`, and wait for `service-pipelines approve|reject`
   */
  readonly approval?: 'approve' | 'reject';
  /** Asks on a terminal. @default - no prompt: the run waits for `service-pipelines approve|reject` */
  readonly prompt?: ApprovalPrompt;
  /** Keep serving the local deployments this run started after it ends (`--keep-stages`). @default false */
  readonly keepStages?: boolean;
  /** Receives progress. @default - none */
  readonly onEvent?: (event: RunEvent) => void;
  /** Stops the run (its running actions are killed; it ends STOPPED). */
  readonly signal?: AbortSignal;
  /** @default nodeProcesses */
  readonly processes?: Processes;
  /** Looks at and signals processes (recovery of dead runs, servers). @default nodeProcessTable */
  readonly processTable?: ProcessTable;
  /** @default systemClock */
  readonly clock?: Clock;
  /** The buildspec executor. @default - `runBuildspec` of `./executor/index.js` */
  readonly runBuildspec?: RunBuildspec;
  /**
   * How the plan's step calls (`service-pipelines step ...`) run: in this process (the same code,
   * environment, output and status, without a Node start-up each), or as the commands the plan
   * renders, as CI runners run them.
   *
   * @default 'in-process'
   */
  readonly stepCalls?: 'in-process' | 'command';
  /** The AWS seam of in-process steps. @default - the AWS SDK */
  readonly aws?: AwsSeam;
  /** The local deployments. @default - those of `home`, over its history (`local-deployments.ts`) */
  readonly deployments?: LocalDeployments;
  /** The HTTP seam for the webhook. @default fetchPost */
  readonly post?: HttpPost;
  /** The environment actions start from (PATH, HOME...). @default process.env */
  readonly baseEnv?: NodeJS.ProcessEnv;
  /** How often waits (stage locks, approvals decided elsewhere) look again, in ms. @default 500 */
  readonly pollMs?: number;
  /** Called once the execution is recorded, with its id. */
  readonly onExecutionCreated?: (executionId: string) => void;
  /**
   * Run the execution `serve` recorded as QUEUED (with this id) instead of recording a new one.
   *
   * @default - a new execution
   */
  readonly queuedExecutionId?: string;
  /**
   * The commit to run (a webhook's sha), taken from the git repository of `source.path` (fetched
   * from its remote when absent), instead of the folder as it is.
   *
   * @default - the folder as it is, uncommitted changes included
   */
  readonly revision?: string;
  /** How often the run says it is alive, in ms. @default HEARTBEAT_INTERVAL_MS */
  readonly heartbeatMs?: number;
  /** Between SIGTERM and SIGKILL for the processes a dead run left, in ms. @default RECOVERY_GRACE_MS */
  readonly recoveryGraceMs?: number;
}

/** How a run ended. */
export interface RunPipelineResult {
  readonly executionId: string;
  readonly status: ExecutionStatus;
  readonly reason?: string;
}

/**
 * Run a pipeline plan on this machine: the plan is the whole contract (`source.path`, relative
 * to `options.baseDir`, is the service's folder). Bad input (a plan that is not one, a missing
 * source folder, a bad `until` or `revision`) throws `InputError` before anything is recorded;
 * everything after is recorded, and a failure of the pipeline is a result with status FAILED,
 * not an exception.
 */
export async function runPipeline(plan: PipelinePlan, options: RunPipelineOptions): Promise<RunPipelineResult> {
  const parsed = pipelinePlanSchema.safeParse(plan);
  if (!parsed.success) {
    throw new InputError(
      'the plan to run is not a pipeline plan',
      parsed.error.issues.map((issue) => ({ where: `plan: ${issue.path.join('.') || '(the plan)'}`, message: issue.message })),
    );
  }
  const where = options.sourceWhere ?? `source.path of the ${plan.pipelineName} plan`;
  if (plan.source.path === undefined) {
    throw new InputError(`the ${plan.pipelineName} pipeline has no source.path: local runs need the service's folder`, [
      { where, message: 'required for local runs: the folder of the service, relative to the config file' },
    ]);
  }
  const sourcePath = path.resolve(options.baseDir, plan.source.path);
  const source = statSync(sourcePath, { throwIfNoEntry: false });
  if (!source) {
    throw new InputError(`the source folder of service "${plan.service}" does not exist: ${sourcePath}`, [{ where, message: `no folder at ${sourcePath}` }]);
  }
  if (!source.isDirectory()) {
    throw new InputError(`the source of service "${plan.service}" is not a folder: ${sourcePath}`, [
      { where, message: `${sourcePath} is a file; give the service's folder (the one with its package.json)` },
    ]);
  }
  if (options.revision !== undefined && !/^[0-9a-f]{7,64}$/i.test(options.revision)) {
    throw new InputError(`--revision ${options.revision}: not a commit id`, [{ where: '--revision', message: 'give a commit sha (hexadecimal, 7 to 64 characters)' }]);
  }
  const stagesToRun = stagesUntil(plan, options.until);
  const runBuildspec = options.runBuildspec ?? (await import('./executor/index.js')).runBuildspec;
  return new ExecutionRun(options, plan, { sourcePath, sourceWhere: where }, stagesToRun, runBuildspec).start();
}

/** The stages of `plan` up to the deploy stage of `until`. */
function stagesUntil(plan: PipelinePlan, until: string | undefined): readonly PlanStage[] {
  if (until === undefined) {
    return plan.stages;
  }
  const names = plan.environments.map((e) => e.name);
  if (!names.includes(until)) {
    throw new InputError(`--until ${until}: the ${plan.pipelineName} pipeline has no environment "${until}"`, [
      { where: '--until', message: names.length ? `give one of: ${names.join(', ')}` : 'this pipeline deploys to no environment' },
    ]);
  }
  const last = plan.stages.findIndex((s) => s.name === deployStageName(until));
  return plan.stages.slice(0, last + 1);
}

/** One execution, from its first record to its last. */
class ExecutionRun {
  private readonly clock: Clock;
  private readonly processes: Processes;
  private readonly table: ProcessTable;
  private readonly home: string;
  private readonly id: string;
  private readonly heartbeats = new AbortController();
  private readonly controller = new AbortController();
  /** What the Source action found (`CODEBUILD_RESOLVED_SOURCE_VERSION`). */
  private readonly source = { resolvedVersion: '' };
  private store!: StateStore;
  private recorder!: RunRecorder;
  private deployments!: LocalDeployments;

  constructor(
    private readonly options: RunPipelineOptions,
    private readonly plan: PipelinePlan,
    private readonly origin: { readonly sourcePath: string; readonly sourceWhere: string },
    private readonly stagesToRun: readonly PlanStage[],
    private readonly runBuildspec: RunBuildspec,
  ) {
    this.clock = options.clock ?? systemClock;
    this.processes = options.processes ?? nodeProcesses;
    this.table = options.processTable ?? nodeProcessTable;
    this.id = options.queuedExecutionId ?? randomUUID();
    this.home = path.resolve(options.home);
  }

  /** Why the run was stopped, as its caller said (`interrupted`...). */
  private stopReason(): string {
    const reason: unknown = this.controller.signal.reason;
    return `stopped${reason instanceof Error && reason.message ? ` (${reason.message})` : ''}`;
  }

  async start(): Promise<RunPipelineResult> {
    this.store = StateStore.open(this.home);
    this.recorder = new RunRecorder({ store: this.store, executionId: this.id, home: this.home, clock: this.clock, ...(this.options.onEvent ? { onEvent: this.options.onEvent } : {}) });
    this.deployments = this.options.deployments ?? storedLocalDeployments({ home: this.home, store: this.store, processTable: this.table, clock: this.clock });
    const onAbort = () => this.controller.abort(this.options.signal?.reason);
    this.options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      // Before the recovery: a queued record of this run names this process already.
      markRunningHere(this.id);
      await this.recover();
      const startedAt = this.clock.now();
      const recorded = await this.record(this.newExecution(startedAt));
      if (recorded !== undefined) {
        return recorded;
      }
      void this.beat();
      this.options.onExecutionCreated?.(this.id);
      this.recorder.emit({
        type: 'execution-started',
        executionId: this.id,
        pipeline: this.plan.pipelineName,
        home: this.home,
        at: startedAt,
        stages: this.stagesToRun.map((s) => ({
          name: s.name,
          ...(s.environment ? { environment: s.environment } : {}),
          actions: s.actions.map((a) => ({ name: a.name, runOrder: a.runOrder, kind: a.kind })),
        })),
      });
      const awsOnly = [...(this.plan.notifications.email.length ? ['e-mail'] : []), ...(this.plan.notifications.slack ? ['Slack (AWS Chatbot)'] : [])];
      if (awsOnly.length) {
        this.recorder.notice(`${awsOnly.join(' and ')} notifications are AWS-only: a local run sends only notifications.webhook`);
      }
      // A pipeline failure is a FAILED execution, never an exception that leaves the execution
      // in progress, its stage locks held and its deployments serving: whatever went wrong is recorded.
      const outcome = await this.runStages().catch((error: unknown) => ({ status: 'FAILED' as const, reason: `the engine failed: ${errorText(error)}` }));
      return await this.finish(outcome, startedAt);
    } finally {
      this.heartbeats.abort();
      unmarkRunningHere(this.id);
      this.options.signal?.removeEventListener('abort', onAbort);
      this.store.close();
    }
  }

  private newExecution(startedAt: number): NewExecution {
    return {
      id: this.id,
      pipeline: this.plan.pipelineName,
      service: this.plan.service,
      trigger: this.plan.trigger,
      executionMode: this.plan.executionMode,
      process: this.table.identify(process.pid) ?? { pid: process.pid },
      processScope: this.table.scope(),
      configFile: this.options.definitionFile ?? '',
      sourcePath: this.origin.sourcePath,
      ...(this.options.until ? { untilEnvironment: this.options.until } : {}),
      ...(this.options.revision ? { requestedRevision: this.options.revision } : {}),
      startedAt,
      stages: this.plan.stages.map((stage) => ({
        name: stage.name,
        ...(stage.environment ? { environment: stage.environment } : {}),
        onFailure: stage.onFailure,
        actions: stage.actions.map((a) => ({ name: a.name, runOrder: a.runOrder, kind: a.kind, ...(a.kind === 'commands' && a.step ? { step: a.step.step } : {}) })),
      })),
    };
  }

  /**
   * Record the execution (or take over the one `serve` queued), once no `gc` is at work: it
   * may be removing the stored artifacts this run would reuse. Returns a result when there is
   * nothing to run (the queued record was stopped before this run could start).
   */
  private async record(execution: NewExecution): Promise<RunPipelineResult | undefined> {
    for (let told = false; ; told = true) {
      const outcome = this.store.transaction(() => {
        const holder = this.store.maintenance(GC_LOCK);
        if (holder && maintenanceHolderAlive(holder, this.table, this.clock.now())) {
          return { waitFor: holder };
        }
        if (holder) {
          this.store.endMaintenance(GC_LOCK);
        }
        if (this.options.queuedExecutionId === undefined) {
          this.store.createExecution(execution);
          return { recorded: true as const };
        }
        const claim = this.store.claimQueuedExecution(execution);
        return claim.claimed ? { recorded: true as const } : { unclaimed: claim.record };
      });
      if ('recorded' in outcome) {
        return undefined;
      }
      if ('unclaimed' in outcome) {
        if (!outcome.unclaimed) {
          throw new InputError(`no execution ${this.id} in ${this.store.file}`, [{ where: '--queued-execution', message: 'give the id of an execution `serve` queued' }]);
        }
        // Stopped (or given up on) before this run could start: nothing to run.
        return { executionId: this.id, status: outcome.unclaimed.status, ...(outcome.unclaimed.statusReason ? { reason: outcome.unclaimed.statusReason } : {}) };
      }
      if (!told) {
        this.recorder.notice(`waiting for \`service-pipelines gc\` (pid ${outcome.waitFor.process.pid}) to finish`);
      }
      if (this.controller.signal.aborted) {
        throw new FailureError(`${this.stopReason()} while waiting for \`service-pipelines gc\` to finish`);
      }
      await this.clock.sleep(this.options.pollMs ?? 500, this.controller.signal);
    }
  }

  /**
   * Say the run is alive, every few seconds, until it ends. A run whose record was ended by
   * another process (which took its heartbeat for stopped) stops: its record says it is over.
   */
  private async beat(): Promise<void> {
    const interval = this.options.heartbeatMs ?? HEARTBEAT_INTERVAL_MS;
    while (!this.heartbeats.signal.aborted) {
      await this.clock.sleep(interval, this.heartbeats.signal);
      if (this.heartbeats.signal.aborted) {
        return;
      }
      try {
        if (!this.store.heartbeat(this.id, this.clock.now())) {
          this.controller.abort(new Error('another process found this run dead and ended its record'));
          return;
        }
      } catch {
        // A busy or unwritable history: the next beat tries again.
      }
    }
  }

  /** End runs whose process is gone, and prune old workspaces. */
  private async recover(): Promise<void> {
    await this.recoverDead();
    await this.pruneWorkspaces();
  }

  /** End runs whose process is gone (what their actions left running first), and stop the servers they left. */
  private async recoverDead(): Promise<void> {
    const recovered = await recoverAbandonedExecutions(this.store, {
      clock: this.clock,
      processTable: this.table,
      ...(this.options.recoveryGraceMs === undefined ? {} : { graceMs: this.options.recoveryGraceMs }),
    });
    for (const id of recovered) {
      this.recorder.notice(`execution ${id} was left in progress by a process that is gone: marked FAILED`);
      await this.deployments.stopServersStartedBy(id).catch(() => []);
    }
  }

  /** Workspaces of older finished runs go (their logs and artifacts stay): they can be large. */
  private async pruneWorkspaces(): Promise<void> {
    const keep = new Set(this.store.executions({ limit: 5 }).map((e) => e.id));
    const runs = path.join(this.home, 'runs');
    for (const id of await readdir(runs).catch(() => [] as string[])) {
      const execution = keep.has(id) ? undefined : this.store.execution(id);
      if (execution && execution.finishedAt !== null) {
        await removeReadOnly(path.join(runs, id, 'work'));
      }
    }
  }

  /** The runners and the scheduler's ports, then the stages. */
  private async runStages(): Promise<ScheduleOutcome> {
    const context: RunContext = {
      executionId: this.id,
      plan: this.plan,
      home: this.home,
      store: this.store,
      recorder: this.recorder,
      artifactStore: new ArtifactStore(path.join(this.home, 'artifacts')),
      artifacts: new Map<string, StoredArtifact>(),
      source: this.source,
      clock: this.clock,
      processes: this.processes,
      processTable: this.table,
      signal: this.controller.signal,
      stopReason: () => this.stopReason(),
    };
    const source = new SourceRunner(context, { ...this.origin, ...(this.options.revision ? { revision: this.options.revision } : {}) });
    const commands = new CommandsRunner(context, {
      runBuildspec: this.runBuildspec,
      baseEnv: this.options.baseEnv ?? process.env,
      shimDir: await ensureCliShim(this.home),
      stepCalls: this.options.stepCalls ?? 'in-process',
      deployments: this.deployments,
      ...(this.options.aws ? { aws: this.options.aws } : {}),
    });
    const approvals = new ApprovalRunner(context, {
      ...(this.options.approval ? { approval: this.options.approval } : {}),
      ...(this.options.prompt ? { prompt: this.options.prompt } : {}),
      pollMs: this.options.pollMs ?? 500,
      notify: (notification) => this.notify(notification),
    });
    return runStages(this.stagesToRun, this.schedulerPorts((stage, action) => {
      switch (action.kind) {
        case 'source':
          return source.run(stage, action);
        case 'commands':
          return commands.run(stage, action);
        case 'approval':
          return approvals.run(stage, action);
        default:
          throw new Error(`the local engine does not support actions of kind "${(action as { kind: string }).kind}"`);
      }
    }));
  }

  /** What the scheduler's ports do here: the history, the locks, the events, the deployments. */
  private schedulerPorts(run: (stage: PlanStage, action: PlanAction) => Promise<ActionOutcome>): SchedulerPorts {
    const startedAt = new Map<string, number>();
    return {
      stopReason: () => (this.controller.signal.aborted ? this.stopReason() : undefined),
      enterStage: (stage) => this.enterStage(stage),
      stageStarted: (stage) => {
        const at = this.clock.now();
        startedAt.set(stage.name, at);
        this.store.updateStage(this.id, stage.name, { status: 'IN_PROGRESS', startedAt: at });
        this.recorder.emit({ type: 'stage-started', stage: stage.name, at });
      },
      runAction: (stage, action, rollback) => {
        if (rollback) {
          this.store.addAction(this.id, stage.name, { name: action.name, runOrder: action.runOrder, kind: 'rollback', ...(action.kind === 'commands' && action.step ? { step: action.step.step } : {}) });
        }
        return run(stage, action);
      },
      skipActions: (stage, actions, reason) =>
        this.store.transaction(() => {
          for (const later of actions) this.store.updateAction(this.id, stage.name, later.name, { status: 'SKIPPED', reason });
        }),
      rollbackStarted: async (stage, reason) => {
        const environment = stage.environment!;
        const lastGood = (await this.deploymentOf(environment))?.lastGood;
        this.store.startRollback({ executionId: this.id, stage: stage.name, environment, toRelease: lastGood?.release ?? null, reason, startedAt: this.clock.now() });
        this.recorder.emit({ type: 'rollback-started', stage: stage.name, environment, reason });
      },
      rollbackFinished: (stage, outcome) => this.rollbackFinished(stage, outcome),
      stageFinished: (stage, outcome) => {
        const finishedAt = this.clock.now();
        const status = outcome.ok ? 'SUCCEEDED' : 'FAILED';
        this.store.updateStage(this.id, stage.name, { status, finishedAt, ...(outcome.reason ? { reason: outcome.reason } : {}) });
        this.store.unlockStage(this.plan.pipelineName, stage.name, this.id);
        const durationMs = finishedAt - (startedAt.get(stage.name) ?? finishedAt);
        this.recorder.emit({ type: 'stage-finished', stage: stage.name, status, durationMs, ...(outcome.reason ? { reason: outcome.reason } : {}) });
      },
      deployStageSucceeded: async (stage) => {
        // The deployment this execution made current passed its acceptance tests: it is the one to roll back to.
        const deployment = await this.deploymentOf(stage.environment!, { deployedByThisRun: true });
        if (deployment) {
          await this.deployments.markGood(deployment.service, deployment.environment, this.id, this.clock.now());
        }
      },
    };
  }

  /** Wait for a stage's turn (see `stage-locks.ts`). */
  private async enterStage(stage: PlanStage): Promise<StageEntry> {
    this.store.updateStage(this.id, stage.name, { status: 'WAITING' });
    let entry;
    try {
      entry = await enterStage({
        store: this.store,
        clock: this.clock,
        pipeline: this.plan.pipelineName,
        stage: stage.name,
        executionId: this.id,
        mode: this.plan.executionMode,
        pollMs: this.options.pollMs ?? 500,
        signal: this.controller.signal,
        onWait: (holder) => this.recorder.emit({ type: 'stage-waiting', stage: stage.name, ...(holder ? { holder } : {}) }),
        recover: () => this.recoverDead(),
      });
    } catch {
      return { entered: false, status: 'STOPPED', reason: `${this.stopReason()} while waiting to enter ${stage.name}` };
    }
    return entry.entered ? entry : { entered: false, status: 'SUPERSEDED', reason: `superseded by execution ${entry.supersededBy} while waiting to enter ${stage.name}` };
  }

  private async rollbackFinished(stage: PlanStage, outcome: { readonly ok: boolean; readonly failure?: string }): Promise<RollbackOutcome> {
    const environment = stage.environment!;
    const release = outcome.ok ? (await this.deploymentOf(environment, { deployedByThisRun: true }))?.current?.release : undefined;
    this.store.finishRollback(this.id, stage.name, outcome.ok ? 'SUCCEEDED' : 'FAILED', this.clock.now(), {
      ...(release !== undefined ? { toRelease: release } : {}),
      ...(outcome.failure ? { failureReason: outcome.failure } : {}),
    });
    this.recorder.emit({ type: 'rollback-finished', stage: stage.name, environment, status: outcome.ok ? 'SUCCEEDED' : 'FAILED', ...(release !== undefined ? { release } : {}) });
    return { ...outcome, ...(release !== undefined ? { release } : {}) };
  }

  /**
   * The local deployment of an environment as the deploy step keyed it: under the pipeline's name
   * or serverless.yml's (`serverlessService`), the pipeline's first. With `deployedByThisRun`,
   * only one whose current release this execution made current; else the one with a last good release.
   */
  private async deploymentOf(environment: string, options: { deployedByThisRun?: boolean } = {}) {
    const names = [...new Set([this.plan.service, this.plan.serverlessService])];
    const candidates = (await this.deployments.list()).filter((d) => d.environment === environment && names.includes(d.service));
    candidates.sort((a, b) => names.indexOf(a.service) - names.indexOf(b.service));
    return options.deployedByThisRun ? candidates.find((d) => d.current?.executionId === this.id) : (candidates.find((d) => d.lastGood) ?? candidates[0]);
  }

  private async finish(outcome: { status: ExecutionStatus; reason?: string }, startedAt: number): Promise<RunPipelineResult> {
    this.heartbeats.abort();
    const finishedAt = this.clock.now();
    const skipped = this.plan.stages.slice(this.stagesToRun.length);
    if (outcome.status === 'SUCCEEDED') {
      this.store.transaction(() => {
        // A record another process ended (it took this run for dead, and freed its locks) stays as it is.
        if (this.store.execution(this.id)?.status !== 'IN_PROGRESS') {
          return;
        }
        for (const stage of skipped) {
          this.store.updateStage(this.id, stage.name, { status: 'SKIPPED', reason: `not run: --until ${this.options.until}` });
        }
        this.store.setExecutionStatus(this.id, 'SUCCEEDED', { finishedAt });
      });
    } else {
      this.store.endExecution(this.id, outcome.status as FinalExecutionStatus, outcome.reason ?? outcome.status.toLowerCase(), finishedAt);
    }
    this.store.unlockAll(this.id);
    if (!this.options.keepStages) {
      try {
        const stopped = await this.deployments.stopServersStartedBy(this.id);
        if (stopped.length) {
          this.recorder.notice(`stopped the local stages this run started: ${stopped.join(', ')} (--keep-stages keeps them)`);
        }
      } catch (error) {
        this.recorder.notice(`could not stop the local stages this run started: ${errorText(error)}`);
      }
    }
    if (outcome.status === 'SUCCEEDED') {
      await removeReadOnly(path.join(this.home, 'runs', this.id, 'work'));
    }
    if (outcome.status === 'SUCCEEDED' || outcome.status === 'FAILED') {
      await this.notify({
        kind: outcome.status === 'SUCCEEDED' ? 'succeeded' : 'failed',
        pipeline: this.plan.pipelineName,
        executionId: this.id,
        detail: outcome.status === 'SUCCEEDED' ? `Source ${this.source.resolvedVersion.slice(0, 12)} went through every stage.` : (outcome.reason ?? 'failed'),
      });
    }
    // As recorded: another process may have ended the record first.
    const recorded = this.store.execution(this.id);
    const status = recorded?.status ?? outcome.status;
    const reason = recorded?.statusReason ?? outcome.reason;
    this.recorder.emit({ type: 'execution-finished', executionId: this.id, status, durationMs: finishedAt - startedAt, ...(reason ? { reason } : {}) });
    return { executionId: this.id, status, ...(reason ? { reason } : {}) };
  }

  private async notify(notification: RunNotification): Promise<void> {
    const webhook = this.plan.notifications.webhook;
    if (!webhook) {
      return;
    }
    const problem = await notifyWebhook(webhook, notification, { env: this.options.baseEnv ?? process.env, ...(this.options.post ? { post: this.options.post } : {}) });
    if (problem) {
      this.recorder.notice(`notification not delivered to ${describeWebhook(webhook)}: ${problem}`);
    }
  }
}
