/**
 * What `run --json`, `show` and `history` report: an execution as one JSON document, and the
 * same for people (text). Pure functions of the history; the CLI prints them.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ArtifactStore } from './artifact-store.js';
import { StoredDeploymentRecords } from './deployment-records.js';
import type { ActionRecord, ApprovalRecord, ExecutionRecord, RollbackRecord, StageRecord, StateStore } from './state-store.js';

/** One action in an execution document. */
export interface ActionDocument {
  readonly name: string;
  readonly runOrder: number;
  readonly kind: ActionRecord['kind'];
  readonly step: string | null;
  readonly status: ActionRecord['status'];
  readonly statusReason: string | null;
  readonly exitCode: number | null;
  readonly failedCommand: string | null;
  readonly startedAt: string | null;
  readonly durationMs: number | null;
  /** The action's log (`show` only). */
  readonly log?: string;
}

/** One stage in an execution document. */
export interface StageDocument {
  readonly name: string;
  readonly environment: string | null;
  readonly onFailure: StageRecord['onFailure'];
  readonly status: StageRecord['status'];
  readonly statusReason: string | null;
  readonly startedAt: string | null;
  readonly durationMs: number | null;
  readonly actions: readonly ActionDocument[];
}

/** An execution, as `run --json` and `show --json` print it. */
export interface ExecutionDocument {
  readonly schemaVersion: 1;
  readonly executionId: string;
  readonly pipeline: string;
  readonly service: string;
  readonly trigger: ExecutionRecord['trigger'];
  readonly executionMode: ExecutionRecord['executionMode'];
  readonly status: ExecutionRecord['status'];
  readonly statusReason: string | null;
  readonly source: { readonly path: string; readonly revision: string | null; readonly uncommittedChanges: boolean };
  readonly until: string | null;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly durationMs: number | null;
  readonly pid: number;
  readonly stages: readonly StageDocument[];
  readonly artifacts: ReadonlyArray<{ readonly name: string; readonly digest: string; readonly bytes: number; readonly files: number; readonly producedBy: string; readonly path: string }>;
  readonly approvals: ReadonlyArray<Omit<ApprovalRecord, 'executionId' | 'requestedAt' | 'decidedAt'> & { readonly requestedAt: string; readonly decidedAt: string | null }>;
  readonly rollbacks: ReadonlyArray<Omit<RollbackRecord, 'executionId' | 'startedAt' | 'finishedAt'> & { readonly startedAt: string; readonly finishedAt: string | null }>;
  /** The local releases this execution deployed; `good` once the environment's acceptance tests passed. */
  readonly releases: ReadonlyArray<{ readonly environment: string; readonly release: number; readonly packageSha256: string | null; readonly good: boolean }>;
  /** Where the history is. */
  readonly history: { readonly home: string; readonly database: string; readonly logs: string };
}

/** Options of `describeExecution`. */
export interface DescribeOptions {
  /** Include each action's log. @default false */
  readonly logs?: boolean;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const duration = (from: number | null, to: number | null) => (from === null || to === null ? null : to - from);

/** An execution as a document. */
export async function describeExecution(store: StateStore, artifacts: ArtifactStore, execution: ExecutionRecord, options: DescribeOptions = {}): Promise<ExecutionDocument> {
  const actions = store.actions(execution.id);
  const stages: StageDocument[] = [];
  for (const stage of store.stages(execution.id)) {
    const stageActions: ActionDocument[] = [];
    for (const action of actions.filter((a) => a.stage === stage.name)) {
      let log: string | undefined;
      if (options.logs) {
        log = store.actionLog(execution.id, stage.name, action.name) ?? (action.logFile ? await readFile(action.logFile, 'utf8').catch(() => undefined) : undefined) ?? '';
      }
      stageActions.push({
        name: action.name,
        runOrder: action.runOrder,
        kind: action.kind,
        step: action.step,
        status: action.status,
        statusReason: action.statusReason,
        exitCode: action.exitCode,
        failedCommand: action.failedCommand,
        startedAt: iso(action.startedAt),
        durationMs: duration(action.startedAt, action.finishedAt),
        ...(log !== undefined ? { log } : {}),
      });
    }
    stages.push({
      name: stage.name,
      environment: stage.environment,
      onFailure: stage.onFailure,
      status: stage.status,
      statusReason: stage.statusReason,
      startedAt: iso(stage.startedAt),
      durationMs: duration(stage.startedAt, stage.finishedAt),
      actions: stageActions,
    });
  }
  return {
    schemaVersion: 1,
    executionId: execution.id,
    pipeline: execution.pipeline,
    service: execution.service,
    trigger: execution.trigger,
    executionMode: execution.executionMode,
    status: execution.status,
    statusReason: execution.statusReason,
    source: { path: execution.sourcePath, revision: execution.sourceRevision, uncommittedChanges: execution.sourceDirty },
    until: execution.untilEnvironment,
    startedAt: iso(execution.startedAt)!,
    finishedAt: iso(execution.finishedAt),
    durationMs: duration(execution.startedAt, execution.finishedAt),
    pid: execution.pid,
    stages,
    artifacts: store.artifacts(execution.id).map((a) => ({ name: a.name, digest: a.digest, bytes: a.bytes, files: a.files, producedBy: a.producedBy, path: artifacts.pathOf(a.digest) })),
    approvals: store.approvals(execution.id).map(({ executionId: _id, requestedAt, decidedAt, ...rest }) => ({ ...rest, requestedAt: iso(requestedAt)!, decidedAt: iso(decidedAt) })),
    rollbacks: store.rollbacks(execution.id).map(({ executionId: _id, startedAt, finishedAt, ...rest }) => ({ ...rest, startedAt: iso(startedAt)!, finishedAt: iso(finishedAt) })),
    releases: (await new StoredDeploymentRecords(store).releasesDeployedBy(execution.id)).map((r) => ({
      environment: r.environment,
      release: r.release,
      packageSha256: r.packageSha256,
      good: r.good,
    })),
    history: { home: store.home, database: path.join(store.home, 'state.db'), logs: path.join(store.home, 'runs', execution.id, 'logs') },
  };
}

/** A duration for people: `850ms`, `12.3s`, `4m05s`. */
export function formatDuration(ms: number | null): string {
  if (ms === null) {
    return '';
  }
  if (ms < 1000) {
    return `${ms}ms`;
  }
  if (ms < 60_000) {
    return `${(ms / 1000).toFixed(1)}s`;
  }
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.floor((ms % 60_000) / 1000);
  return `${minutes}m${String(seconds).padStart(2, '0')}s`;
}

/** An execution for people, with each action's log when the document has them. */
export function formatExecution(document: ExecutionDocument): string {
  const lines: string[] = [];
  const revision = document.source.revision ? `${document.source.revision.replace(/^sha256:/, 'snapshot ').slice(0, 24)}${document.source.uncommittedChanges ? ' + uncommitted changes' : ''}` : 'no source yet';
  lines.push(`${document.pipeline}  execution ${document.executionId}`);
  lines.push(`  status: ${document.status}${document.statusReason ? ` (${document.statusReason})` : ''}`);
  lines.push(`  source: ${document.source.path} @ ${revision}`);
  lines.push(`  started: ${document.startedAt}${document.durationMs !== null ? `, took ${formatDuration(document.durationMs)}` : ''}; mode ${document.executionMode}${document.until ? `; until ${document.until}` : ''}`);
  for (const stage of document.stages) {
    lines.push(`  ${stage.name}  ${stage.status}${stage.durationMs !== null ? `  ${formatDuration(stage.durationMs)}` : ''}${stage.statusReason ? `  (${stage.statusReason})` : ''}`);
    for (const action of stage.actions) {
      lines.push(`    ${action.runOrder}. ${action.name}  ${action.status}${action.durationMs !== null ? `  ${formatDuration(action.durationMs)}` : ''}${action.statusReason ? `  (${action.statusReason})` : ''}`);
    }
  }
  if (document.artifacts.length) {
    lines.push('  artifacts:');
    for (const artifact of document.artifacts) {
      lines.push(`    ${artifact.name}  ${artifact.digest.slice(0, 19)}  ${artifact.files} files, ${artifact.bytes} bytes  (from ${artifact.producedBy})`);
    }
  }
  for (const release of document.releases) {
    lines.push(`  release ${release.release} deployed to ${release.environment}${release.good ? ', acceptance tests passed' : ''}${release.packageSha256 ? ` (bundle sha256 ${release.packageSha256.slice(0, 12)})` : ''}`);
  }
  for (const rollback of document.rollbacks) {
    const to = rollback.toRelease !== null ? ` to release ${rollback.toRelease}` : '';
    // Its own failure first: why it was started is the stage's failure, shown above.
    lines.push(`  rollback of ${rollback.environment}: ${rollback.status}${to}${rollback.failureReason ? `: ${rollback.failureReason}` : ''} (started because ${rollback.reason})`);
  }
  for (const approval of document.approvals) {
    lines.push(`  approval ${approval.stage}.${approval.action}: ${approval.status}${approval.decidedBy ? ` by ${approval.decidedBy}` : ''}${approval.summary ? `: ${approval.summary}` : ''}`);
  }
  for (const stage of document.stages) {
    for (const action of stage.actions) {
      if (action.log !== undefined && action.log !== '') {
        lines.push('', `── log of ${stage.name}.${action.name} ──`, action.log.replace(/\n$/, ''));
      }
    }
  }
  lines.push('', `history: ${document.history.database}`);
  return `${lines.join('\n')}\n`;
}

/** Past executions for people, one line each. */
export function formatHistory(executions: readonly ExecutionRecord[], home: string): string {
  if (executions.length === 0) {
    return `no local runs recorded in ${path.join(home, 'state.db')}\n`;
  }
  const rows = executions.map((e) => [
    e.id,
    e.pipeline,
    e.status + (e.sourceDirty ? '' : ''),
    new Date(e.startedAt).toISOString().replace('T', ' ').slice(0, 19),
    formatDuration(e.finishedAt === null ? null : e.finishedAt - e.startedAt),
    e.sourceRevision ? `${e.sourceRevision.replace(/^sha256:/, '').slice(0, 12)}${e.sourceDirty ? '+dirty' : ''}` : '',
    e.statusReason ?? '',
  ]);
  const header = ['EXECUTION', 'PIPELINE', 'STATUS', 'STARTED (UTC)', 'DURATION', 'SOURCE', 'DETAIL'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const format = (row: string[]) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd();
  return `${[format(header), ...rows.map(format)].join('\n')}\n`;
}
