/**
 * The run history: executions, stages, actions, artifacts, approvals and rollbacks in SQLite
 * (`<home>/state.db`, WAL mode), each action's log in its file. Every state change is one transaction, so a run that
 * is killed leaves rows a later command can read and repair, never a half-written change.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type Database from 'better-sqlite3';
import { InputError } from '../model/errors.js';
import type { ProcessIdentity } from '../runtime/process.js';
import { openStateDatabase, stateDatabaseError, STATE_DATABASE_FILE, type OpenStateDatabaseOptions } from './state-database.js';
import path from 'node:path';

/**
 * Status of an execution (CodePipeline's, plus the approval wait). `QUEUED`: recorded by `serve`
 * for a webhook, its run not started yet.
 */
export type ExecutionStatus = 'QUEUED' | 'IN_PROGRESS' | 'AWAITING_APPROVAL' | 'SUCCEEDED' | 'FAILED' | 'SUPERSEDED' | 'STOPPED';
/** Status of a stage. */
export type StageStatus = 'PENDING' | 'WAITING' | 'IN_PROGRESS' | 'SUCCEEDED' | 'FAILED' | 'SKIPPED' | 'SUPERSEDED';
/** Status of an action. */
export type ActionStatus = 'PENDING' | 'IN_PROGRESS' | 'AWAITING_APPROVAL' | 'SUCCEEDED' | 'FAILED' | 'REJECTED' | 'SKIPPED' | 'ABANDONED';
/** Status of a manual approval. */
export type ApprovalStatus = 'PENDING' | 'APPROVED' | 'REJECTED' | 'ABANDONED';

/** The statuses of an action that ended. */
export const FINAL_ACTION_STATUSES: readonly ActionStatus[] = ['SUCCEEDED', 'FAILED', 'REJECTED', 'SKIPPED', 'ABANDONED'];

/** The statuses of a run that is still going (or, QUEUED, about to). */
export const ACTIVE_STATUSES: readonly ExecutionStatus[] = ['QUEUED', 'IN_PROGRESS', 'AWAITING_APPROVAL'];

/** The final statuses an execution can be ended with. */
export type FinalExecutionStatus = Exclude<ExecutionStatus, 'QUEUED' | 'IN_PROGRESS' | 'AWAITING_APPROVAL'>;

/** One execution (a run of a pipeline). */
export interface ExecutionRecord {
  readonly id: string;
  /** Order of creation: later executions have larger numbers. */
  readonly seq: number;
  readonly pipeline: string;
  readonly service: string;
  readonly trigger: 'push' | 'pull-request';
  readonly executionMode: 'SUPERSEDED' | 'QUEUED' | 'PARALLEL';
  readonly status: ExecutionStatus;
  readonly statusReason: string | null;
  /** The run's process (0 while QUEUED and not started). */
  readonly pid: number;
  /** When that process started (see `ProcessIdentity.startTime`): a reused pid is not taken for it. */
  readonly processStarted: string | null;
  /** Where `pid` means something (see `ProcessTable.scope`); null for runs recorded before it was kept. */
  readonly processScope: string | null;
  /** The host name, for people: recovery goes by `processScope` and the heartbeat. */
  readonly host: string;
  /** When the run last said it was alive (every few seconds while it runs). */
  readonly heartbeatAt: number | null;
  readonly configFile: string;
  readonly sourcePath: string;
  /** The git commit, or `sha256:<digest>` of the snapshot outside git; null until the source is taken. */
  readonly sourceRevision: string | null;
  /** The commit the trigger named (a webhook's sha): the run takes that commit, not the working tree. */
  readonly requestedRevision: string | null;
  /** The webhook delivery (`X-GitHub-Delivery`) that queued the run. */
  readonly deliveryId: string | null;
  /** Whether uncommitted changes were included in the snapshot. */
  readonly sourceDirty: boolean;
  readonly untilEnvironment: string | null;
  readonly startedAt: number;
  readonly finishedAt: number | null;
}

/** One stage of an execution. */
export interface StageRecord {
  readonly executionId: string;
  readonly name: string;
  readonly position: number;
  readonly environment: string | null;
  readonly onFailure: 'FAIL' | 'ROLLBACK';
  readonly status: StageStatus;
  readonly statusReason: string | null;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
}

/** One action of a stage (rollback actions are recorded here too, in the stage they repair). */
export interface ActionRecord {
  readonly executionId: string;
  readonly stage: string;
  readonly name: string;
  readonly position: number;
  readonly runOrder: number;
  readonly kind: 'source' | 'commands' | 'approval' | 'rollback';
  readonly step: string | null;
  readonly status: ActionStatus;
  readonly statusReason: string | null;
  readonly exitCode: number | null;
  readonly failedCommand: string | null;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  /** The action's log file (see `actionLog`). */
  readonly logFile: string | null;
}

/** An artifact an execution produced, stored by content. */
export interface ArtifactRecord {
  readonly executionId: string;
  readonly name: string;
  /** `sha256:<hex>` of the artifact's tree manifest. */
  readonly digest: string;
  readonly bytes: number;
  readonly files: number;
  /** `<stage>.<action>` */
  readonly producedBy: string;
  readonly createdAt: number;
}

/** A manual approval. */
export interface ApprovalRecord {
  readonly executionId: string;
  readonly stage: string;
  readonly action: string;
  readonly status: ApprovalStatus;
  readonly comment: string;
  readonly requestedAt: number;
  readonly decidedAt: number | null;
  /** Who or what decided: `--approve`, `terminal`, `approve command`... */
  readonly decidedBy: string | null;
  readonly summary: string | null;
}

/** A rollback of an environment. */
export interface RollbackRecord {
  readonly executionId: string;
  readonly stage: string;
  readonly environment: string;
  readonly toRelease: number | null;
  readonly status: 'IN_PROGRESS' | 'SUCCEEDED' | 'FAILED';
  /** Why the rollback started: the stage's failure. */
  readonly reason: string;
  /** Why the rollback itself failed. */
  readonly failureReason: string | null;
  readonly startedAt: number;
  readonly finishedAt: number | null;
}

/** What `createExecution` needs. */
export interface NewExecution {
  readonly id: string;
  readonly pipeline: string;
  readonly service: string;
  readonly trigger: 'push' | 'pull-request';
  readonly executionMode: 'SUPERSEDED' | 'QUEUED' | 'PARALLEL';
  /** The run's process. */
  readonly process: ProcessIdentity;
  /** Where that pid means something (`ProcessTable.scope`). */
  readonly processScope: string;
  readonly configFile: string;
  readonly sourcePath: string;
  readonly untilEnvironment?: string;
  /** The commit to run instead of the working tree. */
  readonly requestedRevision?: string;
  readonly startedAt: number;
  readonly stages: ReadonlyArray<{
    readonly name: string;
    readonly environment?: string;
    readonly onFailure: 'FAIL' | 'ROLLBACK';
    readonly actions: ReadonlyArray<{ readonly name: string; readonly runOrder: number; readonly kind: ActionRecord['kind']; readonly step?: string }>;
  }>;
}

/** A run `serve` records before it starts it (QUEUED). */
export interface QueuedExecution {
  readonly id: string;
  readonly pipeline: string;
  readonly service: string;
  readonly trigger: 'push' | 'pull-request';
  readonly executionMode: 'SUPERSEDED' | 'QUEUED' | 'PARALLEL';
  readonly configFile: string;
  readonly sourcePath: string;
  /** The commit the webhook named. */
  readonly requestedRevision?: string;
  /** The webhook delivery that queued it. */
  readonly deliveryId?: string;
  /** Where the run will start (this process's scope: `serve` starts it on this machine). */
  readonly processScope: string;
  readonly queuedAt: number;
}

/** A process group an action started, to end should its run die. */
export interface ProcessGroupRecord {
  readonly executionId: string;
  readonly stage: string;
  readonly action: string;
  /** The group's leader: its pid is the group's id. */
  readonly leader: ProcessIdentity;
  readonly startedAt: number;
}

/** Who holds a maintenance lock (`gc`). */
export interface MaintenanceRecord {
  readonly name: string;
  readonly process: ProcessIdentity;
  readonly processScope: string;
  readonly startedAt: number;
}

type Row = Record<string, unknown>;

/** Opens and changes the run history. One instance per process; safe across processes. */
export class StateStore {
  /**
   * Open (and create or migrate) `<home>/state.db`.
   *
   * @throws InputError when the file is damaged, unreadable, a folder, or in a folder this user
   * cannot write, naming the file and what to do
   */
  static open(home: string, options: OpenStateDatabaseOptions = {}): StateStore {
    return new StateStore(openStateDatabase(home, options), home, options.readOnly ?? false);
  }

  private constructor(
    private readonly db: Database.Database,
    /** The state folder (`.service-pipelines/`). */
    readonly home: string,
    /** Opened for reading only (see `OpenStateDatabaseOptions.readOnly`). */
    readonly readOnly: boolean,
  ) {}

  /** The history file. */
  get file(): string {
    return path.join(this.home, STATE_DATABASE_FILE);
  }

  /**
   * The connection, for the stores that keep their tables in this database (the webhook
   * deliveries of `serve`), so that their changes and the runs' can be one transaction.
   */
  get sqlite(): Database.Database {
    return this.db;
  }

  /** Close the database. */
  close(): void {
    this.db.close();
  }

  /** Run `fn` in one write transaction (taken at once, so concurrent writers queue on the busy timeout). */
  transaction<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate();
    } catch (error) {
      throw stateDatabaseError(error, this.file);
    }
  }

  /** Record a new execution with all its stages and actions pending. */
  createExecution(execution: NewExecution): ExecutionRecord {
    this.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO executions (id, service, status, pipeline, trigger, execution_mode, pid, process_started, process_scope, host, heartbeat_at,
             config_file, source_path, until_environment, requested_revision, started_at)
           VALUES (@id, @service, 'IN_PROGRESS', @pipeline, @trigger, @execution_mode, @pid, @process_started, @process_scope, @host, @heartbeat_at,
             @config_file, @source_path, @until_environment, @requested_revision, @started_at)`,
        )
        .run({ id: execution.id, service: execution.service, ...runColumns(execution) });
      this.insertPlan(execution);
    });
    return this.execution(execution.id)!;
  }

  /** Record a run `serve` is about to start (QUEUED, no process yet). Call it inside the delivery's transaction. */
  queueExecution(execution: QueuedExecution): void {
    this.db
      .prepare(
        `INSERT INTO executions (id, pipeline, service, trigger, execution_mode, status, pid, process_scope, host, heartbeat_at,
           config_file, source_path, requested_revision, delivery_id, started_at)
         VALUES (?, ?, ?, ?, ?, 'QUEUED', 0, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        execution.id,
        execution.pipeline,
        execution.service,
        execution.trigger,
        execution.executionMode,
        execution.processScope,
        hostname(),
        execution.queuedAt,
        execution.configFile,
        execution.sourcePath,
        execution.requestedRevision ?? null,
        execution.deliveryId ?? null,
        execution.queuedAt,
      );
  }

  /** Record the process started for a QUEUED run (before it claims its record). */
  setQueuedProcess(id: string, process: ProcessIdentity): void {
    this.db.prepare(`UPDATE executions SET pid = ?, process_started = ? WHERE id = ? AND status = 'QUEUED'`).run(process.pid, process.startTime ?? null, id);
  }

  /**
   * A run takes over its QUEUED record: in one transaction, it becomes IN_PROGRESS with this
   * run's process and plan. Returns the record as it was when it is not QUEUED any more (stopped
   * before the run started), or unknown.
   */
  claimQueuedExecution(execution: NewExecution): { claimed: true } | { claimed: false; record: ExecutionRecord | undefined } {
    return this.transaction(() => {
      const updated = this.db
        .prepare(
          `UPDATE executions SET status = 'IN_PROGRESS', pipeline = @pipeline, trigger = @trigger, execution_mode = @execution_mode, pid = @pid,
             process_started = @process_started, process_scope = @process_scope, host = @host, heartbeat_at = @heartbeat_at, config_file = @config_file,
             source_path = @source_path, until_environment = @until_environment, requested_revision = COALESCE(@requested_revision, requested_revision),
             started_at = @started_at
           WHERE id = @id AND status = 'QUEUED'`,
        )
        .run({ id: execution.id, ...runColumns(execution) });
      if (updated.changes === 0) {
        return { claimed: false as const, record: this.execution(execution.id) };
      }
      this.insertPlan(execution);
      return { claimed: true as const };
    });
  }

  /** The executions a webhook delivery queued, oldest first. */
  executionsOfDelivery(deliveryId: string): ExecutionRecord[] {
    return (this.db.prepare(`SELECT * FROM executions WHERE delivery_id = ? ORDER BY seq`).all(deliveryId) as Row[]).map(toExecution);
  }

  /** Whether an execution's run ever started (took its record and laid out its stages). */
  started(executionId: string): boolean {
    return this.db.prepare(`SELECT 1 FROM stages WHERE execution_id = ? LIMIT 1`).get(executionId) !== undefined;
  }

  /**
   * A live run's heartbeat. Returns false when its record is no longer active: another process
   * found the run dead and ended it.
   */
  heartbeat(id: string, at: number): boolean {
    return this.db.prepare(`UPDATE executions SET heartbeat_at = ? WHERE id = ? AND status IN ('IN_PROGRESS', 'AWAITING_APPROVAL')`).run(at, id).changes > 0;
  }

  /** Record a process group an action started. */
  recordProcessGroup(group: ProcessGroupRecord): void {
    this.db
      .prepare(`INSERT OR REPLACE INTO process_groups (execution_id, stage, action, pgid, start_time, started_at) VALUES (?, ?, ?, ?, ?, ?)`)
      .run(group.executionId, group.stage, group.action, group.leader.pid, group.leader.startTime ?? null, group.startedAt);
  }

  /** Forget the process groups of an action that ended (its executor ended them). */
  forgetProcessGroups(executionId: string, stage?: string, action?: string): void {
    if (stage === undefined || action === undefined) {
      this.db.prepare(`DELETE FROM process_groups WHERE execution_id = ?`).run(executionId);
    } else {
      this.db.prepare(`DELETE FROM process_groups WHERE execution_id = ? AND stage = ? AND action = ?`).run(executionId, stage, action);
    }
  }

  /** The process groups recorded for an execution's actions. */
  processGroups(executionId: string): ProcessGroupRecord[] {
    return (this.db.prepare(`SELECT * FROM process_groups WHERE execution_id = ? ORDER BY started_at`).all(executionId) as Row[]).map((r) => ({
      executionId: String(r.execution_id),
      stage: String(r.stage),
      action: String(r.action),
      leader: { pid: Number(r.pgid), ...(r.start_time === null ? {} : { startTime: String(r.start_time) }) },
      startedAt: Number(r.started_at),
    }));
  }

  /**
   * Take a maintenance lock (`gc`) when `mayStart` agrees, in one transaction. Returns the holder
   * when someone else has it.
   */
  tryStartMaintenance(lock: MaintenanceRecord, mayStart: () => boolean): { started: true } | { started: false; holder?: MaintenanceRecord } {
    return this.transaction(() => {
      const holder = this.maintenance(lock.name);
      if (holder) {
        return { started: false as const, holder };
      }
      if (!mayStart()) {
        return { started: false as const };
      }
      this.db
        .prepare(`INSERT INTO maintenance (name, pid, process_started, process_scope, started_at) VALUES (?, ?, ?, ?, ?)`)
        .run(lock.name, lock.process.pid, lock.process.startTime ?? null, lock.processScope, lock.startedAt);
      return { started: true as const };
    });
  }

  /** Release a maintenance lock. */
  endMaintenance(name: string): void {
    this.db.prepare(`DELETE FROM maintenance WHERE name = ?`).run(name);
  }

  /** Who holds a maintenance lock, if anyone. */
  maintenance(name: string): MaintenanceRecord | undefined {
    const r = this.db.prepare(`SELECT * FROM maintenance WHERE name = ?`).get(name) as Row | undefined;
    return (
      r && {
        name: String(r.name),
        process: { pid: Number(r.pid), ...(r.process_started === null ? {} : { startTime: String(r.process_started) }) },
        processScope: String(r.process_scope),
        startedAt: Number(r.started_at),
      }
    );
  }

  /** A measurement kept for a while (the state folder's size), if any. */
  measurement(name: string): { value: string; measuredAt: number } | undefined {
    const row = this.db.prepare(`SELECT value, measured_at FROM measurements WHERE name = ?`).get(name) as { value: string; measured_at: number } | undefined;
    return row && { value: row.value, measuredAt: row.measured_at };
  }

  /** Keep a measurement. */
  recordMeasurement(name: string, value: string, at: number): void {
    this.db.prepare(`INSERT OR REPLACE INTO measurements (name, value, measured_at) VALUES (?, ?, ?)`).run(name, value, at);
  }

  /** The stages and actions of a new execution, all pending. */
  private insertPlan(execution: NewExecution): void {
    {
      const insertStage = this.db.prepare(
        `INSERT INTO stages (execution_id, name, position, environment, on_failure, status) VALUES (?, ?, ?, ?, ?, 'PENDING')`,
      );
      const insertAction = this.db.prepare(
        `INSERT INTO actions (execution_id, stage, name, position, run_order, kind, step, status) VALUES (?, ?, ?, ?, ?, ?, ?, 'PENDING')`,
      );
      execution.stages.forEach((stage, stageIndex) => {
        insertStage.run(execution.id, stage.name, stageIndex, stage.environment ?? null, stage.onFailure);
        stage.actions.forEach((action, actionIndex) =>
          insertAction.run(execution.id, stage.name, action.name, actionIndex, action.runOrder, action.kind, action.step ?? null),
        );
      });
    }
  }

  /** Change an execution's status (and, for a final status, its end time). */
  setExecutionStatus(id: string, status: ExecutionStatus, fields: { reason?: string; finishedAt?: number } = {}): void {
    this.db
      .prepare(`UPDATE executions SET status = ?, status_reason = COALESCE(?, status_reason), finished_at = COALESCE(?, finished_at) WHERE id = ?`)
      .run(status, fields.reason ?? null, fields.finishedAt ?? null, id);
  }

  /** Record the source snapshot of an execution. */
  setSource(id: string, revision: string, dirty: boolean): void {
    this.db.prepare(`UPDATE executions SET source_revision = ?, source_dirty = ? WHERE id = ?`).run(revision, dirty ? 1 : 0, id);
  }

  /** Change a stage. */
  updateStage(executionId: string, stage: string, fields: { status: StageStatus; reason?: string; startedAt?: number; finishedAt?: number }): void {
    this.db
      .prepare(
        `UPDATE stages SET status = ?, status_reason = COALESCE(?, status_reason), started_at = COALESCE(?, started_at), finished_at = COALESCE(?, finished_at)
         WHERE execution_id = ? AND name = ?`,
      )
      .run(fields.status, fields.reason ?? null, fields.startedAt ?? null, fields.finishedAt ?? null, executionId, stage);
  }

  /** Add an action to a stage after the execution started (the rollback and its verification). */
  addAction(executionId: string, stage: string, action: { name: string; runOrder: number; kind: ActionRecord['kind']; step?: string }): void {
    this.transaction(() => {
      const position = (this.db.prepare(`SELECT COALESCE(MAX(position), -1) + 1 AS p FROM actions WHERE execution_id = ? AND stage = ?`).get(executionId, stage) as { p: number }).p;
      this.db
        .prepare(
          `INSERT OR REPLACE INTO actions (execution_id, stage, name, position, run_order, kind, step, status) VALUES (?, ?, ?, ?, ?, ?, ?, 'PENDING')`,
        )
        .run(executionId, stage, action.name, position, action.runOrder, action.kind, action.step ?? null);
    });
  }

  /** Change an action. */
  updateAction(
    executionId: string,
    stage: string,
    action: string,
    fields: {
      status: ActionStatus;
      reason?: string;
      exitCode?: number;
      failedCommand?: string;
      startedAt?: number;
      finishedAt?: number;
      logFile?: string;
      /** The whole log, kept in the database (the engine streams its logs to files: see `actionLog`). */
      log?: string;
    },
  ): void {
    this.db
      .prepare(
        `UPDATE actions SET status = ?, status_reason = COALESCE(?, status_reason), exit_code = COALESCE(?, exit_code),
           failed_command = COALESCE(?, failed_command), started_at = COALESCE(?, started_at), finished_at = COALESCE(?, finished_at),
           log_file = COALESCE(?, log_file), log = COALESCE(?, log)
         WHERE execution_id = ? AND stage = ? AND name = ?`,
      )
      .run(
        fields.status,
        fields.reason ?? null,
        fields.exitCode ?? null,
        fields.failedCommand ?? null,
        fields.startedAt ?? null,
        fields.finishedAt ?? null,
        fields.logFile ?? null,
        fields.log ?? null,
        executionId,
        stage,
        action,
      );
  }

  /** Record an artifact an execution produced. */
  recordArtifact(artifact: ArtifactRecord): void {
    this.db
      .prepare(
        `INSERT OR REPLACE INTO artifacts (execution_id, name, digest, bytes, files, produced_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(artifact.executionId, artifact.name, artifact.digest, artifact.bytes, artifact.files, artifact.producedBy, artifact.createdAt);
  }

  /** Ask for an approval (the execution shows as awaiting approval until it is decided). */
  requestApproval(executionId: string, stage: string, action: string, comment: string, at: number): void {
    this.transaction(() => {
      this.db
        .prepare(`INSERT OR REPLACE INTO approvals (execution_id, stage, action, status, comment, requested_at) VALUES (?, ?, ?, 'PENDING', ?, ?)`)
        .run(executionId, stage, action, comment, at);
      this.updateAction(executionId, stage, action, { status: 'AWAITING_APPROVAL' });
      this.setExecutionStatus(executionId, 'AWAITING_APPROVAL');
    });
  }

  /**
   * Decide a pending approval. Returns false when it was not pending any more (decided already,
   * or the run ended): the first decision wins.
   */
  decideApproval(executionId: string, stage: string, action: string, decision: { status: 'APPROVED' | 'REJECTED'; by: string; summary?: string; at: number }): boolean {
    return this.transaction(() => {
      const result = this.db
        .prepare(
          `UPDATE approvals SET status = ?, decided_by = ?, summary = ?, decided_at = ? WHERE execution_id = ? AND stage = ? AND action = ? AND status = 'PENDING'`,
        )
        .run(decision.status, decision.by, decision.summary ?? null, decision.at, executionId, stage, action);
      if (result.changes === 0) {
        return false;
      }
      this.db.prepare(`UPDATE executions SET status = 'IN_PROGRESS' WHERE id = ? AND status = 'AWAITING_APPROVAL'`).run(executionId);
      return true;
    });
  }

  /** An approval, by execution, stage and action. */
  approval(executionId: string, stage: string, action: string): ApprovalRecord | undefined {
    const row = this.db.prepare(`SELECT * FROM approvals WHERE execution_id = ? AND stage = ? AND action = ?`).get(executionId, stage, action) as Row | undefined;
    return row && toApproval(row);
  }

  /** The approvals of an execution. */
  approvals(executionId: string): ApprovalRecord[] {
    return (this.db.prepare(`SELECT * FROM approvals WHERE execution_id = ? ORDER BY requested_at`).all(executionId) as Row[]).map(toApproval);
  }

  /** Start recording a rollback. */
  startRollback(rollback: Omit<RollbackRecord, 'status' | 'finishedAt' | 'failureReason'>): void {
    this.db
      .prepare(
        `INSERT OR REPLACE INTO rollbacks (execution_id, stage, environment, to_release, status, reason, started_at) VALUES (?, ?, ?, ?, 'IN_PROGRESS', ?, ?)`,
      )
      .run(rollback.executionId, rollback.stage, rollback.environment, rollback.toRelease, rollback.reason, rollback.startedAt);
  }

  /** Finish recording a rollback (with why it failed, when it did). */
  finishRollback(executionId: string, stage: string, status: 'SUCCEEDED' | 'FAILED', finishedAt: number, fields: { toRelease?: number; failureReason?: string } = {}): void {
    this.db
      .prepare(`UPDATE rollbacks SET status = ?, finished_at = ?, to_release = COALESCE(?, to_release), failure_reason = ? WHERE execution_id = ? AND stage = ?`)
      .run(status, finishedAt, fields.toRelease ?? null, fields.failureReason ?? null, executionId, stage);
  }

  /** The rollbacks of an execution. */
  rollbacks(executionId: string): RollbackRecord[] {
    return (this.db.prepare(`SELECT * FROM rollbacks WHERE execution_id = ? ORDER BY started_at`).all(executionId) as Row[]).map((r) => ({
      executionId: String(r.execution_id),
      stage: String(r.stage),
      environment: String(r.environment),
      toRelease: r.to_release === null ? null : Number(r.to_release),
      status: r.status as RollbackRecord['status'],
      reason: String(r.reason),
      failureReason: nullableString(r.failure_reason),
      startedAt: Number(r.started_at),
      finishedAt: r.finished_at === null ? null : Number(r.finished_at),
    }));
  }

  /** An execution by id, or by a unique prefix of its id. */
  execution(idOrPrefix: string): ExecutionRecord | undefined {
    const exact = this.db.prepare(`SELECT * FROM executions WHERE id = ?`).get(idOrPrefix) as Row | undefined;
    if (exact) {
      return toExecution(exact);
    }
    if (idOrPrefix.length < 4) {
      return undefined;
    }
    const rows = this.db.prepare(`SELECT * FROM executions WHERE id LIKE ? ESCAPE '\\' LIMIT 2`).all(`${idOrPrefix.replace(/[\\%_]/g, '\\$&')}%`) as Row[];
    if (rows.length > 1) {
      throw new InputError(`execution id prefix "${idOrPrefix}" is ambiguous`, [{ where: 'execution-id', message: 'give more characters of the id' }]);
    }
    return rows[0] && toExecution(rows[0]);
  }

  /** Executions, newest first. */
  executions(filter: { service?: string; limit?: number } = {}): ExecutionRecord[] {
    const rows = (
      filter.service === undefined
        ? this.db.prepare(`SELECT * FROM executions ORDER BY seq DESC LIMIT ?`).all(filter.limit ?? -1)
        : this.db.prepare(`SELECT * FROM executions WHERE service = ? ORDER BY seq DESC LIMIT ?`).all(filter.service, filter.limit ?? -1)
    ) as Row[];
    return rows.map(toExecution);
  }

  /** Executions that are still going, or queued (by their record), oldest first. */
  activeExecutions(): ExecutionRecord[] {
    return (this.db.prepare(`SELECT * FROM executions WHERE status IN ('QUEUED', 'IN_PROGRESS', 'AWAITING_APPROVAL') ORDER BY seq`).all() as Row[]).map(toExecution);
  }

  /** The stages of an execution, in order. */
  stages(executionId: string): StageRecord[] {
    return (this.db.prepare(`SELECT * FROM stages WHERE execution_id = ? ORDER BY position`).all(executionId) as Row[]).map((r) => ({
      executionId: String(r.execution_id),
      name: String(r.name),
      position: Number(r.position),
      environment: r.environment === null ? null : String(r.environment),
      onFailure: r.on_failure as StageRecord['onFailure'],
      status: r.status as StageStatus,
      statusReason: r.status_reason === null ? null : String(r.status_reason),
      startedAt: nullableNumber(r.started_at),
      finishedAt: nullableNumber(r.finished_at),
    }));
  }

  /** The actions of an execution, in stage order then action order. */
  actions(executionId: string): ActionRecord[] {
    return (
      this.db
        .prepare(
          `SELECT a.* FROM actions a JOIN stages s ON s.execution_id = a.execution_id AND s.name = a.stage
           WHERE a.execution_id = ? ORDER BY s.position, a.position`,
        )
        .all(executionId) as Row[]
    ).map((r) => ({
      executionId: String(r.execution_id),
      stage: String(r.stage),
      name: String(r.name),
      position: Number(r.position),
      runOrder: Number(r.run_order),
      kind: r.kind as ActionRecord['kind'],
      step: r.step === null ? null : String(r.step),
      status: r.status as ActionStatus,
      statusReason: r.status_reason === null ? null : String(r.status_reason),
      exitCode: nullableNumber(r.exit_code),
      failedCommand: r.failed_command === null ? null : String(r.failed_command),
      startedAt: nullableNumber(r.started_at),
      finishedAt: nullableNumber(r.finished_at),
      logFile: r.log_file === null ? null : String(r.log_file),
    }));
  }

  /**
   * The whole log of an action that ended, without its last line break (null while it runs: read
   * its log file then). A run's logs are in its log files; runs recorded before kept them here.
   */
  actionLog(executionId: string, stage: string, action: string): string | null {
    const row = this.db.prepare(`SELECT log, log_file, status FROM actions WHERE execution_id = ? AND stage = ? AND name = ?`).get(executionId, stage, action) as
      | { log: string | null; log_file: string | null; status: ActionStatus }
      | undefined;
    if (row?.log != null) {
      return row.log;
    }
    if (row?.log_file == null || !FINAL_ACTION_STATUSES.includes(row.status)) {
      return null;
    }
    try {
      return readFileSync(row.log_file, 'utf8').replace(/\n$/, '');
    } catch {
      // Removed (a log folder deleted by hand): nothing to show.
      return '';
    }
  }

  /** The artifacts of an execution. */
  artifacts(executionId: string): ArtifactRecord[] {
    return (this.db.prepare(`SELECT * FROM artifacts WHERE execution_id = ? ORDER BY created_at, name`).all(executionId) as Row[]).map((r) => ({
      executionId: String(r.execution_id),
      name: String(r.name),
      digest: String(r.digest),
      bytes: Number(r.bytes),
      files: Number(r.files),
      producedBy: String(r.produced_by),
      createdAt: Number(r.created_at),
    }));
  }

  /**
   * Try to take a stage's lock for an execution, the way CodePipeline lets one execution at a
   * time into a stage. In one transaction: the lock is free (or already ours) and `mayEnter`
   * agrees → taken. Returns the holder when someone else has it.
   */
  tryLockStage(pipeline: string, stage: string, executionId: string, at: number, mayEnter: () => boolean): { acquired: true } | { acquired: false; holder?: string } {
    return this.transaction(() => {
      const holder = this.db.prepare(`SELECT execution_id FROM stage_locks WHERE pipeline = ? AND stage = ?`).get(pipeline, stage) as
        | { execution_id: string }
        | undefined;
      if (holder && holder.execution_id !== executionId) {
        return { acquired: false, holder: holder.execution_id };
      }
      if (!holder && !mayEnter()) {
        return { acquired: false };
      }
      this.db.prepare(`INSERT OR REPLACE INTO stage_locks (pipeline, stage, execution_id, acquired_at) VALUES (?, ?, ?, ?)`).run(pipeline, stage, executionId, at);
      return { acquired: true };
    });
  }

  /** Release a stage lock held by an execution. */
  unlockStage(pipeline: string, stage: string, executionId: string): void {
    this.db.prepare(`DELETE FROM stage_locks WHERE pipeline = ? AND stage = ? AND execution_id = ?`).run(pipeline, stage, executionId);
  }

  /** Executions of a pipeline waiting to enter a stage, oldest first. */
  waitingFor(pipeline: string, stage: string): ExecutionRecord[] {
    return (
      this.db
        .prepare(
          `SELECT e.* FROM executions e JOIN stages s ON s.execution_id = e.id
           WHERE e.pipeline = ? AND s.name = ? AND s.status = 'WAITING' AND e.status IN ('IN_PROGRESS', 'AWAITING_APPROVAL') ORDER BY e.seq`,
        )
        .all(pipeline, stage) as Row[]
    ).map(toExecution);
  }

  /**
   * End an execution that cannot go on (killed, superseded, stopped): its stages and actions
   * still pending or running are closed, its approvals abandoned and its locks released, in one
   * transaction.
   */
  endExecution(id: string, status: FinalExecutionStatus, reason: string, at: number): void {
    this.transaction(() => {
      const openStage = status === 'SUPERSEDED' ? 'SUPERSEDED' : 'FAILED';
      this.db
        .prepare(`UPDATE actions SET status = 'ABANDONED', status_reason = ?, finished_at = ? WHERE execution_id = ? AND status IN ('IN_PROGRESS', 'AWAITING_APPROVAL')`)
        .run(reason, at, id);
      this.db.prepare(`UPDATE actions SET status = 'SKIPPED' WHERE execution_id = ? AND status = 'PENDING'`).run(id);
      this.db
        .prepare(`UPDATE stages SET status = ?, status_reason = ?, finished_at = ? WHERE execution_id = ? AND status IN ('IN_PROGRESS', 'WAITING')`)
        .run(openStage, reason, at, id);
      this.db.prepare(`UPDATE stages SET status = 'SKIPPED' WHERE execution_id = ? AND status = 'PENDING'`).run(id);
      this.db.prepare(`UPDATE approvals SET status = 'ABANDONED', decided_at = ?, decided_by = 'system', summary = ? WHERE execution_id = ? AND status = 'PENDING'`).run(at, reason, id);
      this.db.prepare(`UPDATE rollbacks SET status = 'FAILED', finished_at = ? WHERE execution_id = ? AND status = 'IN_PROGRESS'`).run(at, id);
      this.db.prepare(`DELETE FROM stage_locks WHERE execution_id = ?`).run(id);
      this.db.prepare(`DELETE FROM process_groups WHERE execution_id = ?`).run(id);
      this.db
        .prepare(`UPDATE executions SET status = ?, status_reason = ?, finished_at = ? WHERE id = ? AND status IN ('QUEUED', 'IN_PROGRESS', 'AWAITING_APPROVAL')`)
        .run(status, reason, at, id);
    });
  }

  /** Release every lock of an execution (when it ends). */
  unlockAll(executionId: string): void {
    this.db.prepare(`DELETE FROM stage_locks WHERE execution_id = ?`).run(executionId);
  }
}

/** The columns a run writes when it starts, whether it records itself or takes over a queued record. */
function runColumns(execution: NewExecution): Record<string, string | number | null> {
  return {
    pipeline: execution.pipeline,
    trigger: execution.trigger,
    execution_mode: execution.executionMode,
    pid: execution.process.pid,
    process_started: execution.process.startTime ?? null,
    process_scope: execution.processScope,
    host: hostname(),
    heartbeat_at: execution.startedAt,
    config_file: execution.configFile,
    source_path: execution.sourcePath,
    until_environment: execution.untilEnvironment ?? null,
    requested_revision: execution.requestedRevision ?? null,
    started_at: execution.startedAt,
  };
}

function nullableNumber(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}

function nullableString(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}

function toExecution(r: Row): ExecutionRecord {
  return {
    id: String(r.id),
    seq: Number(r.seq),
    pipeline: String(r.pipeline),
    service: String(r.service),
    trigger: r.trigger as ExecutionRecord['trigger'],
    executionMode: r.execution_mode as ExecutionRecord['executionMode'],
    status: r.status as ExecutionStatus,
    statusReason: r.status_reason === null ? null : String(r.status_reason),
    pid: Number(r.pid),
    processStarted: nullableString(r.process_started),
    processScope: nullableString(r.process_scope),
    host: String(r.host),
    heartbeatAt: nullableNumber(r.heartbeat_at),
    configFile: String(r.config_file),
    sourcePath: String(r.source_path),
    sourceRevision: r.source_revision === null ? null : String(r.source_revision),
    requestedRevision: nullableString(r.requested_revision),
    deliveryId: nullableString(r.delivery_id),
    sourceDirty: Number(r.source_dirty) === 1,
    untilEnvironment: r.until_environment === null ? null : String(r.until_environment),
    startedAt: Number(r.started_at),
    finishedAt: nullableNumber(r.finished_at),
  };
}

function toApproval(r: Row): ApprovalRecord {
  return {
    executionId: String(r.execution_id),
    stage: String(r.stage),
    action: String(r.action),
    status: r.status as ApprovalStatus,
    comment: String(r.comment),
    requestedAt: Number(r.requested_at),
    decidedAt: nullableNumber(r.decided_at),
    decidedBy: r.decided_by === null ? null : String(r.decided_by),
    summary: r.summary === null ? null : String(r.summary),
  };
}
