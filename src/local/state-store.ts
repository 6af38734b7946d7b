/**
 * The run history: executions, stages, actions, artifacts, approvals, releases and logs in
 * SQLite (`<home>/state.db`, WAL mode). Every state change is one transaction, so a run that
 * is killed leaves rows a later command can read and repair, never a half-written change.
 */
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { InputError } from '../model/errors.js';

/** Status of an execution (CodePipeline's, plus the approval wait). */
export type ExecutionStatus = 'IN_PROGRESS' | 'AWAITING_APPROVAL' | 'SUCCEEDED' | 'FAILED' | 'SUPERSEDED' | 'STOPPED';
/** Status of a stage. */
export type StageStatus = 'PENDING' | 'WAITING' | 'IN_PROGRESS' | 'SUCCEEDED' | 'FAILED' | 'SKIPPED' | 'SUPERSEDED';
/** Status of an action. */
export type ActionStatus = 'PENDING' | 'IN_PROGRESS' | 'AWAITING_APPROVAL' | 'SUCCEEDED' | 'FAILED' | 'REJECTED' | 'SKIPPED' | 'ABANDONED';
/** Status of a manual approval. */
export type ApprovalStatus = 'PENDING' | 'APPROVED' | 'REJECTED' | 'ABANDONED';

/** The statuses of a run that is still going. */
export const ACTIVE_STATUSES: readonly ExecutionStatus[] = ['IN_PROGRESS', 'AWAITING_APPROVAL'];

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
  readonly pid: number;
  readonly host: string;
  readonly configFile: string;
  readonly sourcePath: string;
  /** The git commit, or `sha256:<digest>` of the snapshot outside git; null until the source is taken. */
  readonly sourceRevision: string | null;
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
  /** The action's log file while it runs (the full text is in the database once it ends). */
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

/** A local release deployed to an environment by an execution. */
export interface ReleaseRecord {
  readonly service: string;
  readonly environment: string;
  readonly release: number;
  readonly executionId: string;
  readonly packageSha256: string | null;
  readonly deployedAt: number;
  /** Whether the environment's acceptance tests passed against it. */
  readonly good: boolean;
}

/** A rollback of an environment. */
export interface RollbackRecord {
  readonly executionId: string;
  readonly stage: string;
  readonly environment: string;
  readonly toRelease: number | null;
  readonly status: 'IN_PROGRESS' | 'SUCCEEDED' | 'FAILED';
  readonly reason: string;
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
  readonly pid: number;
  readonly configFile: string;
  readonly sourcePath: string;
  readonly untilEnvironment?: string;
  readonly startedAt: number;
  readonly stages: ReadonlyArray<{
    readonly name: string;
    readonly environment?: string;
    readonly onFailure: 'FAIL' | 'ROLLBACK';
    readonly actions: ReadonlyArray<{ readonly name: string; readonly runOrder: number; readonly kind: ActionRecord['kind']; readonly step?: string }>;
  }>;
}

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS executions (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  pipeline TEXT NOT NULL,
  service TEXT NOT NULL,
  trigger TEXT NOT NULL,
  execution_mode TEXT NOT NULL,
  status TEXT NOT NULL,
  status_reason TEXT,
  pid INTEGER NOT NULL,
  host TEXT NOT NULL,
  config_file TEXT NOT NULL,
  source_path TEXT NOT NULL,
  source_revision TEXT,
  source_dirty INTEGER NOT NULL DEFAULT 0,
  until_environment TEXT,
  started_at INTEGER NOT NULL,
  finished_at INTEGER
);
CREATE INDEX IF NOT EXISTS executions_by_service ON executions (service, seq);
CREATE TABLE IF NOT EXISTS stages (
  execution_id TEXT NOT NULL REFERENCES executions (id),
  name TEXT NOT NULL,
  position INTEGER NOT NULL,
  environment TEXT,
  on_failure TEXT NOT NULL,
  status TEXT NOT NULL,
  status_reason TEXT,
  started_at INTEGER,
  finished_at INTEGER,
  PRIMARY KEY (execution_id, name)
);
CREATE TABLE IF NOT EXISTS actions (
  execution_id TEXT NOT NULL REFERENCES executions (id),
  stage TEXT NOT NULL,
  name TEXT NOT NULL,
  position INTEGER NOT NULL,
  run_order INTEGER NOT NULL,
  kind TEXT NOT NULL,
  step TEXT,
  status TEXT NOT NULL,
  status_reason TEXT,
  exit_code INTEGER,
  failed_command TEXT,
  started_at INTEGER,
  finished_at INTEGER,
  log_file TEXT,
  log TEXT,
  PRIMARY KEY (execution_id, stage, name)
);
CREATE TABLE IF NOT EXISTS artifacts (
  execution_id TEXT NOT NULL REFERENCES executions (id),
  name TEXT NOT NULL,
  digest TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  files INTEGER NOT NULL,
  produced_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (execution_id, name)
);
CREATE TABLE IF NOT EXISTS approvals (
  execution_id TEXT NOT NULL REFERENCES executions (id),
  stage TEXT NOT NULL,
  action TEXT NOT NULL,
  status TEXT NOT NULL,
  comment TEXT NOT NULL,
  requested_at INTEGER NOT NULL,
  decided_at INTEGER,
  decided_by TEXT,
  summary TEXT,
  PRIMARY KEY (execution_id, stage, action)
);
CREATE TABLE IF NOT EXISTS releases (
  service TEXT NOT NULL,
  environment TEXT NOT NULL,
  release INTEGER NOT NULL,
  execution_id TEXT NOT NULL,
  package_sha256 TEXT,
  deployed_at INTEGER NOT NULL,
  good INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (service, environment, release, execution_id)
);
CREATE TABLE IF NOT EXISTS rollbacks (
  execution_id TEXT NOT NULL REFERENCES executions (id),
  stage TEXT NOT NULL,
  environment TEXT NOT NULL,
  to_release INTEGER,
  status TEXT NOT NULL,
  reason TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  finished_at INTEGER,
  PRIMARY KEY (execution_id, stage)
);
CREATE TABLE IF NOT EXISTS stage_locks (
  pipeline TEXT NOT NULL,
  stage TEXT NOT NULL,
  execution_id TEXT NOT NULL,
  acquired_at INTEGER NOT NULL,
  PRIMARY KEY (pipeline, stage)
);
`;

type Row = Record<string, unknown>;

/** Opens and changes the run history. One instance per process; safe across processes. */
export class StateStore {
  /** Open (and create or migrate) `<home>/state.db`. */
  static open(home: string): StateStore {
    mkdirSync(home, { recursive: true });
    const db = new Database(path.join(home, 'state.db'), { timeout: 15_000 });
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      db.close();
      throw new InputError(`the run history ${path.join(home, 'state.db')} was written by a newer service-pipelines`, [
        { where: path.join(home, 'state.db'), message: `schema version ${version}; this version reads ${SCHEMA_VERSION}: upgrade service-pipelines` },
      ]);
    }
    if (version < SCHEMA_VERSION) {
      db.transaction(() => {
        db.exec(SCHEMA);
        db.pragma(`user_version = ${SCHEMA_VERSION}`);
      }).immediate();
    }
    return new StateStore(db, home);
  }

  private constructor(
    private readonly db: Database.Database,
    /** The state folder (`.service-pipelines/`). */
    readonly home: string,
  ) {}

  /** Close the database. */
  close(): void {
    this.db.close();
  }

  /** Run `fn` in one write transaction (taken at once, so concurrent writers queue on the busy timeout). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /** Record a new execution with all its stages and actions pending. */
  createExecution(execution: NewExecution): ExecutionRecord {
    this.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO executions (id, pipeline, service, trigger, execution_mode, status, pid, host, config_file, source_path, until_environment, started_at)
           VALUES (?, ?, ?, ?, ?, 'IN_PROGRESS', ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          execution.id,
          execution.pipeline,
          execution.service,
          execution.trigger,
          execution.executionMode,
          execution.pid,
          hostname(),
          execution.configFile,
          execution.sourcePath,
          execution.untilEnvironment ?? null,
          execution.startedAt,
        );
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
    });
    return this.execution(execution.id)!;
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

  /** Record a release deployed by an execution (`good` once its acceptance tests pass). */
  recordRelease(release: ReleaseRecord): void {
    this.db
      .prepare(
        `INSERT INTO releases (service, environment, release, execution_id, package_sha256, deployed_at, good) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (service, environment, release, execution_id) DO UPDATE SET good = MAX(good, excluded.good), deployed_at = excluded.deployed_at`,
      )
      .run(release.service, release.environment, release.release, release.executionId, release.packageSha256, release.deployedAt, release.good ? 1 : 0);
  }

  /** The releases of a service (every environment, newest first). */
  releases(service: string): ReleaseRecord[] {
    return (this.db.prepare(`SELECT * FROM releases WHERE service = ? ORDER BY deployed_at DESC`).all(service) as Row[]).map(toRelease);
  }

  /** Start recording a rollback. */
  startRollback(rollback: Omit<RollbackRecord, 'status' | 'finishedAt'>): void {
    this.db
      .prepare(
        `INSERT OR REPLACE INTO rollbacks (execution_id, stage, environment, to_release, status, reason, started_at) VALUES (?, ?, ?, ?, 'IN_PROGRESS', ?, ?)`,
      )
      .run(rollback.executionId, rollback.stage, rollback.environment, rollback.toRelease, rollback.reason, rollback.startedAt);
  }

  /** Finish recording a rollback. */
  finishRollback(executionId: string, stage: string, status: 'SUCCEEDED' | 'FAILED', finishedAt: number, toRelease?: number): void {
    this.db
      .prepare(`UPDATE rollbacks SET status = ?, finished_at = ?, to_release = COALESCE(?, to_release) WHERE execution_id = ? AND stage = ?`)
      .run(status, finishedAt, toRelease ?? null, executionId, stage);
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

  /** Executions that are still going (by their record), oldest first. */
  activeExecutions(): ExecutionRecord[] {
    return (this.db.prepare(`SELECT * FROM executions WHERE status IN ('IN_PROGRESS', 'AWAITING_APPROVAL') ORDER BY seq`).all() as Row[]).map(toExecution);
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

  /** The stored log of an action (null while it runs: read its log file then). */
  actionLog(executionId: string, stage: string, action: string): string | null {
    const row = this.db.prepare(`SELECT log FROM actions WHERE execution_id = ? AND stage = ? AND name = ?`).get(executionId, stage, action) as
      | { log: string | null }
      | undefined;
    return row?.log ?? null;
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
  endExecution(id: string, status: Exclude<ExecutionStatus, 'IN_PROGRESS' | 'AWAITING_APPROVAL'>, reason: string, at: number): void {
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
      this.db
        .prepare(`UPDATE executions SET status = ?, status_reason = ?, finished_at = ? WHERE id = ? AND status IN ('IN_PROGRESS', 'AWAITING_APPROVAL')`)
        .run(status, reason, at, id);
    });
  }

  /** Release every lock of an execution (when it ends). */
  unlockAll(executionId: string): void {
    this.db.prepare(`DELETE FROM stage_locks WHERE execution_id = ?`).run(executionId);
  }
}

/** Whether the process that records an execution is still running (on this machine). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The executions this process is running: never recovered, whatever their recorded pid. */
const runningHere = new Set<string>();

/** Record that this process runs an execution, until `unmarkRunningHere`. */
export function markRunningHere(executionId: string): void {
  runningHere.add(executionId);
}

/** Record that this process no longer runs an execution. */
export function unmarkRunningHere(executionId: string): void {
  runningHere.delete(executionId);
}

/**
 * Find executions recorded as running whose process is gone (killed, crashed, machine restarted)
 * and mark them failed, with their running stages and actions. Returns their ids.
 */
export function recoverAbandonedExecutions(store: StateStore, at: number, alive: (pid: number) => boolean = isProcessAlive): string[] {
  const recovered: string[] = [];
  const host = hostname();
  for (const execution of store.activeExecutions()) {
    if (runningHere.has(execution.id) || execution.host !== host) continue;
    // Our own pid on a run this process does not run: an earlier process had the same pid (pid 1
    // in a container, say) and is gone. Comparing pids alone would keep that run, and its stage
    // locks, forever.
    if (execution.pid === process.pid || !alive(execution.pid)) {
      store.endExecution(execution.id, 'FAILED', `the run's process (pid ${execution.pid}) is gone: it was killed or crashed`, at);
      recovered.push(execution.id);
    }
  }
  return recovered;
}

function nullableNumber(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
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
    host: String(r.host),
    configFile: String(r.config_file),
    sourcePath: String(r.source_path),
    sourceRevision: r.source_revision === null ? null : String(r.source_revision),
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

function toRelease(r: Row): ReleaseRecord {
  return {
    service: String(r.service),
    environment: String(r.environment),
    release: Number(r.release),
    executionId: String(r.execution_id),
    packageSha256: r.package_sha256 === null ? null : String(r.package_sha256),
    deployedAt: Number(r.deployed_at),
    good: Number(r.good) === 1,
  };
}
