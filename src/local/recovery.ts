/**
 * Runs that died (killed, crashed, their machine or container gone) leave their record in
 * progress, their stage locks held and, possibly, processes of their actions running. Every
 * command that reads or writes the history repairs that first:
 *
 * 1. A run is dead when its process is gone, told by pid and start time on the same machine and
 *    pid namespace (its scope), so a reused pid is never taken for it; or, seen from another
 *    scope (a renamed or restarted container over the same folder), when its heartbeat stopped.
 * 2. The process groups its actions started are ended first (SIGTERM, SIGKILL after a grace
 *    period) and waited for; only then is the run marked FAILED and its locks released, so that
 *    the next run's deploy never overlaps one of the dead run's. A release it made current in a
 *    stage that did not succeed is undone in the same transaction: what was current comes back.
 *
 * The actions do not wait for that: their shell's watchdog ends their group as soon as the run's
 * process is gone (see `ShellSession`). This is the second line, for whatever got past the first.
 */
import { hostname } from 'node:os';
import type { Clock } from '../runtime/clock.js';
import { LOCAL_ENV } from '../model/contract.js';
import { endProcesses, nodeProcessTable, type ProcessTable, type ProcessTarget } from '../runtime/process.js';
import { revertDeploymentChanges } from './deployment-records.js';
import type { ExecutionRecord, FinalExecutionStatus, StateStore } from './state-store.js';

/** How often a live run updates its heartbeat. */
export const HEARTBEAT_INTERVAL_MS = 5_000;

/** A heartbeat older than this tells, from another machine or container, that the run is dead. */
export const STALE_HEARTBEAT_MS = 60_000;

/** How long the processes of a dead run's actions get between SIGTERM and SIGKILL. */
export const RECOVERY_GRACE_MS = 5_000;

/** The executions this process is running: never recovered, whatever their record says. */
const runningHere = new Set<string>();

/** Record that this process runs an execution, until `unmarkRunningHere`. */
export function markRunningHere(executionId: string): void {
  runningHere.add(executionId);
}

/** Record that this process no longer runs an execution. */
export function unmarkRunningHere(executionId: string): void {
  runningHere.delete(executionId);
}

/** Options of the recovery. */
export interface RecoveryOptions {
  readonly clock: Clock;
  /** @default nodeProcessTable */
  readonly processTable?: ProcessTable;
  /** Between SIGTERM and SIGKILL for the processes of a dead run's actions. @default RECOVERY_GRACE_MS */
  readonly graceMs?: number;
  /** @default STALE_HEARTBEAT_MS */
  readonly staleMs?: number;
}

/**
 * Why an execution recorded as going (or queued) is dead, or undefined when it may be alive.
 */
export function whyAbandoned(execution: ExecutionRecord, table: ProcessTable, now: number, staleMs = STALE_HEARTBEAT_MS): string | undefined {
  if (runningHere.has(execution.id)) {
    return undefined;
  }
  const queued = execution.status === 'QUEUED';
  if (sameScope(execution, table)) {
    if (execution.pid === 0) {
      // Queued by `serve`, its process not started yet: it starts within seconds, or never.
      return now - (execution.heartbeatAt ?? execution.startedAt) > staleMs ? `its run never started (queued ${Math.round((now - execution.startedAt) / 1000)} s ago)` : undefined;
    }
    // Our own pid on a run this process does not run: an earlier process had the same pid (pid 1
    // in a container, say) and is gone. Comparing pids alone would keep that run, and its stage
    // locks, forever; the start time tells them apart too.
    const process = { pid: execution.pid, ...(execution.processStarted ? { startTime: execution.processStarted } : {}) };
    if (execution.pid === globalThis.process.pid || !table.isAlive(process)) {
      return queued ? `its run's process (pid ${execution.pid}) ended before the run started` : `the run's process (pid ${execution.pid}) is gone: it was killed or crashed`;
    }
    return undefined;
  }
  const lastSign = execution.heartbeatAt ?? execution.startedAt;
  if (now - lastSign > staleMs) {
    return `the run's heartbeat stopped ${Math.round((now - lastSign) / 1000)} s ago (pid ${execution.pid} on ${execution.host}, another machine or container): it was killed, crashed, or its machine stopped`;
  }
  return undefined;
}

/**
 * Find executions recorded as going whose process is gone, end what their actions left running,
 * and mark them FAILED (their stages, actions, approvals and locks with them). Returns their ids.
 */
export async function recoverAbandonedExecutions(store: StateStore, options: RecoveryOptions): Promise<string[]> {
  const table = options.processTable ?? nodeProcessTable;
  const recovered: string[] = [];
  for (const execution of store.activeExecutions()) {
    const reason = whyAbandoned(execution, table, options.clock.now(), options.staleMs);
    if (reason !== undefined) {
      await endExecutionAndProcesses(store, execution, 'FAILED', reason, options);
      recovered.push(execution.id);
    }
  }
  return recovered;
}

/**
 * End an execution this process does not run (a dead one, or one `serve` gives up on): first its
 * actions' process groups, waited for, then its record, locks included.
 */
export async function endExecutionAndProcesses(store: StateStore, execution: ExecutionRecord, status: FinalExecutionStatus, reason: string, options: RecoveryOptions): Promise<void> {
  const table = options.processTable ?? nodeProcessTable;
  const groups = store.processGroups(execution.id);
  let detail = '';
  if (sameScope(execution, table)) {
    const graceMs = options.graceMs ?? RECOVERY_GRACE_MS;
    const end = async (targets: ProcessTarget[], what: (n: number) => string) => {
      const ended = targets.length ? await endProcesses(table, options.clock, targets, { graceMs }) : undefined;
      if (ended?.found) {
        const killed = ended.killed ? `, ${ended.killed} killed after ${graceMs / 1000} s` : '';
        const left = ended.remaining ? `; ${ended.remaining} would not end` : '';
        detail += `; ${what(ended.found)} ended${killed}${left}`;
      }
    };
    await end(
      groups.map((g) => ({ process: g.leader, group: true })),
      (n) => `${n} process group${n === 1 ? '' : 's'} of its actions`,
    );
    // Then whatever still carries its id in its environment: a process that left its action's
    // group (a server a deploy started detached, in a session of its own).
    await end(
      table.withEnvironment(LOCAL_ENV.executionId, execution.id).map((process) => ({ process, group: false })),
      (n) => `${n} process${n === 1 ? '' : 'es'} that had left them`,
    );
  } else if (groups.length) {
    detail = `; the processes of its actions were on another machine or container (${execution.host}), and are not signalled from here`;
  }
  // A deployment it made current in a stage that did not succeed was never verified: what was
  // current before comes back, in the transaction that ends its record.
  const unverified = store.stages(execution.id).filter((s) => s.environment !== null && s.status !== 'SUCCEEDED').map((s) => s.environment!);
  store.transaction(() => {
    store.endExecution(execution.id, status, `${reason}${detail}`, options.clock.now());
    revertDeploymentChanges(store, execution.id, unverified);
  });
}

/** Whether the execution's pid means something here (same machine boot and pid namespace). */
function sameScope(execution: ExecutionRecord, table: ProcessTable): boolean {
  // Runs recorded before scopes were kept: the host name was all there was.
  return execution.processScope === null ? execution.host === hostname() : execution.processScope === table.scope();
}
