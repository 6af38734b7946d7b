/**
 * The dependency install cache of local runs: `<home>/cache/<key>/node_modules`, keyed by the
 * lockfile's hash, so that a second run (and every parallel action of the same run) does not
 * reinstall what the first one installed. CodeBuild's local cache and Seed's build cache do the same.
 *
 * An entry is built in a private temporary folder and renamed into place, so a reader never sees
 * half an install; a lock file per key makes concurrent installs of the same key wait for the
 * first one instead of each running `npm ci`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, lstat, mkdir, open, readdir, readFile, rename, rm, stat, symlink, unlink } from 'node:fs/promises';
import path from 'node:path';
import { FailureError } from '../model/errors.js';
import type { Clock } from '../runtime/clock.js';
import { nodeProcessTable, type Processes, type ProcessIdentity, type ProcessTable } from '../runtime/process.js';
import { announce, runProgram } from './shell.js';
import type { StepOutput } from './step-types.js';

/** The files whose bytes decide what `npm ci` installs: they make the key, and are copied into the entry. */
const KEY_FILES = ['package-lock.json', 'npm-shrinkwrap.json', '.npmrc'] as const;

/** Props of `InstallCache`. */
export interface InstallCacheProps {
  /** The local state folder (`SERVICE_PIPELINES_HOME`); entries go to `<home>/cache/`. */
  readonly home: string;
  readonly processes: Processes;
  /** Tells whether a lock's holder still runs. @default nodeProcessTable */
  readonly processTable?: ProcessTable;
  readonly clock: Clock;
  readonly output: StepOutput;
  /** The environment `npm` runs with. */
  readonly env: NodeJS.ProcessEnv;
  /**
   * How long to wait for another process installing the same key.
   *
   * @default 900_000 (15 minutes)
   */
  readonly lockTimeoutMs?: number;
}

/** What `InstallCache.install` did. */
export interface InstallOutcome {
  /** True when the entry was there already (or another process built it while this one waited). */
  readonly hit: boolean;
  readonly key: string;
  /** The entry's `node_modules`, which the service's `node_modules` now links to. */
  readonly modulesDir: string;
}

/** Installs a service's dependencies through the cache. */
export class InstallCache {
  private readonly props: InstallCacheProps;
  private readonly lockTimeoutMs: number;

  constructor(props: InstallCacheProps) {
    this.props = props;
    this.lockTimeoutMs = props.lockTimeoutMs ?? 900_000;
  }

  /** The cache key of a service folder, or undefined when it has no lockfile (nothing stable to key on). */
  static async keyOf(serviceDir: string): Promise<string | undefined> {
    const hash = createHash('sha256');
    let locked = false;
    for (const name of KEY_FILES) {
      const bytes = await readFile(path.join(serviceDir, name)).catch(() => undefined);
      if (bytes !== undefined) {
        locked ||= name !== '.npmrc';
        hash.update(`${name}\0${bytes.length}\0`).update(bytes);
      }
    }
    if (!locked) {
      return undefined;
    }
    // Native modules are built for one Node ABI, OS and CPU: an entry is only shared among those.
    hash.update(`\0${process.versions.modules}\0${process.platform}\0${process.arch}`);
    return hash.digest('hex').slice(0, 32);
  }

  /**
   * Make `<serviceDir>/node_modules` the cached install of its lockfile, running `npm ci` once per key.
   * An existing `node_modules` is replaced, as `npm ci` replaces it.
   *
   * @throws FailureError when `npm ci` fails, or another install of the key holds the lock too long
   */
  async install(serviceDir: string, key: string): Promise<InstallOutcome> {
    const root = path.join(this.props.home, 'cache');
    const entry = path.join(root, key);
    const modulesDir = path.join(entry, 'node_modules');
    await mkdir(root, { recursive: true });
    let hit = await exists(modulesDir);
    if (!hit) {
      const release = await this.lock(path.join(root, `${key}.lock`), modulesDir);
      try {
        hit = await exists(modulesDir);
        if (!hit) {
          await this.build(serviceDir, root, entry);
        }
      } finally {
        await release();
      }
    }
    await linkModules(serviceDir, modulesDir);
    return { hit, key, modulesDir };
  }

  private async build(serviceDir: string, root: string, entry: string): Promise<void> {
    const scratch = path.join(root, `.tmp-${path.basename(entry)}-${process.pid}-${randomBytes(4).toString('hex')}`);
    await mkdir(scratch);
    try {
      for (const name of ['package.json', ...KEY_FILES]) {
        await copyFile(path.join(serviceDir, name), path.join(scratch, name)).catch((error: NodeJS.ErrnoException) => {
          if (error.code !== 'ENOENT') throw error;
        });
      }
      announce(this.props.output, 'install', `$ npm ci  (into the install cache, ${entry})`);
      await runProgram('npm', ['ci', '--no-audit', '--no-fund'], {
        step: 'install',
        cwd: scratch,
        env: this.props.env,
        processes: this.props.processes,
        output: this.props.output,
        display: 'npm ci',
      });
      // A lockfile without dependencies installs no node_modules; the entry still needs one to link to.
      await mkdir(path.join(scratch, 'node_modules'), { recursive: true });
      await rename(scratch, entry);
    } catch (error) {
      await rm(scratch, { recursive: true, force: true });
      throw error;
    }
  }

  /**
   * Take `<key>.lock` (created exclusively, holding our pid and start time). A lock whose process
   * is gone (or whose pid another process now has) is taken over; while waiting, the entry
   * appearing ends the wait early.
   */
  private async lock(file: string, ready: string): Promise<() => Promise<void>> {
    const { clock } = this.props;
    const table = this.props.processTable ?? nodeProcessTable;
    const deadline = clock.now() + this.lockTimeoutMs;
    let waited = false;
    for (;;) {
      try {
        const handle = await open(file, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY);
        const self = table.identify(process.pid);
        await handle.writeFile(self?.startTime === undefined ? String(process.pid) : `${process.pid} ${self.startTime}`);
        await handle.close();
        return () => unlink(file).catch(() => undefined);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = parseHolder(await readFile(file, 'utf8').catch(() => ''));
      if (holder !== undefined && !table.isAlive(holder)) {
        // The holder died mid-install: its lock and its half-made scratch folder go.
        const root = path.dirname(file);
        const prefix = `.tmp-${path.basename(file, '.lock')}-${holder.pid}-`;
        for (const name of await readdir(root)) {
          if (name.startsWith(prefix)) await rm(path.join(root, name), { recursive: true, force: true });
        }
        await unlink(file).catch(() => undefined);
        continue;
      }
      if (await exists(ready)) {
        // The holder finished its install: nothing left to do but use it.
        return async () => undefined;
      }
      if (!waited) {
        announce(this.props.output, 'install', `waiting for another install of the same lockfile (${file})`);
        waited = true;
      }
      if (clock.now() > deadline) {
        throw new FailureError(`step install failed: another install of the same lockfile still holds ${file} after ${Math.round(this.lockTimeoutMs / 1000)} s`);
      }
      await clock.sleep(200);
    }
  }
}

/** Replace `<serviceDir>/node_modules` by a link to a cache entry's. */
async function linkModules(serviceDir: string, modulesDir: string): Promise<void> {
  const link = path.join(serviceDir, 'node_modules');
  const present = await lstat(link).catch(() => undefined);
  if (present) {
    await rm(link, { recursive: true, force: true });
  }
  await symlink(modulesDir, link, 'dir');
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/** A lock file's holder: `<pid>` or `<pid> <start time>` (see `ProcessIdentity`); undefined while it is being written. */
function parseHolder(text: string): ProcessIdentity | undefined {
  const [pid, startTime] = text.trim().split(/\s+/);
  const number = Number(pid);
  if (!Number.isInteger(number) || number <= 0) return undefined;
  return startTime ? { pid: number, startTime } : { pid: number };
}
