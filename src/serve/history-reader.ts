/**
 * The dashboard's view of the run history: the same SQLite database (`state.db`, WAL mode) the
 * CLI and the runs write, read through the local engine's `StateStore`, so that the page shows
 * what `service-pipelines history|show` show, while runs write to it from other processes.
 */
import { open } from 'node:fs/promises';
import { buildPlans } from '../model/plan.js';
import type { ValidConfig } from '../model/validate.js';
import type { Clock } from '../runtime/clock.js';
import { recoverAbandonedExecutions } from '../local/recovery.js';
import type { ActionRecord, ApprovalRecord, ExecutionRecord, StateStore } from '../local/state-store.js';
import type {
  ActionView,
  ApprovalDecisionInput,
  ApprovalOutcome,
  ApprovalView,
  ExecutionDetail,
  ExecutionsReader,
  ExecutionView,
  LogChunk,
  PipelineView,
  StageView,
} from './dashboard-model.js';

/** The most of a log one read returns; the page reads on from `nextOffset`. */
export const MAX_LOG_CHUNK_BYTES = 1024 * 1024;

const FINAL_ACTION_STATUSES: ReadonlySet<string> = new Set(['SUCCEEDED', 'FAILED', 'REJECTED', 'SKIPPED', 'ABANDONED']);

/** What `HistoryReader` needs. */
export interface HistoryReaderProps {
  readonly store: StateStore;
  /** The config, for the pipelines it defines (shown before their first run). */
  readonly config: ValidConfig;
  readonly clock: Clock;
  /**
   * How often runs whose process is gone are looked for (and marked failed, as every history
   * command does), in ms.
   *
   * @default 5000
   */
  readonly recoverEveryMs?: number;
}

/** Reads the history from a `StateStore`. */
export class HistoryReader implements ExecutionsReader {
  private readonly planned: ReadonlyArray<Omit<PipelineView, 'latest'>>;
  private lastRecovery = Number.NEGATIVE_INFINITY;
  private recovering: Promise<unknown> | undefined;

  constructor(private readonly props: HistoryReaderProps) {
    this.planned = buildPlans(props.config).pipelines.map((plan) => ({
      name: plan.pipelineName,
      service: plan.service,
      trigger: plan.trigger,
      configured: true,
      plannedStages: plan.stages.map((s) => ({ name: s.name, actions: s.actions.map((a) => a.name) })),
    }));
  }

  pipelines(): PipelineView[] {
    this.recover();
    const views: PipelineView[] = this.planned.map((p) => ({ ...p, latest: this.latestOf(p.name, p.service) }));
    // Pipelines no longer in the config keep their history on the page.
    const known = new Set(views.map((v) => v.name));
    for (const execution of this.props.store.executions({ limit: 500 })) {
      if (!known.has(execution.pipeline)) {
        known.add(execution.pipeline);
        views.push({
          name: execution.pipeline,
          service: execution.service,
          trigger: execution.trigger,
          configured: false,
          plannedStages: [],
          latest: this.view(execution),
        });
      }
    }
    return views;
  }

  executions(filter: { readonly pipeline?: string; readonly limit: number }): ExecutionView[] {
    this.recover();
    const { store } = this.props;
    if (filter.pipeline === undefined) {
      return store.executions({ limit: filter.limit }).map((e) => this.view(e));
    }
    const service = this.serviceOf(filter.pipeline);
    // The store filters by service, and a service has two pipelines (push and pull-request):
    // read a few more than asked, and more only when the other pipeline took their places.
    let window = filter.limit * 2;
    for (;;) {
      const batch = service === undefined ? store.executions({ limit: window }) : store.executions({ service, limit: window });
      const matching = batch.filter((e) => e.pipeline === filter.pipeline);
      if (matching.length >= filter.limit || batch.length < window) {
        return matching.slice(0, filter.limit).map((e) => this.view(e));
      }
      window *= 4;
    }
  }

  execution(id: string): ExecutionDetail | undefined {
    this.recover();
    const record = this.props.store.execution(id);
    if (record === undefined) {
      return undefined;
    }
    return {
      ...this.view(record),
      approvals: this.props.store.approvals(record.id).map(approvalView),
      artifacts: this.props.store.artifacts(record.id).map((a) => ({ name: a.name, digest: a.digest, bytes: a.bytes, files: a.files, producedBy: a.producedBy })),
    };
  }

  async readLog(executionId: string, stage: string, action: string, offset: number): Promise<LogChunk | undefined> {
    const { store } = this.props;
    const record = store.execution(executionId);
    const found = record && store.actions(record.id).find((a) => a.stage === stage && a.name === action);
    if (!record || !found) {
      return undefined;
    }
    const stored = store.actionLog(record.id, stage, action);
    if (stored !== null) {
      // The stored log is the log file's lines joined: the same bytes, without the last newline.
      const bytes = Buffer.from(stored === '' ? '' : `${stored}\n`, 'utf8');
      const end = Math.min(bytes.length, offset + MAX_LOG_CHUNK_BYTES);
      const cut = end < bytes.length ? lastLineEnd(bytes, offset, end) : end;
      return { text: bytes.subarray(offset, cut).toString('utf8'), offset, nextOffset: Math.max(cut, offset), complete: cut >= bytes.length };
    }
    if (found.logFile === null) {
      return { text: '', offset, nextOffset: offset, complete: FINAL_ACTION_STATUSES.has(found.status) };
    }
    return { ...(await readWholeLines(found.logFile, offset)), complete: false };
  }

  decideApproval(executionId: string, input: ApprovalDecisionInput): ApprovalOutcome {
    const { store, clock } = this.props;
    const record = store.execution(executionId);
    if (!record) {
      return { kind: 'not-found' };
    }
    const pending = store
      .approvals(record.id)
      .filter((a) => a.status === 'PENDING' && (input.stage === undefined || a.stage === input.stage) && (input.action === undefined || a.action === input.action));
    if (pending.length === 0) {
      return { kind: 'not-pending', message: `execution ${record.id} has no pending approval${input.stage ? ` in stage ${input.stage}` : ''} (status ${record.status})` };
    }
    if (pending.length > 1) {
      return { kind: 'not-pending', message: `several approvals are pending (${pending.map((a) => `${a.stage}.${a.action}`).join(', ')}): give stage and action` };
    }
    const target = pending[0]!;
    const decided = store.decideApproval(record.id, target.stage, target.action, {
      status: input.decision === 'approve' ? 'APPROVED' : 'REJECTED',
      by: input.by,
      ...(input.comment ? { summary: input.comment } : {}),
      at: clock.now(),
    });
    const after = store.approval(record.id, target.stage, target.action)!;
    if (!decided) {
      return { kind: 'not-pending', message: `the approval ${target.stage}.${target.action} was decided already (${after.status} by ${after.decidedBy ?? 'unknown'})` };
    }
    return { kind: 'decided', approval: approvalView(after) };
  }

  /**
   * A run killed without a chance to record it would show as running forever: end what it left
   * running and mark it failed, in the background (ending processes takes a grace period).
   */
  private recover(): void {
    const now = this.props.clock.now();
    if (this.recovering === undefined && now - this.lastRecovery >= (this.props.recoverEveryMs ?? 5_000)) {
      this.lastRecovery = now;
      this.recovering = recoverAbandonedExecutions(this.props.store, { clock: this.props.clock })
        .catch(() => [])
        .finally(() => {
          this.recovering = undefined;
        });
    }
  }

  /** Resolves once a recovery under way (if any) is done. */
  async settled(): Promise<void> {
    await this.recovering;
  }

  private latestOf(pipeline: string, service: string): ExecutionView | null {
    // Most of a service's executions are of its main pipeline: a short look usually finds it.
    const recent = this.props.store.executions({ service, limit: 20 });
    const found = recent.find((e) => e.pipeline === pipeline) ?? (recent.length < 20 ? undefined : this.props.store.executions({ service }).find((e) => e.pipeline === pipeline));
    return found ? this.view(found) : null;
  }

  private serviceOf(pipeline: string): string | undefined {
    return this.planned.find((p) => p.name === pipeline)?.service;
  }

  private view(record: ExecutionRecord): ExecutionView {
    const now = this.props.clock.now();
    const actions = this.props.store.actions(record.id);
    const stages: StageView[] = this.props.store.stages(record.id).map((s) => ({
      name: s.name,
      environment: s.environment,
      status: s.status,
      statusReason: s.statusReason,
      startedAt: s.startedAt,
      finishedAt: s.finishedAt,
      durationMs: duration(s.startedAt, s.finishedAt, now),
      actions: actions.filter((a) => a.stage === s.name).map((a) => actionView(a, now)),
    }));
    return {
      id: record.id,
      pipeline: record.pipeline,
      service: record.service,
      trigger: record.trigger,
      status: record.status,
      statusReason: record.statusReason,
      sourceRevision: record.sourceRevision,
      sourceDirty: record.sourceDirty,
      startedAt: record.startedAt,
      finishedAt: record.finishedAt,
      durationMs: duration(record.startedAt, record.finishedAt, now) ?? 0,
      stages,
    };
  }
}

function duration(startedAt: number | null, finishedAt: number | null, now: number): number | null {
  return startedAt === null ? null : Math.max(0, (finishedAt ?? now) - startedAt);
}

function actionView(a: ActionRecord, now: number): ActionView {
  return {
    name: a.name,
    runOrder: a.runOrder,
    kind: a.kind,
    step: a.step,
    status: a.status,
    statusReason: a.statusReason,
    exitCode: a.exitCode,
    startedAt: a.startedAt,
    finishedAt: a.finishedAt,
    durationMs: duration(a.startedAt, a.finishedAt, now),
    hasLog: (a.kind === 'commands' || a.kind === 'rollback') && a.startedAt !== null,
  };
}

function approvalView(a: ApprovalRecord): ApprovalView {
  return {
    stage: a.stage,
    action: a.action,
    status: a.status,
    comment: a.comment,
    requestedAt: a.requestedAt,
    decidedAt: a.decidedAt,
    decidedBy: a.decidedBy,
    summary: a.summary,
  };
}

/** The end of the last whole line in `bytes[from, to)`, or `to` when the range holds no newline. */
function lastLineEnd(bytes: Buffer, from: number, to: number): number {
  const newline = bytes.lastIndexOf(0x0a, to - 1);
  return newline >= from ? newline + 1 : to;
}

/** Read a growing log file from `offset`, up to its last whole line (a line being written is left for the next read). */
async function readWholeLines(file: string, offset: number): Promise<Omit<LogChunk, 'complete'>> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch {
    // Not created yet: the action is starting.
    return { text: '', offset, nextOffset: offset };
  }
  try {
    const buffer = Buffer.alloc(MAX_LOG_CHUNK_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
    const newline = buffer.subarray(0, bytesRead).lastIndexOf(0x0a);
    const take = newline >= 0 ? newline + 1 : bytesRead === buffer.length ? bytesRead : 0;
    return { text: buffer.subarray(0, take).toString('utf8'), offset, nextOffset: offset + take };
  } finally {
    await handle.close();
  }
}
