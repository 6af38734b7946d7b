/**
 * Migration 3 of the run history: the local deployments' three owners (`current.json`,
 * `last-good.json` and the `releases` table) become one store in the history. What they said is
 * kept; a file that cannot be read is never taken for "no release": the history stays as it was,
 * and the command exits 2 naming the file.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDeploymentRecords } from '../../src/local/deployment-records.js';
import { MIGRATIONS } from '../../src/local/state-database.js';
import { StateStore } from '../../src/local/state-store.js';
import { InputError } from '../../src/model/errors.js';
import { runCli } from '../support/cli.js';
import { tempFolder } from './helpers.js';

let work: { dir: string; cleanup: () => void };
let home: string;
let database: string;
const T = Date.parse('2026-11-02T10:00:00.000Z');

/** A history as version 2 left it: two deploys of svc/prod by two runs, the first one good. */
function writeVersion2History(): void {
  mkdirSync(home, { recursive: true });
  const db = new Database(database);
  db.pragma('journal_mode = WAL');
  db.exec(MIGRATIONS[0] as string);
  db.exec(MIGRATIONS[1] as string);
  db.pragma('user_version = 2');
  const insert = db.prepare(`INSERT INTO releases (service, environment, release, execution_id, package_sha256, deployed_at, good) VALUES (?, ?, ?, ?, ?, ?, ?)`);
  insert.run('svc', 'prod', 1, 'run-1', 'sha-1', T, 1);
  insert.run('svc', 'prod', 2, 'run-2', 'sha-2', T + 60_000, 0);
  db.close();
}

function writeStateFiles(environment: string, files: { current?: string; lastGood?: string }): string {
  const folder = path.join(home, 'stages', 'svc', environment);
  mkdirSync(folder, { recursive: true });
  if (files.current !== undefined) writeFileSync(path.join(folder, 'current.json'), files.current);
  if (files.lastGood !== undefined) writeFileSync(path.join(folder, 'last-good.json'), files.lastGood);
  return folder;
}

function userVersion(): number {
  const db = new Database(database, { readonly: true });
  try {
    return db.pragma('user_version', { simple: true }) as number;
  } finally {
    db.close();
  }
}

beforeEach(() => {
  work = tempFolder('sp-deployments-migration-');
  home = path.join(work.dir, '.service-pipelines');
  database = path.join(home, 'state.db');
});
afterEach(() => work.cleanup());

describe('migration 3: local deployments into the history', () => {
  it('GIVEN a version-2 history, its releases table and the JSON files of two environments WHEN opened THEN one store says what they said, and the files are set aside', async () => {
    writeVersion2History();
    const prod = writeStateFiles('prod', {
      current: JSON.stringify({ release: 2, packageSha256: 'sha-2', executionId: 'run-2', deployedAt: new Date(T + 60_000).toISOString(), previous: { release: 1, packageSha256: 'sha-1', executionId: 'run-1' } }),
      lastGood: JSON.stringify({ release: 1, executionId: 'run-1', at: new Date(T + 30_000).toISOString() }),
    });
    // Deployed by hand (`step deploy`, no recorded execution): only its file knows it.
    const dev = writeStateFiles('dev', { current: JSON.stringify({ release: 4, packageSha256: 'sha-4', deployedAt: new Date(T).toISOString() }) });

    StateStore.open(home).close();

    expect(userVersion()).toBe(MIGRATIONS.length);
    const records = await openDeploymentRecords(home);
    try {
      expect(await records.get('svc', 'prod')).toEqual({
        service: 'svc',
        environment: 'prod',
        current: { release: 2, packageSha256: 'sha-2', executionId: 'run-2', deployedAt: new Date(T + 60_000).toISOString() },
        lastGood: { release: 1, executionId: 'run-1', at: new Date(T).toISOString() },
      });
      expect(await records.get('svc', 'dev')).toMatchObject({ current: { release: 4, packageSha256: 'sha-4', deployedAt: new Date(T).toISOString() } });
      expect((await records.get('svc', 'dev'))?.lastGood).toBeUndefined();
      expect(await records.releasesDeployedBy('run-1')).toEqual([{ service: 'svc', environment: 'prod', release: 1, packageSha256: 'sha-1', good: true }]);
      // What run-2 made current goes back to what was current before it (release 1), as a dead run's recovery does.
      expect(await records.revertChangesOf('run-2')).toEqual([{ service: 'svc', environment: 'prod', restored: 1 }]);
    } finally {
      records.close();
    }
    expect(existsSync(path.join(prod, 'current.json'))).toBe(false);
    expect(JSON.parse(readFileSync(path.join(prod, 'current.json.imported'), 'utf8'))).toMatchObject({ release: 2 });
    expect(existsSync(path.join(prod, 'last-good.json.imported'))).toBe(true);
    expect(existsSync(path.join(dev, 'current.json.imported'))).toBe(true);
  });

  it.each([
    ['current.json that is not JSON', { current: '{"release": 2, "packageSha' }, 'current.json', /not JSON/],
    ['last-good.json without a release number', { current: JSON.stringify({ release: 2 }), lastGood: JSON.stringify({ executionId: 'run-1' }) }, 'last-good.json', /no release number/],
  ])('GIVEN a %s WHEN the history is opened THEN it is not read as "no release": InputError naming the file, and nothing changed', (_, files, name, detail) => {
    writeVersion2History();
    const folder = writeStateFiles('prod', files);
    const before = Object.fromEntries(['current.json', 'last-good.json'].map((f) => [f, existsSync(path.join(folder, f)) ? readFileSync(path.join(folder, f), 'utf8') : undefined]));

    let thrown: unknown;
    try {
      StateStore.open(home).close();
    } catch (error) {
      thrown = error;
    }

    expect(thrown).toBeInstanceOf(InputError);
    expect((thrown as InputError).message).toContain(`the local deployment state ${path.join(folder, name)} cannot be read`);
    expect((thrown as InputError).message).toMatch(detail);
    expect((thrown as InputError).problems[0]?.message).toContain(`mv ${path.join(folder, name)} ${path.join(folder, name)}.damaged`);
    // Nothing changed: still version 2, its releases table there, the files where they were.
    expect(userVersion()).toBe(2);
    const db = new Database(database, { readonly: true });
    expect((db.prepare('SELECT count(*) AS n FROM releases').get() as { n: number }).n).toBe(2);
    db.close();
    for (const [file, text] of Object.entries(before)) {
      expect(existsSync(path.join(folder, file)) ? readFileSync(path.join(folder, file), 'utf8') : undefined).toBe(text);
    }
  });

  it('GIVEN a damaged current.json WHEN `history` runs THEN it exits 2 naming the file; once moved aside THEN the history opens', async () => {
    writeVersion2History();
    const folder = writeStateFiles('prod', { current: 'not json' });

    const refused = await runCli(['history'], { cwd: work.dir });

    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain(path.join(folder, 'current.json'));
    expect(refused.stderr).not.toMatch(/unexpected failure/i);

    renameSync(path.join(folder, 'current.json'), path.join(folder, 'current.json.damaged'));
    const opened = await runCli(['history'], { cwd: work.dir });
    expect(opened.exitCode, opened.stderr).toBe(0);
    expect(userVersion()).toBe(MIGRATIONS.length);
  });
});
