/**
 * Migration 3 of the run history: local deployments move into it. Before, what each locally served
 * environment serves had three owners: `current.json` and `last-good.json` beside its releases,
 * and the `releases` table. They become two tables, one store:
 *
 * - `deployment_changes`: each time a release was made current, by which execution (the rows of
 *   `releases`, then what the files say that they lack); `good_at` once its acceptance tests passed;
 * - `deployments`: per service and environment, the change current now and the last good one.
 *
 * A file that cannot be read is not taken for absent: the migration stops (nothing is changed),
 * naming the file and what to do. Files read are renamed `*.imported` once the migration is committed.
 */
import { readdirSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { InputError } from '../model/errors.js';

const SCHEMA = `
CREATE TABLE deployment_changes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  service TEXT NOT NULL,
  environment TEXT NOT NULL,
  release INTEGER NOT NULL,
  package_sha256 TEXT,
  execution_id TEXT,
  at INTEGER NOT NULL,
  previous_change INTEGER REFERENCES deployment_changes (seq),
  good_at INTEGER
);
CREATE INDEX deployment_changes_by_execution ON deployment_changes (execution_id);
CREATE TABLE deployments (
  service TEXT NOT NULL,
  environment TEXT NOT NULL,
  current_change INTEGER REFERENCES deployment_changes (seq),
  last_good_change INTEGER REFERENCES deployment_changes (seq),
  PRIMARY KEY (service, environment)
);
INSERT INTO deployment_changes (service, environment, release, package_sha256, execution_id, at, good_at)
  SELECT service, environment, release, package_sha256, execution_id, deployed_at, CASE WHEN good = 1 THEN deployed_at END
  FROM releases ORDER BY deployed_at, release;
UPDATE deployment_changes SET previous_change = (
  SELECT MAX(p.seq) FROM deployment_changes p
  WHERE p.service = deployment_changes.service AND p.environment = deployment_changes.environment AND p.seq < deployment_changes.seq
);
DROP TABLE releases;
`;

interface CurrentFile {
  readonly release: number;
  readonly packageSha256?: string;
  readonly executionId?: string;
  readonly deployedAt?: string;
  readonly previous?: Omit<CurrentFile, 'previous'>;
}

interface LastGoodFile {
  readonly release: number;
  readonly executionId?: string;
  readonly at?: string;
}

/** The migration (see the module comment). */
export function migrateDeployments(db: Database.Database, home: string): () => void {
  db.exec(SCHEMA);
  const imported: string[] = [];
  const root = path.join(home, 'stages');
  for (const service of list(root)) {
    for (const environment of list(path.join(root, service))) {
      const folder = path.join(root, service, environment);
      const current = readStateFile<CurrentFile>(path.join(folder, 'current.json'), isCurrentFile);
      const lastGood = readStateFile<LastGoodFile>(path.join(folder, 'last-good.json'), isLastGoodFile);
      if (!current && !lastGood) continue;
      const key = { service, environment };
      let currentChange: number | null = null;
      let lastGoodChange: number | null = null;
      if (current) {
        const previous = current.value.previous ? changeOf(db, key, current.value.previous, null) : null;
        currentChange = changeOf(db, key, current.value, previous);
        imported.push(current.file);
      }
      if (lastGood) {
        const at = timeOf(lastGood.value.at);
        lastGoodChange = changeOf(db, key, { release: lastGood.value.release, ...(lastGood.value.executionId ? { executionId: lastGood.value.executionId } : {}), ...(lastGood.value.at ? { deployedAt: lastGood.value.at } : {}) }, null);
        db.prepare(`UPDATE deployment_changes SET good_at = COALESCE(good_at, ?) WHERE seq = ?`).run(at, lastGoodChange);
        imported.push(lastGood.file);
      }
      db.prepare(`INSERT INTO deployments (service, environment, current_change, last_good_change) VALUES (?, ?, ?, ?)`).run(service, environment, currentChange, lastGoodChange);
    }
  }
  return () => {
    for (const file of imported) {
      try {
        renameSync(file, `${file}.imported`);
      } catch {
        // Moved meanwhile: the history holds what it said.
      }
    }
  };
}

/** The change that made `release` current for that execution: the last one recorded, else a new one. */
function changeOf(db: Database.Database, key: { service: string; environment: string }, value: Omit<CurrentFile, 'previous'>, previous: number | null): number {
  const found = db
    .prepare(`SELECT MAX(seq) AS seq FROM deployment_changes WHERE service = ? AND environment = ? AND release = ? AND execution_id IS ?`)
    .get(key.service, key.environment, value.release, value.executionId ?? null) as { seq: number | null };
  if (found.seq !== null) {
    if (previous !== null) db.prepare(`UPDATE deployment_changes SET previous_change = ? WHERE seq = ?`).run(previous, found.seq);
    return found.seq;
  }
  const latest = db.prepare(`SELECT MAX(seq) AS seq FROM deployment_changes WHERE service = ? AND environment = ?`).get(key.service, key.environment) as { seq: number | null };
  return Number(
    db
      .prepare(`INSERT INTO deployment_changes (service, environment, release, package_sha256, execution_id, at, previous_change) VALUES (?, ?, ?, ?, ?, ?, ?)`)
      .run(key.service, key.environment, value.release, value.packageSha256 ?? null, value.executionId ?? null, timeOf(value.deployedAt), previous ?? latest.seq).lastInsertRowid,
  );
}

function timeOf(iso: string | undefined): number {
  const at = iso === undefined ? Number.NaN : Date.parse(iso);
  return Number.isNaN(at) ? 0 : at;
}

function list(folder: string): string[] {
  try {
    return readdirSync(folder).sort();
  } catch {
    return [];
  }
}

/** A state file, or undefined when there is none; one that cannot be read or is not what it should be stops the migration. */
function readStateFile<T>(file: string, valid: (value: unknown) => value is T): { file: string; value: T } | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw damaged(file, (error as Error).message);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw damaged(file, `not JSON: ${(error as Error).message}`);
  }
  if (!valid(value)) {
    throw damaged(file, 'not the record of a release (no release number)');
  }
  return { file, value };
}

function damaged(file: string, detail: string): InputError {
  return new InputError(`the local deployment state ${file} cannot be read (${detail}), so the run history cannot take it over`, [
    {
      where: file,
      message: `repair it, or move it aside (mv ${file} ${file}.damaged) if that environment should start with no ${path.basename(file) === 'current.json' ? 'current' : 'last good'} release; nothing was changed`,
    },
  ]);
}

function isCurrentFile(value: unknown): value is CurrentFile {
  const record = value as CurrentFile | null;
  return typeof record === 'object' && record !== null && Number.isInteger(record.release) && (record.previous === undefined || Number.isInteger(record.previous.release));
}

function isLastGoodFile(value: unknown): value is LastGoodFile {
  const record = value as LastGoodFile | null;
  return typeof record === 'object' && record !== null && Number.isInteger(record.release);
}
