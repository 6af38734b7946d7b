/**
 * Bad state on disk: a `source.path` that is a file, and a run history (`state.db`) that cannot
 * be used. Each is exit 2 with the file named and what to do; nothing is written, nothing deleted.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StateStore } from '../../src/local/state-store.js';
import { MIGRATIONS, stateDatabaseError } from '../../src/local/state-database.js';
import { InputError } from '../../src/model/errors.js';
import { runCli } from '../support/cli.js';
import { gitRepository, tempFolder } from './helpers.js';
import Database from 'better-sqlite3';
import { nodeProcessTable } from '../../src/runtime/process.js';

const ROOT_MODULES = path.resolve(import.meta.dirname, '../../node_modules');

let work: { dir: string; cleanup: () => void };
let home: string;
let database: string;

beforeEach(() => {
  work = tempFolder('sp-state-');
  home = path.join(work.dir, '.service-pipelines');
  database = path.join(home, 'state.db');
  gitRepository(path.join(work.dir, 'svc'), { 'file.txt': 'hello\n' });
  writeFileSync(path.join(work.dir, 'not-a-folder.txt'), 'a file\n');
  writeFileSync(
    path.join(work.dir, 'pipelines.config.json'),
    JSON.stringify({
      cicd: { account: '111111111111', region: 'us-east-1' },
      environments: [{ name: 'dev', account: '222222222222', region: 'us-east-1' }],
      services: [
        { name: 'svc', flavor: 'custom', source: { path: './svc' }, commands: { install: 'true', package: 'mkdir -p .pipeline/Package && cp file.txt .pipeline/Package/', deploy: 'true' } },
        { name: 'filed', flavor: 'custom', source: { path: './not-a-folder.txt' }, commands: { package: 'true', deploy: 'true' } },
      ],
    }),
  );
});
afterEach(() => {
  unfreeze(home);
  work.cleanup();
});

const cli = (...args: string[]) => runCli(args, { cwd: work.dir });
const config = ['--config', 'pipelines.config.json'];

/** A history with one recorded run, closed (as after any command). */
function historyWithOneRun(): string {
  const store = StateStore.open(home);
  store.createExecution({
    id: '0f0e0d0c-0000-4000-8000-000000000001',
    pipeline: 'svc',
    service: 'svc',
    trigger: 'push',
    executionMode: 'SUPERSEDED',
    process: { pid: 2 ** 22 + 7 },
    processScope: nodeProcessTable.scope(),
    configFile: 'pipelines.config.json',
    sourcePath: path.join(work.dir, 'svc'),
    startedAt: 1_000,
    stages: [{ name: 'Build', onFailure: 'FAIL', actions: [{ name: 'Lint', runOrder: 1, kind: 'commands', step: 'lint' }] }],
  });
  store.endExecution('0f0e0d0c-0000-4000-8000-000000000001', 'FAILED', 'the lint failed', 2_000);
  store.close();
  return '0f0e0d0c-0000-4000-8000-000000000001';
}

/** Make a folder unwritable, even for root (where chattr can): returns false where it cannot. */
function freeze(folder: string): boolean {
  if (process.getuid?.() === 0) {
    try {
      execFileSync('chattr', ['+i', folder], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  }
  chmodSync(folder, 0o555);
  return true;
}

function unfreeze(folder: string): void {
  if (!existsSync(folder)) return;
  if (process.getuid?.() === 0) {
    try {
      execFileSync('chattr', ['-i', folder], { stdio: 'ignore' });
    } catch {
      // Not frozen, or no chattr.
    }
  }
  chmodSync(folder, 0o755);
}

describe('a source.path that is a file', () => {
  it('GIVEN source.path naming a file WHEN run THEN exit 2 naming the file and the config key, and nothing is written (no state folder)', async () => {
    const result = await cli('run', 'filed', ...config);

    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(`the source of service "filed" is not a folder: ${path.join(work.dir, 'not-a-folder.txt')}`);
    expect(result.stderr).toContain('services[1].source.path');
    expect(existsSync(home)).toBe(false);
  });
});

describe('a run history that cannot be used', () => {
  const unusable: Array<[string, () => void, RegExp]> = [
    ['random bytes', () => writeFileSync(database, Buffer.from(Array.from({ length: 16_384 }, (_, i) => (i * 7919) % 251))), /is damaged \(file is not a database\)/],
    [
      'a truncated file',
      () => {
        historyWithOneRun();
        // Pages written after the first are cut off: the file says it has more than it holds.
        const db = new Database(database);
        db.exec(`CREATE TABLE filler (x TEXT); INSERT INTO filler SELECT printf('%.500c', 'x') FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) SELECT i FROM n)`);
        db.pragma('wal_checkpoint(TRUNCATE)');
        db.close();
        truncateSync(database, Math.floor(statSync(database).size / 3));
      },
      /is damaged \(database disk image is malformed\)/,
    ],
    ['a folder', () => mkdirSync(database, { recursive: true }), /is not a file/],
  ];

  for (const [what, make, message] of unusable) {
    it(`GIVEN state.db is ${what} WHEN run, history and show THEN each exits 2 naming the file and what to do, and the file is left as it was`, async () => {
      mkdirSync(home, { recursive: true });
      make();
      const before = statSync(database).isFile() ? readFileSync(database) : undefined;

      for (const args of [['run', 'svc', ...config], ['history'], ['show', '0f0e0d0c']]) {
        const result = await cli(...args);
        expect(result.exitCode, `${args[0]}: ${result.stderr}`).toBe(2);
        expect(result.stderr).toMatch(message);
        expect(result.stderr).toContain(database);
        expect(result.stderr).toMatch(/move it aside/);
        expect(result.stderr).not.toContain('unexpected failure');
      }
      if (before) expect(readFileSync(database).equals(before)).toBe(true);
    });
  }

  it('GIVEN a history in a folder this user cannot write WHEN run THEN exit 2 saying so; history and show still read it, and say that they could only read it', async () => {
    const id = historyWithOneRun();
    if (!freeze(home)) {
      console.warn('skipping: this folder cannot be made read-only here (root without chattr, or a file system without it)');
      return;
    }
    try {
      const run = await cli('run', 'svc', ...config);
      expect(run.exitCode).toBe(2);
      expect(run.stderr).toContain(`the run history ${database} cannot be opened for writing`);
      expect(run.stderr).toContain(`check their owner and permissions (ls -la ${home})`);

      const history = await cli('history');
      expect(history.exitCode, history.stderr).toBe(0);
      expect(history.stdout).toContain(id);
      expect(history.stderr).toMatch(/note: the run history .* cannot be opened for writing .*: showing it as it is/);
      const show = await cli('show', id.slice(0, 8));
      expect(show.exitCode, show.stderr).toBe(0);
      expect(show.stdout).toContain('the lint failed');
      expect(show.stderr).toContain('showing it as it is');
    } finally {
      unfreeze(home);
    }
  });
});

describe('the history schema', () => {
  it('GIVEN a history written by the previous version (schema 1) WHEN opened THEN it is migrated to the current schema, its runs kept', () => {
    mkdirSync(home, { recursive: true });
    const old = new Database(database);
    old.pragma('journal_mode = WAL');
    old.exec(MIGRATIONS[0] as string);
    old.pragma('user_version = 1');
    old.prepare(
      `INSERT INTO executions (id, pipeline, service, trigger, execution_mode, status, pid, host, config_file, source_path, started_at, finished_at) VALUES ('old-run', 'svc', 'svc', 'push', 'SUPERSEDED', 'SUCCEEDED', 42, 'laptop', 'c.ts', '/svc', 1, 2)`,
    ).run();
    old.close();

    const store = StateStore.open(home);
    const run = store.execution('old-run');
    store.close();

    expect(run).toMatchObject({ status: 'SUCCEEDED', pid: 42, host: 'laptop', heartbeatAt: null, processScope: null, requestedRevision: null });
    const reopened = new Database(database, { readonly: true });
    expect(reopened.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    reopened.close();
  });
});

describe('a better-sqlite3 without its native module', () => {
  it('GIVEN better-sqlite3 installed without its compiled binding WHEN a history is opened THEN the error says to run npm rebuild better-sqlite3', async () => {
    // A copy of the package without its build/ folder: what an install that skipped its build script leaves.
    const modules = path.join(work.dir, 'node_modules');
    for (const name of ['bindings', 'file-uri-to-path']) cpSync(path.join(ROOT_MODULES, name), path.join(modules, name), { recursive: true });
    cpSync(path.join(ROOT_MODULES, 'better-sqlite3'), path.join(modules, 'better-sqlite3'), { recursive: true, filter: (file) => !file.includes(`${path.sep}build`) });
    const Unbuilt = createRequire(path.join(work.dir, 'index.js'))('better-sqlite3') as typeof Database;
    let thrown: unknown;
    try {
      new Unbuilt(database);
    } catch (error) {
      thrown = error;
    }
    expect(String(thrown)).toMatch(/Could not locate the bindings file/);

    const told = stateDatabaseError(thrown, database);

    expect(told).toBeInstanceOf(InputError);
    expect((told as InputError).message).toContain(`the run history ${database} cannot be opened: better-sqlite3's native module is missing`);
    expect((told as InputError).problems).toEqual([expect.objectContaining({ where: 'better-sqlite3', message: expect.stringContaining('npm rebuild better-sqlite3') })]);
  });
});
