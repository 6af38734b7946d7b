/**
 * The runs `serve` starts, recorded before they start: each is an execution in the history,
 * QUEUED, from the moment a trigger is accepted (in the same transaction as the webhook delivery
 * that asked for it), so that nothing accepted is ever lost. Its `run` process takes the record
 * over when it starts. What happens to a record whose run never got that far is told here:
 *
 * - the process could not be started, or ended before it took the record: FAILED, with why;
 * - `serve` was stopped first: STOPPED (see `stop`), as the runs that had started end;
 * - a redelivery of a webhook whose runs never started starts them (see `neverStarted`).
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { endExecutionAndProcesses } from '../local/recovery.js';
import type { ExecutionRecord, StateStore } from '../local/state-store.js';
import { buildPipelinePlan } from '../model/plan.js';
import type { ValidConfig } from '../model/validate.js';
import type { Clock } from '../runtime/clock.js';
import { nodeProcessTable, type ProcessExit, type ProcessTable } from '../runtime/process.js';
import type { RunRequest, RunStarter, StartedRun } from './run-starter.js';

/** What `RunQueue` needs. */
export interface RunQueueProps {
  readonly store: StateStore;
  readonly config: ValidConfig;
  /** The config file, absolute. */
  readonly configFile: string;
  /** The folder `source.path` is relative to. */
  readonly baseDir: string;
  /** Starts the runs' processes. */
  readonly starter: RunStarter;
  readonly clock: Clock;
  /** @default nodeProcessTable */
  readonly processTable?: ProcessTable;
}

/** A run recorded QUEUED, not started yet. */
export interface QueuedRun {
  readonly executionId: string;
  readonly request: RunRequest;
}

/** What became of queued runs. */
export interface StartOutcome {
  readonly started: StartedRun[];
  /** Runs whose process could not be started (their record ends FAILED, saying why). */
  readonly failed: Array<{ readonly run: QueuedRun; readonly message: string }>;
}

/** Records, starts and, at the end, stops the runs of one `serve`. */
export class RunQueue implements RunStarter {
  private readonly mine = new Set<string>();
  private readonly exits = new Set<Promise<void>>();
  private stopping = false;

  constructor(private readonly props: RunQueueProps) {}

  /**
   * Record each run QUEUED (call it inside the transaction that accepts the trigger).
   *
   * @param deliveryId the webhook delivery that asks for them
   */
  queue(requests: readonly RunRequest[], deliveryId?: string): QueuedRun[] {
    const table = this.props.processTable ?? nodeProcessTable;
    return this.props.store.transaction(() =>
      requests.map((request) => {
        const executionId = randomUUID();
        const service = this.props.config.services.find((s) => s.name === request.service);
        const plan = buildPipelinePlan(this.props.config, request.service, request.trigger);
        this.props.store.queueExecution({
          id: executionId,
          pipeline: plan.pipelineName,
          service: request.service,
          trigger: request.trigger,
          executionMode: plan.executionMode,
          configFile: this.props.configFile,
          sourcePath: path.resolve(this.props.baseDir, service?.source.path ?? '.'),
          ...(request.revision ? { requestedRevision: request.revision } : {}),
          ...(deliveryId ? { deliveryId } : {}),
          processScope: table.scope(),
          queuedAt: this.props.clock.now(),
        });
        this.mine.add(executionId);
        return { executionId, request: { ...request, executionId } };
      }),
    );
  }

  /** Start queued runs' processes. A run that cannot start ends FAILED, saying why. */
  async startQueued(queued: readonly QueuedRun[]): Promise<StartOutcome> {
    const outcome: StartOutcome = { started: [], failed: [] };
    for (const run of queued) {
      try {
        const started = await this.props.starter.start(run.request);
        this.props.store.setQueuedProcess(run.executionId, (this.props.processTable ?? nodeProcessTable).identify(started.pid) ?? { pid: started.pid });
        this.watch(run, started);
        outcome.started.push(started);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        this.props.store.endExecution(run.executionId, 'FAILED', `its run could not be started: ${message}`, this.props.clock.now());
        outcome.failed.push({ run, message });
      }
    }
    return outcome;
  }

  /** Record and start one run (a watched branch that moved). */
  async start(request: RunRequest): Promise<StartedRun> {
    const [queued] = this.queue([request]);
    const { started, failed } = await this.startQueued([queued!]);
    if (failed.length) {
      throw new Error(failed[0]!.message);
    }
    return started[0]!;
  }

  /**
   * Whether a run a delivery asked for never started: no execution of that pipeline was recorded
   * for the delivery (an earlier version of `serve` recorded none), or the last one ended before
   * its run took it over. A redelivery starts those again.
   */
  neverStarted(deliveryId: string, request: RunRequest): boolean {
    const pipeline = buildPipelinePlan(this.props.config, request.service, request.trigger).pipelineName;
    const last = this.props.store.executionsOfDelivery(deliveryId).findLast((e) => e.pipeline === pipeline);
    return last === undefined || (!isActive(last) && !this.props.store.started(last.id));
  }

  /**
   * Stop the runs this server started (they end STOPPED, as a run interrupted in a shell does),
   * waiting up to `graceMs` for them; then end the records still open: runs that never started,
   * and runs that did not stop in time (what their actions left running ended first).
   *
   * @returns how many runs were still going or queued
   */
  async stop(graceMs = 30_000): Promise<number> {
    this.stopping = true;
    const going = [...this.mine].filter((id) => isActive(this.props.store.execution(id)));
    await this.props.starter.stopAll?.(graceMs);
    await Promise.all([...this.exits]);
    for (const id of this.mine) {
      const execution = this.props.store.execution(id);
      if (execution && isActive(execution)) {
        const reason = execution.status === 'QUEUED' ? 'serve was stopped before its run started' : `serve was stopped, and the run did not stop within ${Math.round(graceMs / 1000)} s`;
        await endExecutionAndProcesses(this.props.store, execution, 'STOPPED', reason, { clock: this.props.clock, ...(this.props.processTable ? { processTable: this.props.processTable } : {}) });
      }
    }
    return going.length;
  }

  /** When a run's process ends, a record it left open is ended, with why. */
  private watch(run: QueuedRun, started: StartedRun): void {
    if (!started.exited) {
      return;
    }
    const done = started.exited.then(async (exit) => {
      const execution = this.props.store.execution(run.executionId);
      if (!execution || !isActive(execution)) {
        return;
      }
      const how = describeExit(exit);
      const reason = this.stopping
        ? execution.status === 'QUEUED'
          ? 'serve was stopped before its run started'
          : `serve was stopped; the run's process ${how}`
        : execution.status === 'QUEUED'
          ? `its run's process ${how} before the run started (its output: ${started.outputFile})`
          : `the run's process (pid ${started.pid}) ${how} (its output: ${started.outputFile})`;
      await endExecutionAndProcesses(this.props.store, execution, this.stopping ? 'STOPPED' : 'FAILED', reason, {
        clock: this.props.clock,
        ...(this.props.processTable ? { processTable: this.props.processTable } : {}),
      });
    });
    const tracked = done.catch(() => undefined);
    this.exits.add(tracked);
    void tracked.finally(() => this.exits.delete(tracked));
  }
}

function isActive(execution: ExecutionRecord | undefined): boolean {
  return execution !== undefined && (execution.status === 'QUEUED' || execution.status === 'IN_PROGRESS' || execution.status === 'AWAITING_APPROVAL');
}

function describeExit(exit: ProcessExit | undefined): string {
  if (!exit) return 'could not be waited for';
  return exit.signal ? `was ended by ${exit.signal}` : `exited with code ${exit.code ?? '?'}`;
}
