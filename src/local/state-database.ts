/**
 * The run history's SQLite file (`<home>/state.db`): opening it, its schema as numbered
 * migrations (`PRAGMA user_version` says which have run), and what a person is told when the
 * file cannot be used: damaged, unreadable, a folder, in a read-only folder. Nothing here ever
 * deletes or rewrites a history it cannot read: the person moves it aside.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { InputError } from '../model/errors.js';
import { migrateDeployments } from './deployments-migration.js';

/** The history file's name in the state folder. */
export const STATE_DATABASE_FILE = 'state.db';

/**
 * One migration: SQL, or a function for what SQL alone cannot do (reading the state folder's
 * files into the database). A function may return what to do once the migration is committed.
 */
export type Migration = string | ((db: Database.Database, home: string) => (() => void) | void);

/**
 * The schema, one migration per version: migration `n` (1-based) takes a database from version
 * `n - 1` to `n`. Append only: a released migration never changes.
 */
export const MIGRATIONS: readonly Migration[] = [
  // 1: executions, stages, actions, artifacts, approvals, releases, rollbacks, stage locks.
  `
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
`,
  // 2: what a run's death leaves to end (its process, heartbeat and process groups), runs queued
  // by `serve` with the delivery that queued them and the commit it named, the webhook deliveries
  // themselves (moved here from webhooks.db, so that a delivery and its runs are one transaction),
  // why a rollback failed, the maintenance lock `gc` takes, and measurements kept for a while
  // (the state folder's size).
  `
ALTER TABLE executions ADD COLUMN process_started TEXT;
ALTER TABLE executions ADD COLUMN process_scope TEXT;
ALTER TABLE executions ADD COLUMN heartbeat_at INTEGER;
ALTER TABLE executions ADD COLUMN delivery_id TEXT;
ALTER TABLE executions ADD COLUMN requested_revision TEXT;
CREATE INDEX executions_by_status ON executions (status);
CREATE INDEX executions_by_delivery ON executions (delivery_id);
CREATE TABLE process_groups (
  execution_id TEXT NOT NULL REFERENCES executions (id),
  stage TEXT NOT NULL,
  action TEXT NOT NULL,
  pgid INTEGER NOT NULL,
  start_time TEXT,
  started_at INTEGER NOT NULL,
  PRIMARY KEY (execution_id, pgid)
);
ALTER TABLE rollbacks ADD COLUMN failure_reason TEXT;
CREATE TABLE webhook_deliveries (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  event TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  outcome TEXT NOT NULL
);
CREATE TABLE maintenance (
  name TEXT PRIMARY KEY,
  pid INTEGER NOT NULL,
  process_started TEXT,
  process_scope TEXT NOT NULL,
  started_at INTEGER NOT NULL
);
CREATE TABLE measurements (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  measured_at INTEGER NOT NULL
);
`,
  // 3: local deployments, in one store: which release each locally served environment serves and
  // which one last passed its acceptance tests (were `current.json` and `last-good.json` beside
  // its releases), and each change of its current release, by which execution (was `releases`).
  migrateDeployments,
];

/** The schema version this code reads and writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Options of `openStateDatabase`. */
export interface OpenStateDatabaseOptions {
  /**
   * Open for reading only: no migration, no recovery, nothing written (for `history` and `show`
   * in a folder this user cannot write). SQLite cannot read a WAL-mode database where it cannot
   * create the `-shm` file beside it: a private copy is read then, and removed on close.
   *
   * @default false
   */
  readonly readOnly?: boolean;
}

/**
 * Open `<home>/state.db`, creating the state folder and the database (and running the migrations
 * it lacks) unless `readOnly`. Every failure is an `InputError` naming the file and what to do.
 */
export function openStateDatabase(home: string, options: OpenStateDatabaseOptions = {}): Database.Database {
  const file = path.join(home, STATE_DATABASE_FILE);
  const kind = statSync(home, { throwIfNoEntry: false });
  if (kind && !kind.isDirectory()) {
    throw new InputError(`the state folder ${home} is a file, not a folder`, [{ where: home, message: 'move it aside (or remove it if it is not yours): service-pipelines keeps its history in that folder' }]);
  }
  const fileKind = statSync(file, { throwIfNoEntry: false });
  if (fileKind && !fileKind.isFile()) {
    throw new InputError(`the run history ${file} is not a file`, [{ where: file, message: `move it aside (mv ${file} ${file}.moved): a new history starts on the next run` }]);
  }
  let db: Database.Database | undefined;
  try {
    if (!options.readOnly) {
      mkdirSync(home, { recursive: true });
    }
    db = options.readOnly ? openReadOnly(file) : new Database(file, { timeout: 15_000 });
    if (!options.readOnly) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
    }
    db.pragma('foreign_keys = ON');
    // Reads the first page: a file that is no database, or a damaged header, fails here.
    db.prepare('SELECT count(*) FROM sqlite_master').get();
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new InputError(`the run history ${file} was written by a newer service-pipelines`, [
        { where: file, message: `schema version ${version}; this version reads ${SCHEMA_VERSION}: upgrade service-pipelines` },
      ]);
    }
    if (version < SCHEMA_VERSION && !options.readOnly) {
      migrate(db, home);
    }
    return guard(db, file);
  } catch (error) {
    db?.close();
    throw stateDatabaseError(error, file);
  }
}

/** Open for reading; where the folder cannot be written, a private copy (see `OpenStateDatabaseOptions.readOnly`). */
function openReadOnly(file: string): Database.Database {
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true, timeout: 15_000 });
    db.prepare('SELECT count(*) FROM sqlite_master').get();
    return db;
  } catch (error) {
    if (!String((error as { code?: unknown }).code ?? '').startsWith('SQLITE_CANTOPEN')) {
      throw error;
    }
  }
  const copy = mkdtempSync(path.join(tmpdir(), 'service-pipelines-history-'));
  try {
    for (const suffix of ['', '-wal']) {
      if (existsSync(`${file}${suffix}`)) copyFileSync(`${file}${suffix}`, path.join(copy, `${STATE_DATABASE_FILE}${suffix}`));
    }
    const db = new Database(path.join(copy, STATE_DATABASE_FILE), { readonly: true, fileMustExist: true });
    const close = db.close.bind(db);
    db.close = () => {
      const closed = close();
      rmSync(copy, { recursive: true, force: true });
      return closed;
    };
    return db;
  } catch (error) {
    rmSync(copy, { recursive: true, force: true });
    throw error;
  }
}

/** Run the migrations the database lacks, each with its version bump, in one transaction. */
function migrate(db: Database.Database, home: string): void {
  const afterCommit: Array<() => void> = [];
  db.transaction(() => {
    // Read again inside the write lock: another process may have migrated meanwhile.
    const from = db.pragma('user_version', { simple: true }) as number;
    for (let version = from; version < SCHEMA_VERSION; version++) {
      const migration = MIGRATIONS[version]!;
      if (typeof migration === 'string') {
        db.exec(migration);
      } else {
        const then = migration(db, home);
        if (then) afterCommit.push(then);
      }
      db.pragma(`user_version = ${version + 1}`);
    }
  }).immediate();
  for (const then of afterCommit) then();
}

const DAMAGED = new Set(['SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_CORRUPT_VTAB', 'SQLITE_CORRUPT_SEQUENCE', 'SQLITE_CORRUPT_INDEX']);

/**
 * What to tell a person when the history cannot be used, as an `InputError` naming the file and
 * what to do; other errors are returned as they are.
 */
export function stateDatabaseError(error: unknown, file: string): unknown {
  if (error instanceof InputError) {
    return error;
  }
  const code = String((error as { code?: unknown }).code ?? '');
  const detail = error instanceof Error ? error.message : String(error);
  if (DAMAGED.has(code)) {
    return new InputError(`the run history ${file} is damaged (${detail})`, [
      {
        where: file,
        message: `move it aside (mv ${file} ${file}.damaged): the next run starts a new history. service-pipelines never deletes a history; \`sqlite3 ${file}.damaged .recover\` may save what is left of it`,
      },
    ], { cause: error });
  }
  if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN') || code === 'SQLITE_PERM' || code === 'SQLITE_AUTH' || code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    const folder = path.dirname(file);
    return new InputError(`the run history ${file} cannot be ${existsSync(file) ? 'opened for writing' : 'created'} (${detail})`, [
      {
        where: file,
        message: `service-pipelines needs to write the folder ${folder} and the files in it (state.db and its -wal and -shm companions): check their owner and permissions (ls -la ${folder})`,
      },
    ], { cause: error });
  }
  if (/Could not locate the bindings file|NODE_MODULE_VERSION|better_sqlite3\.node/.test(detail)) {
    return new InputError(`the run history ${file} cannot be opened: better-sqlite3's native module is missing or was built for another Node.js (${detail.split('\n')[0]})`, [
      {
        where: 'better-sqlite3',
        message: `run \`npm rebuild better-sqlite3\` where service-pipelines is installed, with the Node.js that runs it (${process.version}); npm 11 builds it only when package.json's allowScripts approves better-sqlite3`,
      },
    ], { cause: error });
  }
  if (code.startsWith('SQLITE_IOERR')) {
    return new InputError(`the run history ${file} could not be read or written (${detail})`, [
      { where: file, message: 'check the disk and the file system it is on; if the file is damaged, move it aside: a new history starts on the next run' },
    ], { cause: error });
  }
  return error;
}

/**
 * Make every statement of the connection report an unusable history as `stateDatabaseError`
 * does: a damaged page may be met by any query, long after the file opened.
 */
function guard(db: Database.Database, file: string): Database.Database {
  const prepare = db.prepare.bind(db);
  const wrap = <A extends unknown[], R>(fn: (...args: A) => R) =>
    (...args: A): R => {
      try {
        return fn(...args);
      } catch (error) {
        throw stateDatabaseError(error, file);
      }
    };
  db.prepare = ((source: string) => {
    const statement = wrap(prepare)(source);
    statement.run = wrap(statement.run.bind(statement)) as typeof statement.run;
    statement.get = wrap(statement.get.bind(statement)) as typeof statement.get;
    statement.all = wrap(statement.all.bind(statement)) as typeof statement.all;
    return statement;
  }) as typeof db.prepare;
  return db;
}
