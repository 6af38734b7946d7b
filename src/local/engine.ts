/**
 * The local engine: runs a service's pipeline plan on this machine. The plan is data (from
 * `buildPipelinePlan`); this module only schedules it: stages in order, actions of a stage by
 * runOrder (the same runOrder in parallel), each commands action as a buildspec through the
 * buildspec executor, artifacts passed between actions through the content-addressed store.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream, statSync } from 'node:fs';
import { mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { FailureError, InputError } from '../model/errors.js';
import { LOCAL_ENV, artifactOutputDirectory } from '../model/contract.js';
import { actionCommandLines, deployStageName } from '../model/plan.js';
import { pipelinePlanSchema } from '../model/plan-schema.js';
import type { ApprovalPlanAction, CommandsPlanAction, PipelinePlan, PlanStage } from '../model/plan-schema.js';
import { systemClock, type Clock } from '../runtime/clock.js';
import { nodeProcesses, nodeProcessTable, type Processes, type ProcessTable } from '../runtime/process.js';
import { ArtifactStore, removeReadOnly, type StoredArtifact } from './artifact-store.js';
import type { RunEvent } from './events.js';
import type { BuildspecRunResult, LogLine, RunBuildspec } from './executor/types.js';
import { emulationNotes, listStages, readRelease, writeLastGood, type StageInfo } from '../steps/local-stages.js';
import { failureCause } from './failure-cause.js';
import type { LocalStagesPort } from './local-stages-port.js';
import { describeWebhook, notifyWebhook, type HttpPost, type RunNotification } from './notifier.js';
import { ensureCliShim } from './shim.js';
import { GC_LOCK, maintenanceHolderAlive } from './maintenance.js';
import { HEARTBEAT_INTERVAL_MS, markRunningHere, recoverAbandonedExecutions, unmarkRunningHere } from './recovery.js';
import { checkoutRevision } from './source-revision.js';
import { snapshotSource, type SourceSnapshot } from './source-snapshot.js';
import { enterStage } from './stage-locks.js';
import { StateStore, type ExecutionStatus, type FinalExecutionStatus, type NewExecution } from './state-store.js';


/** The state folder's name, in the working folder. */
export const STATE_FOLDER = '.service-pipelines';

/** A manual approval to decide. */
export interface ApprovalRequest {
  readonly executionId: string;
  readonly pipeline: string;
  readonly stage: string;
  readonly action: string;
  readonly environment: string;
  readonly comment: string;
}

/** A decision on an approval. */
export interface ApprovalDecision {
  readonly status: 'APPROVED' | 'REJECTED';
  /** Why, in the approver's words. */
  readonly summary?: string;
}

/** Asks a person (on a terminal) to decide; aborted when the decision came from elsewhere. */
export type ApprovalPrompt = (request: ApprovalRequest, signal: AbortSignal) => Promise<ApprovalDecision>;

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
  /** Keep the local stages this run started serving after it ends. @default false */
  readonly keepStages?: boolean;
  /** Receives progress. @default - none */
  readonly onEvent?: (event: RunEvent) => void;
  /** Stops the run (its running actions are killed; it ends STOPPED). */
  readonly signal?: AbortSignal;
  /** @default nodeProcesses */
  readonly processes?: Processes;
  /** Looks at and signals processes (recovery of dead runs). @default nodeProcessTable */
  readonly processTable?: ProcessTable;
  /** @default systemClock */
  readonly clock?: Clock;
  /** The buildspec executor. @default - `runBuildspec` of `./executor/index.js` */
  readonly runBuildspec?: RunBuildspec;
  /** The local stages. @default - `src/steps/local-stages.ts` */
  readonly localStages?: LocalStagesPort;
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

interface ActionOutcome {
  readonly ok: boolean;
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
    throw new InputError('the plan to run is not a pipeline plan', parsed.error.issues.map((issue) => ({ where: `plan: ${issue.path.join('.') || '(the plan)'}`, message: issue.message })));
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
  const localStages = options.localStages ?? (await import('./default-local-stages.js')).defaultLocalStages();
  const run = new ExecutionRun(options, plan, sourcePath, where, stagesToRun, runBuildspec, localStages);
  return run.start();
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
  private readonly artifacts = new Map<string, StoredArtifact>();
  private readonly artifactStore: ArtifactStore;
  private readonly controller = new AbortController();
  private store!: StateStore;
  private shimDir = '';
  private resolvedVersion = '';

  constructor(
    private readonly options: RunPipelineOptions,
    private readonly plan: PipelinePlan,
    private readonly sourcePath: string,
    private readonly sourceWhere: string,
    private readonly stagesToRun: readonly PlanStage[],
    private readonly runBuildspec: RunBuildspec,
    private readonly localStages: LocalStagesPort,
  ) {
    this.clock = options.clock ?? systemClock;
    this.processes = options.processes ?? nodeProcesses;
    this.table = options.processTable ?? nodeProcessTable;
    this.id = options.queuedExecutionId ?? randomUUID();
    this.home = path.resolve(options.home);
    this.artifactStore = new ArtifactStore(path.join(this.home, 'artifacts'));
  }

  /** Why the run was stopped, as its caller said (`interrupted`...). */
  private stopReason(): string {
    const reason: unknown = this.controller.signal.reason;
    return `stopped${reason instanceof Error && reason.message ? ` (${reason.message})` : ''}`;
  }

  private emit(event: RunEvent): void {
    this.options.onEvent?.(event);
  }

  async start(): Promise<RunPipelineResult> {
    this.store = StateStore.open(this.home);
    const onAbort = () => this.controller.abort(this.options.signal?.reason);
    this.options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      // Before the recovery: a queued record of this run names this process already.
      markRunningHere(this.id);
      await this.recover();
      const startedAt = this.clock.now();
      const execution: NewExecution = {
        id: this.id,
        pipeline: this.plan.pipelineName,
        service: this.plan.service,
        trigger: this.plan.trigger,
        executionMode: this.plan.executionMode,
        process: this.table.identify(process.pid) ?? { pid: process.pid },
        processScope: this.table.scope(),
        configFile: this.options.definitionFile ?? '',
        sourcePath: this.sourcePath,
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
      const recorded = await this.record(execution);
      if (recorded !== undefined) {
        return recorded;
      }
      void this.beat();
      this.options.onExecutionCreated?.(this.id);
      this.emit({
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
      const awsOnly = [
        ...(this.plan.notifications.email.length ? ['e-mail'] : []),
        ...(this.plan.notifications.slack ? ['Slack (AWS Chatbot)'] : []),
      ];
      if (awsOnly.length) {
        this.emit({ type: 'notice', message: `${awsOnly.join(' and ')} notifications are AWS-only: a local run sends only notifications.webhook` });
      }
      // A pipeline failure is a FAILED execution, never an exception that leaves the execution
      // in progress, its stage locks held and its stages serving: whatever went wrong is recorded.
      const outcome = await this.runStages().catch((error: unknown) => ({
        status: 'FAILED' as const,
        reason: `the engine failed: ${error instanceof Error ? error.message : String(error)}`,
      }));
      return await this.finish(outcome, startedAt);
    } finally {
      this.heartbeats.abort();
      unmarkRunningHere(this.id);
      this.options.signal?.removeEventListener('abort', onAbort);
      this.store.close();
    }
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
        this.emit({ type: 'notice', message: `waiting for \`service-pipelines gc\` (pid ${outcome.waitFor.process.pid}) to finish` });
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

  /** End runs whose process is gone (what their actions left running first), and stop the stages they left serving. */
  private async recoverDead(): Promise<void> {
    const recovered = await recoverAbandonedExecutions(this.store, {
      clock: this.clock,
      processTable: this.table,
      ...(this.options.recoveryGraceMs === undefined ? {} : { graceMs: this.options.recoveryGraceMs }),
    });
    for (const id of recovered) {
      this.emit({ type: 'notice', message: `execution ${id} was left in progress by a process that is gone: marked FAILED` });
      await this.localStages.stopStagesStartedBy(this.home, id).catch(() => []);
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

  private async runStages(): Promise<{ status: ExecutionStatus; reason?: string }> {
    this.shimDir = await ensureCliShim(this.home);
    for (const stage of this.stagesToRun) {
      if (this.controller.signal.aborted) {
        return { status: 'STOPPED', reason: this.stopReason() };
      }
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
          onWait: (holder) => this.emit({ type: 'stage-waiting', stage: stage.name, ...(holder ? { holder } : {}) }),
          recover: () => this.recoverDead(),
        });
      } catch {
        return { status: 'STOPPED', reason: `${this.stopReason()} while waiting to enter ${stage.name}` };
      }
      if (!entry.entered) {
        return { status: 'SUPERSEDED', reason: `superseded by execution ${entry.supersededBy} while waiting to enter ${stage.name}` };
      }
      const startedAt = this.clock.now();
      this.store.updateStage(this.id, stage.name, { status: 'IN_PROGRESS', startedAt });
      this.emit({ type: 'stage-started', stage: stage.name, at: startedAt });
      const outcome = await this.runStage(stage);
      if (!outcome.ok && stage.onFailure === 'ROLLBACK' && stage.environment && !this.controller.signal.aborted) {
        await this.rollback(stage, outcome.reason ?? 'the stage failed');
      }
      const finishedAt = this.clock.now();
      const status = outcome.ok ? 'SUCCEEDED' : 'FAILED';
      this.store.updateStage(this.id, stage.name, { status, finishedAt, ...(outcome.reason ? { reason: outcome.reason } : {}) });
      this.store.unlockStage(this.plan.pipelineName, stage.name, this.id);
      this.emit({ type: 'stage-finished', stage: stage.name, status, durationMs: finishedAt - startedAt, ...(outcome.reason ? { reason: outcome.reason } : {}) });
      if (!outcome.ok) {
        if (this.controller.signal.aborted) {
          return { status: 'STOPPED', reason: this.stopReason() };
        }
        const rollback = this.store.rollbacks(this.id).find((r) => r.stage === stage.name);
        const rolledBack = rollback
          ? rollback.status === 'SUCCEEDED'
            ? `; rolled back to release ${rollback.toRelease ?? '?'}`
            : `; the rollback failed too (${rollback.failureReason ?? 'no reason recorded'})`
          : '';
        return { status: 'FAILED', reason: `${stage.name} failed: ${outcome.reason ?? 'an action failed'}${rolledBack}` };
      }
      if (stage.environment && stage.actions.some((a) => a.kind === 'commands' && a.privilege === 'deploy')) {
        await this.markGood(stage.environment);
      }
    }
    return { status: 'SUCCEEDED' };
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
        const stopped = await this.localStages.stopStagesStartedBy(this.home, this.id);
        if (stopped.length) {
          this.emit({ type: 'notice', message: `stopped the local stages this run started: ${stopped.join(', ')} (--keep-stages keeps them)` });
        }
      } catch (error) {
        this.emit({ type: 'notice', message: `could not stop the local stages this run started: ${errorText(error)}` });
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
        detail: outcome.status === 'SUCCEEDED' ? `Source ${this.resolvedVersion.slice(0, 12)} went through every stage.` : (outcome.reason ?? 'failed'),
      });
    }
    // As recorded: another process may have ended the record first.
    const recorded = this.store.execution(this.id);
    const status = recorded?.status ?? outcome.status;
    const reason = recorded?.statusReason ?? outcome.reason;
    this.emit({ type: 'execution-finished', executionId: this.id, status, durationMs: finishedAt - startedAt, ...(reason ? { reason } : {}) });
    return { executionId: this.id, status, ...(reason ? { reason } : {}) };
  }

  private async notify(notification: RunNotification): Promise<void> {
    const webhook = this.plan.notifications.webhook;
    if (!webhook) {
      return;
    }
    const problem = await notifyWebhook(webhook, notification, { env: this.options.baseEnv ?? process.env, ...(this.options.post ? { post: this.options.post } : {}) });
    if (problem) {
      this.emit({ type: 'notice', message: `notification not delivered to ${describeWebhook(webhook)}: ${problem}` });
    }
  }

  /** Run a stage's actions by runOrder; a failed group ends the stage (its parallel actions still finish). */
  private async runStage(stage: PlanStage): Promise<ActionOutcome> {
    const orders = [...new Set(stage.actions.map((a) => a.runOrder))].sort((a, b) => a - b);
    for (const order of orders) {
      const group = stage.actions.filter((a) => a.runOrder === order);
      const outcomes = await Promise.all(
        group.map((action) => {
          switch (action.kind) {
            case 'source':
              return this.runSource(stage, action.name);
            case 'commands':
              return this.runCommands(stage, action);
            case 'approval':
              return this.runApproval(stage, action);
            default:
              throw new Error(`the local engine does not support actions of kind "${(action as { kind: string }).kind}"`);
          }
        }),
      );
      const failed = outcomes.findIndex((o) => !o.ok);
      if (failed >= 0) {
        this.store.transaction(() => {
          for (const later of stage.actions.filter((a) => a.runOrder > order)) {
            this.store.updateAction(this.id, stage.name, later.name, { status: 'SKIPPED', reason: `not run: ${group[failed]!.name} failed` });
          }
        });
        return { ok: false, reason: `${group[failed]!.name}: ${outcomes[failed]!.reason ?? 'failed'}` };
      }
    }
    return { ok: true };
  }

  private actionStarted(stage: string, action: string): number {
    const at = this.clock.now();
    this.store.updateAction(this.id, stage, action, { status: 'IN_PROGRESS', startedAt: at });
    this.emit({ type: 'action-started', stage, action, at });
    return at;
  }

  private actionFinished(stage: string, action: string, startedAt: number, outcome: ActionOutcome, extra: { exitCode?: number; failedCommand?: string; log?: string } = {}): ActionOutcome {
    const finishedAt = this.clock.now();
    const status = outcome.ok ? 'SUCCEEDED' : 'FAILED';
    this.store.updateAction(this.id, stage, action, { status, finishedAt, ...(outcome.reason ? { reason: outcome.reason } : {}), ...extra });
    this.emit({ type: 'action-finished', stage, action, status, durationMs: finishedAt - startedAt, ...(outcome.reason ? { reason: outcome.reason } : {}) });
    return outcome;
  }

  private async runSource(stage: PlanStage, action: string): Promise<ActionOutcome> {
    const startedAt = this.actionStarted(stage.name, action);
    try {
      const snapshot = this.options.revision === undefined ? await snapshotSource(this.sourcePath, this.artifactStore, this.processes, this.sourceWhere) : await this.snapshotRevision(this.options.revision);
      this.resolvedVersion = snapshot.resolvedVersion;
      this.artifacts.set('Source', snapshot.artifact);
      this.store.transaction(() => {
        this.store.setSource(this.id, snapshot.commit ?? `sha256:${snapshot.resolvedVersion}`, snapshot.dirty);
        this.recordArtifact('Source', snapshot.artifact, `${stage.name}.${action}`);
      });
      this.emit({
        type: 'source',
        revision: snapshot.resolvedVersion,
        ...(snapshot.commit ? { commit: snapshot.commit } : {}),
        dirty: snapshot.dirty,
        digest: snapshot.artifact.digest,
      });
      const flagged = snapshot.dirty ? ' (with uncommitted changes)' : '';
      const fetched = 'fetchedFrom' in snapshot && snapshot.fetchedFrom ? `, fetched from ${snapshot.fetchedFrom}` : '';
      return this.actionFinished(stage.name, action, startedAt, {
        ok: true,
        reason: snapshot.commit ? `commit ${snapshot.commit.slice(0, 12)}${flagged}${fetched}` : `not in git: snapshot ${snapshot.artifact.digest.slice(7, 19)}`,
      });
    } catch (error) {
      return this.actionFinished(stage.name, action, startedAt, { ok: false, reason: errorText(error) });
    }
  }

  /** The service's folder as it is in the commit the trigger named (not the working tree). */
  private async snapshotRevision(revision: string): Promise<SourceSnapshot & { fetchedFrom?: string }> {
    const into = path.join(this.home, 'runs', this.id, 'source', 'tree');
    try {
      const github = this.plan.source.github;
      const checkout = await checkoutRevision({
        sourcePath: this.sourcePath,
        revision,
        into,
        processes: this.processes,
        ...(github ? { githubRepository: `${github.owner}/${github.repo}` } : {}),
      });
      const snapshot = await snapshotSource(checkout.folder, this.artifactStore, this.processes, this.sourceWhere);
      return { ...snapshot, commit: checkout.commit, dirty: false, resolvedVersion: checkout.commit, ...(checkout.fetchedFrom ? { fetchedFrom: checkout.fetchedFrom } : {}) };
    } finally {
      await removeReadOnly(path.dirname(into));
    }
  }

  private recordArtifact(name: string, artifact: StoredArtifact, producedBy: string): void {
    this.store.recordArtifact({ executionId: this.id, name, digest: artifact.digest, bytes: artifact.bytes, files: artifact.files, producedBy, createdAt: this.clock.now() });
  }

  private async runApproval(stage: PlanStage, action: ApprovalPlanAction): Promise<ActionOutcome> {
    const startedAt = this.actionStarted(stage.name, action.name);
    this.store.requestApproval(this.id, stage.name, action.name, action.comment, startedAt);
    if (this.options.approval) {
      const status = this.options.approval === 'approve' ? 'APPROVED' : 'REJECTED';
      this.store.decideApproval(this.id, stage.name, action.name, { status, by: `--${this.options.approval}`, at: this.clock.now() });
    } else {
      await this.waitForApproval(stage, action);
    }
    const decided = this.store.approval(this.id, stage.name, action.name);
    if (!decided || decided.status === 'PENDING') {
      return this.actionFinished(stage.name, action.name, startedAt, { ok: false, reason: 'stopped while awaiting approval' });
    }
    const approved = decided.status === 'APPROVED';
    this.emit({ type: 'approval-decided', stage: stage.name, action: action.name, status: approved ? 'APPROVED' : 'REJECTED', by: decided.decidedBy ?? 'unknown' });
    const how = `${approved ? 'approved' : 'rejected'} by ${decided.decidedBy ?? 'unknown'}${decided.summary ? `: ${decided.summary}` : ''}`;
    const outcome = this.actionFinished(stage.name, action.name, startedAt, { ok: approved, reason: how });
    if (!approved) {
      this.store.updateAction(this.id, stage.name, action.name, { status: 'REJECTED' });
    }
    return outcome;
  }

  /** Wait for a decision from the terminal prompt or from `service-pipelines approve|reject` in another shell. */
  private async waitForApproval(stage: PlanStage, action: ApprovalPlanAction): Promise<void> {
    const request: ApprovalRequest = {
      executionId: this.id,
      pipeline: this.plan.pipelineName,
      stage: stage.name,
      action: action.name,
      environment: action.environment,
      comment: action.comment,
    };
    this.emit({ type: 'approval-waiting', executionId: this.id, stage: stage.name, action: action.name, comment: action.comment });
    await this.notify({
      kind: 'approval-waiting',
      pipeline: this.plan.pipelineName,
      executionId: this.id,
      detail: `${action.comment} Decide with \`service-pipelines approve ${this.id}\` or \`service-pipelines reject ${this.id}\`.`,
    });
    const decided = new AbortController();
    const stop = () => decided.abort();
    this.controller.signal.addEventListener('abort', stop, { once: true });
    try {
      this.options
        .prompt?.(request, decided.signal)
        .then((decision) => {
          this.store.decideApproval(this.id, stage.name, action.name, {
            status: decision.status,
            by: 'terminal',
            at: this.clock.now(),
            ...(decision.summary ? { summary: decision.summary } : {}),
          });
        })
        .catch(() => {
          // No answer on the terminal (closed, or the decision came from elsewhere): keep waiting for one.
        });
      while (!decided.signal.aborted && this.store.approval(this.id, stage.name, action.name)?.status === 'PENDING') {
        await this.clock.sleep(this.options.pollMs ?? 500, decided.signal);
      }
    } finally {
      decided.abort();
      this.controller.signal.removeEventListener('abort', stop);
    }
  }

  private async runCommands(stage: PlanStage, action: CommandsPlanAction): Promise<ActionOutcome> {
    const startedAt = this.actionStarted(stage.name, action.name);
    const logs = path.join(this.home, 'runs', this.id, 'logs');
    const logFile = path.join(logs, `${stage.name}.${action.name}.log`);
    await mkdir(logs, { recursive: true });
    this.store.updateAction(this.id, stage.name, action.name, { status: 'IN_PROGRESS', logFile });
    const log = createWriteStream(logFile);
    const lines: string[] = [];
    const output: string[] = [];
    const onLog = (line: LogLine) => {
      lines.push(line.text);
      if (line.kind === 'output') {
        output.push(line.text);
      }
      log.write(`${line.text}\n`);
      this.emit({ type: 'action-log', stage: stage.name, action: action.name, line });
    };
    let closing: Promise<void> | undefined;
    const closeLog = () => (closing ??= new Promise<void>((resolve) => log.end(resolve)));
    try {
      const srcDir = path.join(this.home, 'runs', this.id, 'work', stage.name, action.name, 'src');
      const [primary, ...secondary] = action.inputs;
      if (primary) {
        // Copied (a reflink where the file system has them), never linked: an action may edit its
        // source in place (eslint --fix, snapshot updates), as it may in CodeBuild, and must
        // never reach the stored blobs through a hard link.
        await this.artifactStore.materialize(this.artifact(primary).digest, srcDir, 'copy');
      } else {
        await mkdir(srcDir, { recursive: true });
      }
      const secondarySources = Object.fromEntries(secondary.map((name) => [name, this.artifact(name).path]));
      const timeout = AbortSignal.timeout(action.timeoutMinutes * 60_000);
      const signal = AbortSignal.any([this.controller.signal, timeout]);
      const baseEnv = this.options.baseEnv ?? process.env;
      let result: BuildspecRunResult;
      try {
        result = await this.runBuildspec({
          // The action's buildspec, as the AWS engine gives CodeBuild: its outputs are collected below
          // from `.pipeline/<artifact>/` (the contract's folder) by hard links, not copied by the executor.
          buildspec: { file: `${stage.name}.${action.name} buildspec`, document: { version: 0.2, env: { variables: action.env }, phases: { build: { commands: actionCommandLines(action) } } } },
          srcDir,
          secondarySources,
          env: {
            [LOCAL_ENV.target]: 'local',
            [LOCAL_ENV.home]: this.home,
            [LOCAL_ENV.executionId]: this.id,
          },
          baseEnv: { ...baseEnv, PATH: [this.shimDir, baseEnv.PATH ?? ''].filter(Boolean).join(path.delimiter) },
          buildId: `${this.plan.pipelineName}-${stage.name}-${action.name}:${randomUUID()}`,
          resolvedSourceVersion: this.resolvedVersion,
          onLog,
          signal,
          processes: this.processes,
          processTable: this.table,
          clock: this.clock,
          // Recorded, so that whoever finds this run dead ends what its actions left running.
          onProcessGroup: (leader) => this.store.recordProcessGroup({ executionId: this.id, stage: stage.name, action: action.name, leader, startedAt: this.clock.now() }),
        });
        // The executor ended its process groups before it returned.
        this.store.forgetProcessGroups(this.id, stage.name, action.name);
      } catch (error) {
        onLog({ kind: 'output', stream: 'system', text: `[service-pipelines] ${errorText(error)}`, at: this.clock.now() });
        await closeLog();
        return this.actionFinished(stage.name, action.name, startedAt, { ok: false, reason: errorText(error) }, { log: lines.join('\n') });
      }
      if (result.status !== 'SUCCEEDED') {
        const failed = result.phases.find((p) => p.status === 'FAILED');
        const reason = timeout.aborted
          ? `timed out after ${action.timeoutMinutes} minutes`
          : this.controller.signal.aborted
            ? this.stopReason()
            : withCause(
                result.failure?.message ??
                  (failed?.failedCommand ? `command "${failed.failedCommand}" exited with status ${failed.exitCode ?? '?'} in phase ${failed.name}` : `the ${failed?.name ?? 'build'} phase failed`),
                result.failure?.command === undefined ? undefined : failureCause(output),
              );
        await closeLog();
        return this.actionFinished(stage.name, action.name, startedAt, { ok: false, reason }, {
          log: lines.join('\n'),
          ...(failed?.exitCode !== undefined ? { exitCode: failed.exitCode } : {}),
          ...(failed?.failedCommand ? { failedCommand: failed.failedCommand } : {}),
        });
      }
      for (const output of action.outputs) {
        const folder = path.join(srcDir, artifactOutputDirectory(output));
        const info = await stat(folder).catch(() => undefined);
        if (!info?.isDirectory()) {
          await closeLog();
          return this.actionFinished(stage.name, action.name, startedAt, { ok: false, reason: `it did not write its output artifact ${output} (expected in ${artifactOutputDirectory(output)}/)` }, { log: lines.join('\n'), exitCode: 0 });
        }
        const stored = await this.artifactStore.put(folder, { mode: 'link' });
        this.artifacts.set(output, stored);
        this.recordArtifact(output, stored, `${stage.name}.${action.name}`);
      }
      if (action.privilege === 'deploy' && action.environment) {
        await this.recordDeployedRelease(action.environment);
      }
      await closeLog();
      return this.actionFinished(stage.name, action.name, startedAt, { ok: true }, { log: lines.join('\n'), exitCode: 0 });
    } catch (error) {
      await closeLog();
      return this.actionFinished(stage.name, action.name, startedAt, { ok: false, reason: errorText(error) }, { log: lines.join('\n') });
    }
  }

  private artifact(name: string): StoredArtifact {
    const artifact = this.artifacts.get(name);
    if (!artifact) {
      throw new Error(`artifact ${name} was not produced by an earlier action`);
    }
    return artifact;
  }

  /**
   * The local stage of an environment as the deploy step keyed it: under the pipeline's name or
   * serverless.yml's (`serverlessService`), the pipeline's first. With `deployedByThisRun`, only
   * a stage whose current release this execution deployed.
   */
  private async localStage(environment: string, deployedByThisRun: boolean): Promise<StageInfo | undefined> {
    const names = [...new Set([this.plan.service, this.plan.serverlessService ?? this.plan.service])];
    const stages = (await listStages(this.home)).filter((s) => s.environment === environment && names.includes(s.service));
    stages.sort((a, b) => names.indexOf(a.service) - names.indexOf(b.service));
    return deployedByThisRun ? stages.find((s) => s.current?.executionId === this.id) : stages.find((s) => s.lastGood) ?? stages[0];
  }

  private async recordDeployedRelease(environment: string): Promise<void> {
    const stage = await this.localStage(environment, true);
    if (stage?.current) {
      this.recordRelease(environment, stage.current, false);
      const release = await readRelease(this.home, stage.service, environment, stage.current.release);
      for (const note of release ? emulationNotes(release) : []) this.emit({ type: 'notice', message: `${environment}: ${note}` });
    }
  }

  private recordRelease(environment: string, current: { release: number; packageSha256: string }, good: boolean): void {
    this.store.recordRelease({
      service: this.plan.service,
      environment,
      release: current.release,
      executionId: this.id,
      packageSha256: current.packageSha256,
      deployedAt: this.clock.now(),
      good,
    });
  }

  /** After an environment's acceptance tests passed: its current release is the one to roll back to. */
  private async markGood(environment: string): Promise<void> {
    const stage = await this.localStage(environment, true);
    if (!stage?.current) {
      // Not a local stage (a custom deploy): nothing to roll back to locally.
      return;
    }
    await writeLastGood(this.home, stage.service, environment, { release: stage.current.release, executionId: this.id, at: new Date(this.clock.now()).toISOString() });
    this.recordRelease(environment, stage.current, true);
  }

  /**
   * Put an environment's last good release back (`step rollback`), then run its acceptance tests
   * against it. Recorded as a rollback and as two more actions of the failed stage.
   */
  private async rollback(stage: PlanStage, reason: string): Promise<void> {
    const environment = stage.environment!;
    const lastGood = (await this.localStage(environment, false))?.lastGood;
    this.store.startRollback({ executionId: this.id, stage: stage.name, environment, toRelease: lastGood?.release ?? null, reason, startedAt: this.clock.now() });
    this.emit({ type: 'rollback-started', stage: stage.name, environment, reason });
    // What rolling back is, the plan says: put the last good release back, then verify it.
    let ok = false;
    let failure = 'the plan says no way to roll this stage back';
    for (const action of stage.rollback?.actions ?? []) {
      this.store.addAction(this.id, stage.name, { name: action.name, runOrder: action.runOrder, kind: 'rollback', ...(action.step ? { step: action.step.step } : {}) });
      const outcome = await this.runCommands(stage, action);
      ok = outcome.ok;
      failure = `${action.name}: ${outcome.reason ?? 'failed'}`;
      if (!ok) break;
    }
    const release = ok ? (await this.localStage(environment, true))?.current?.release : undefined;
    this.store.finishRollback(this.id, stage.name, ok ? 'SUCCEEDED' : 'FAILED', this.clock.now(), {
      ...(release !== undefined ? { toRelease: release } : {}),
      ...(ok ? {} : { failureReason: failure }),
    });
    this.emit({ type: 'rollback-finished', stage: stage.name, environment, status: ok ? 'SUCCEEDED' : 'FAILED', ...(release !== undefined ? { release } : {}) });
  }

}

/** A failure's message, with its cause from the command's output when there is one. */
function withCause(message: string, cause: string | undefined): string {
  return cause === undefined ? message : `${message}: ${cause}`;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
