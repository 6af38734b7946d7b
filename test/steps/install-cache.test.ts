/**
 * The install cache with real `npm ci` runs on a service without dependencies (fast, offline):
 * one install per lockfile however many run at once, a new key when the lockfile changes, a dead
 * holder's lock taken over, and nothing left behind by a failed install.
 */
import { mkdir, readdir, readlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FailureError } from '../../src/model/errors.js';
import { systemClock } from '../../src/runtime/clock.js';
import { nodeProcesses, nodeProcessTable, type Processes, type ProcessTable } from '../../src/runtime/process.js';
import { InstallCache } from '../../src/steps/install-cache.js';
import { cleanEnv, tempDir } from './support.js';

/** A real process seam that counts the `npm` processes it starts. */
function countingProcesses(): Processes & { npmRuns: number } {
  const seam = {
    npmRuns: 0,
    spawn: (command: string, args: readonly string[], options?: Parameters<Processes['spawn']>[2]) => {
      if (command === 'npm') seam.npmRuns += 1;
      return nodeProcesses.spawn(command, args, options);
    },
  };
  return seam;
}

async function writeService(dir: string, name = 'svc', version = '1.0.0'): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name, version, private: true }));
  await writeFile(
    path.join(dir, 'package-lock.json'),
    JSON.stringify({ name, version, lockfileVersion: 3, requires: true, packages: { '': { name, version } } }),
  );
}

describe('InstallCache', () => {
  let root: { dir: string; remove: () => Promise<void> };
  let home: string;
  const output = () => ({ stdout: new PassThrough().resume(), stderr: new PassThrough().resume() });
  const cache = (processes: Processes, lockTimeoutMs?: number, processTable?: ProcessTable) =>
    new InstallCache({ home, processes, clock: systemClock, output: output(), env: cleanEnv(), ...(lockTimeoutMs ? { lockTimeoutMs } : {}), ...(processTable ? { processTable } : {}) });

  beforeEach(async () => {
    root = await tempDir('install-cache');
    home = path.join(root.dir, 'home');
  });
  afterEach(() => root.remove());

  it('GIVEN four actions installing the same lockfile at once WHEN they run THEN npm ci runs once and all four link to the same entry', async () => {
    const services = await Promise.all(
      [1, 2, 3, 4].map(async (n) => {
        const dir = path.join(root.dir, `action-${n}`);
        await writeService(dir);
        return dir;
      }),
    );
    const key = (await InstallCache.keyOf(services[0]!))!;
    expect(await Promise.all(services.map((s) => InstallCache.keyOf(s)))).toEqual([key, key, key, key]);
    const processes = countingProcesses();
    const outcomes = await Promise.all(services.map((s) => cache(processes).install(s, key)));
    expect(processes.npmRuns).toBe(1);
    expect(outcomes.filter((o) => !o.hit)).toHaveLength(1);
    for (const s of services) {
      expect(await readlink(path.join(s, 'node_modules'))).toBe(path.join(home, 'cache', key, 'node_modules'));
    }
    // No scratch folder or lock is left in the cache.
    expect((await readdir(path.join(home, 'cache'))).sort()).toEqual([key]);

    const again = await cache(processes).install(services[0]!, key);
    expect(again.hit).toBe(true);
    expect(processes.npmRuns).toBe(1);
  });

  it('GIVEN a changed lockfile THEN the key changes; GIVEN no lockfile THEN there is no key', async () => {
    const dir = path.join(root.dir, 'svc');
    await writeService(dir, 'svc', '1.0.0');
    const before = await InstallCache.keyOf(dir);
    await writeService(dir, 'svc', '1.0.1');
    expect(await InstallCache.keyOf(dir)).not.toBe(before);
    const unlocked = path.join(root.dir, 'unlocked');
    await mkdir(unlocked);
    await writeFile(path.join(unlocked, 'package.json'), '{}');
    expect(await InstallCache.keyOf(unlocked)).toBeUndefined();
  });

  it('GIVEN a lock and scratch folder left by a process that is gone WHEN installing THEN both are cleared and the install proceeds', async () => {
    const dir = path.join(root.dir, 'svc');
    await writeService(dir);
    const key = (await InstallCache.keyOf(dir))!;
    await mkdir(path.join(home, 'cache'), { recursive: true });
    // A pid far above pid_max is never alive.
    await writeFile(path.join(home, 'cache', `${key}.lock`), '99999999');
    await mkdir(path.join(home, 'cache', `.tmp-${key}-99999999-dead`, 'node_modules'), { recursive: true });
    const outcome = await cache(countingProcesses(), 2_000).install(dir, key);
    expect(outcome.hit).toBe(false);
    expect(await readdir(path.join(home, 'cache'))).toEqual([key]);
    expect(await readlink(path.join(dir, 'node_modules'))).toBe(outcome.modulesDir);
  });

  it('GIVEN a lock naming a live pid with another start time (the holder died, its pid reused) WHEN installing THEN the lock is taken over', async () => {
    const dir = path.join(root.dir, 'svc');
    await writeService(dir);
    const key = (await InstallCache.keyOf(dir))!;
    await mkdir(path.join(home, 'cache'), { recursive: true });
    // This process's pid, but a start time no process of that pid has: the holder is gone.
    await writeFile(path.join(home, 'cache', `${key}.lock`), `${process.pid} 1`);
    const outcome = await cache(countingProcesses(), 2_000, nodeProcessTable).install(dir, key);
    expect(outcome.hit).toBe(false);
    expect(await readdir(path.join(home, 'cache'))).toEqual([key]);
  });

  it('GIVEN a lock held by a live process that never finishes WHEN installing THEN it fails after the timeout', async () => {
    const dir = path.join(root.dir, 'svc');
    await writeService(dir);
    const key = (await InstallCache.keyOf(dir))!;
    await mkdir(path.join(home, 'cache'), { recursive: true });
    await writeFile(path.join(home, 'cache', `${key}.lock`), String(process.pid));
    await expect(cache(countingProcesses(), 500).install(dir, key)).rejects.toThrow(/another install of the same lockfile still holds/);
  });

  it('GIVEN a lockfile out of sync with package.json WHEN npm ci fails THEN a FailureError names it and no entry or scratch folder is left', async () => {
    const dir = path.join(root.dir, 'svc');
    await writeService(dir);
    await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'svc', version: '1.0.0', dependencies: { 'left-pad': '1.3.0' } }));
    const key = (await InstallCache.keyOf(dir))!;
    const error = await cache(countingProcesses()).install(dir, key).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FailureError);
    expect((error as Error).message).toContain('step install failed: `npm ci` exited with code 1');
    expect(await readdir(path.join(home, 'cache'))).toEqual([]);
  });
});
