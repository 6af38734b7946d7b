/**
 * The commands that read or decide on the history from another shell (`history`, `show`,
 * `approve`, `reject`): each first repairs runs whose process is gone.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../model/errors.js';
import { systemClock, type Clock } from '../runtime/clock.js';
import type { ProcessTable } from '../runtime/process.js';
import { ArtifactStore } from './artifact-store.js';
import { describeExecution, type ExecutionDocument } from './describe.js';
import { storedLocalDeployments, type LocalDeployments } from './local-deployments.js';
import { recoverAbandonedExecutions } from './recovery.js';
import { STATE_DATABASE_FILE } from './state-database.js';
import { stateSizeNotice } from './state-size.js';
import { StateStore, type ApprovalRecord, type ExecutionRecord } from './state-store.js';

/** Options shared by the history commands. */
export interface HistoryOptions {
  /** The state folder, absolute. */
  readonly home: string;
  /** @default systemClock */
  readonly clock?: Clock;
  /** Stops the servers a killed run left. @default - the local deployments of `home` */
  readonly deployments?: LocalDeployments;
  /** @default nodeProcessTable */
  readonly processTable?: ProcessTable;
  /**
   * For commands that only read (`history`, `show`): when the history cannot be opened for
   * writing (a read-only folder), read it as it is, without repairing dead runs.
   *
   * @default false
   */
  readonly readOnlyFallback?: boolean;
}

/** An opened history. */
export interface OpenedHistory {
  readonly store: StateStore;
  readonly artifacts: ArtifactStore;
  /** The runs found dead and marked FAILED on opening. */
  readonly recovered: string[];
  /** Why the history was opened for reading only (dead runs were not repaired), when it was. */
  readonly readOnly?: string;
}

/** Open the history, repairing runs whose process is gone; `undefined` when nothing was ever run here. */
export async function openHistory(options: HistoryOptions): Promise<OpenedHistory | undefined> {
  if (!existsSync(path.join(options.home, STATE_DATABASE_FILE))) {
    return undefined;
  }
  let store: StateStore;
  let readOnly: string | undefined;
  try {
    store = StateStore.open(options.home);
  } catch (error) {
    if (!options.readOnlyFallback || !(error instanceof InputError) || !/cannot be (opened for writing|created)/.test(error.message)) {
      throw error;
    }
    // Reading works where writing does not (a read-only folder): say so, and show what is there.
    store = StateStore.open(options.home, { readOnly: true });
    readOnly = error.message.split('\n')[0]!;
  }
  const artifacts = new ArtifactStore(path.join(options.home, 'artifacts'));
  if (readOnly !== undefined) {
    return { store, artifacts, recovered: [], readOnly };
  }
  try {
    const recovered = await recoverAbandonedExecutions(store, { clock: options.clock ?? systemClock, ...(options.processTable ? { processTable: options.processTable } : {}) });
    if (recovered.length) {
      const clock = options.clock ?? systemClock;
      const deployments = options.deployments ?? storedLocalDeployments({ home: options.home, store, clock, processTable: options.processTable ?? (await import('../runtime/process.js')).nodeProcessTable });
      for (const id of recovered) {
        await deployments.stopServersStartedBy(id).catch(() => []);
      }
    }
    return { store, artifacts, recovered };
  } catch (error) {
    store.close();
    throw error;
  }
}

/** Options of the commands that only read the history. */
export interface ReadHistoryOptions extends HistoryOptions {
  /**
   * Receives what a person should know besides the answer: the history could only be read (a
   * read-only folder, dead runs not repaired). Given, the history is read even where it cannot
   * be written.
   */
  readonly onNotice?: (notice: string) => void;
  /** From this size on, `listExecutions` tells the state folder's size. @default STATE_SIZE_NOTICE_BYTES */
  readonly stateSizeNoticeBytes?: number;
}

/** Open for a command that only reads: where the history cannot be written, read it and say so. */
async function openForReading(options: ReadHistoryOptions): Promise<OpenedHistory | undefined> {
  const history = await openHistory({ ...options, readOnlyFallback: options.onNotice !== undefined });
  if (history?.readOnly !== undefined) {
    options.onNotice?.(`${history.readOnly}: showing it as it is, without marking runs whose process is gone as failed`);
  }
  return history;
}

/** Past executions, newest first; with `onNotice`, the state folder's size too once it is large. */
export async function listExecutions(options: ReadHistoryOptions & { service?: string; limit?: number }): Promise<ExecutionRecord[]> {
  const history = await openForReading(options);
  if (!history) {
    return [];
  }
  try {
    if (options.onNotice) {
      const size = stateSizeNotice(history.store, options.clock ?? systemClock, options.stateSizeNoticeBytes);
      if (size !== undefined) options.onNotice(size);
    }
    return history.store.executions({ ...(options.service ? { service: options.service } : {}), ...(options.limit ? { limit: options.limit } : {}) });
  } finally {
    history.store.close();
  }
}

/**
 * One execution as a document, with its actions' logs.
 *
 * @throws InputError when no execution has that id (or id prefix)
 */
export async function showExecution(options: ReadHistoryOptions & { executionId: string; logs?: boolean }): Promise<ExecutionDocument> {
  const history = await openForReading(options);
  if (!history) {
    throw unknownExecution(options.executionId, options.home);
  }
  try {
    const execution = history.store.execution(options.executionId);
    if (!execution) {
      throw unknownExecution(options.executionId, options.home);
    }
    return await describeExecution(history.store, history.artifacts, execution, { logs: options.logs ?? true });
  } finally {
    history.store.close();
  }
}

/**
 * Decide the approval an execution waits for (`service-pipelines approve|reject <id>`); the
 * waiting run sees the decision at its next look.
 *
 * @throws InputError when the execution is unknown or waits for no approval
 */
export async function decideApproval(
  options: HistoryOptions & { executionId: string; decision: 'APPROVED' | 'REJECTED'; summary?: string; by?: string },
): Promise<{ execution: ExecutionRecord; approval: ApprovalRecord }> {
  const history = await openHistory(options);
  if (!history) {
    throw unknownExecution(options.executionId, options.home);
  }
  try {
    const execution = history.store.execution(options.executionId);
    if (!execution) {
      throw unknownExecution(options.executionId, options.home);
    }
    const pending = history.store.approvals(execution.id).find((a) => a.status === 'PENDING');
    if (!pending) {
      const last = history.store.approvals(execution.id).at(-1);
      throw new InputError(`execution ${execution.id} is not awaiting approval (it is ${execution.status})`, [
        {
          where: 'execution-id',
          message: last ? `its approval ${last.stage}.${last.action} was ${last.status.toLowerCase()}${last.decidedBy ? ` by ${last.decidedBy}` : ''}` : 'it has no approval to decide',
        },
      ]);
    }
    const at = (options.clock ?? systemClock).now();
    const decided = history.store.decideApproval(execution.id, pending.stage, pending.action, {
      status: options.decision,
      by: options.by ?? `${options.decision === 'APPROVED' ? 'approve' : 'reject'} command`,
      at,
      ...(options.summary ? { summary: options.summary } : {}),
    });
    if (!decided) {
      throw new InputError(`the approval of execution ${execution.id} was decided by someone else just now`, [{ where: 'execution-id', message: 'see `service-pipelines show`' }]);
    }
    return { execution, approval: history.store.approval(execution.id, pending.stage, pending.action)! };
  } finally {
    history.store.close();
  }
}

function unknownExecution(id: string, home: string): InputError {
  return new InputError(`no execution "${id}" in ${path.join(home, 'state.db')}`, [
    { where: 'execution-id', message: 'see `service-pipelines history` for the ids (a unique prefix of 4 characters or more works too)' },
  ]);
}
