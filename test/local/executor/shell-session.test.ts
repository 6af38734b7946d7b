import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { nodeProcesses, nodeProcessTable, type ProcessIdentity } from '../../../src/runtime/process.js';
import { ShellSession } from '../../../src/local/executor/shell-session.js';
import { tempFolder } from './helpers.js';

function session(cwd: string, shell = 'sh') {
  const output: Array<[string, string]> = [];
  const shellSession = ShellSession.start({
    shell,
    cwd,
    env: { PATH: process.env.PATH },
    processes: nodeProcesses,
    onOutput: (stream, text) => output.push([stream, text]),
  });
  return { shellSession, output };
}

describe('ShellSession', () => {
  it('reports each exit status and working directory, whatever the commands write or redirect', async () => {
    // GIVEN a shell in a temporary folder
    const cwd = realpathSync(tempFolder());
    const { shellSession, output } = session(cwd, 'bash');
    try {
      // WHEN commands print control characters, trace themselves, and redirect the shell's stdout
      const first = await shellSession.run("printf '\\036not a report\\037\\n'; mkdir -p a; cd a; (exit 9)");
      const traced = await shellSession.run('set -x; true');
      const redirected = await shellSession.run('exec > redirected.txt; echo into-file');
      const after = await shellSession.run('set +x; pwd; false');
      // THEN every command's status and folder are known, the output passed through, the reports stayed out of it
      expect([first.exitCode, traced.exitCode, redirected.exitCode, after.exitCode]).toEqual([9, 0, 0, 1]);
      expect(first.cwd).toBe(join(cwd, 'a'));
      expect(output.filter(([stream]) => stream === 'stdout').map(([, text]) => text).join('')).toBe('\u001enot a report\u001f\n');
      expect(output.filter(([stream]) => stream === 'stderr').map(([, text]) => text).join('')).not.toContain('__sp_rc');
      expect(readFileSync(join(cwd, 'a', 'redirected.txt'), 'utf8')).toBe(`into-file\n${join(cwd, 'a')}\n`);
    } finally {
      await shellSession.close();
    }
  });

  it('gives the caller the stdout of a captured command instead of passing it on', async () => {
    // GIVEN a shell
    const { shellSession, output } = session(tempFolder());
    try {
      // WHEN a command runs with capture
      const outcome = await shellSession.run("printf 'a\\000b'", { capture: true });
      // THEN its stdout is returned, not passed on
      expect(outcome.stdout).toBe('a\u0000b');
      expect(output).toEqual([]);
    } finally {
      await shellSession.close();
    }
  });

  it('ends background processes when it closes', async () => {
    // GIVEN a command that leaves a process running in the background
    const { shellSession } = session(tempFolder());
    await shellSession.run('sleep 60 & echo started');
    const started = Date.now();
    // WHEN the session closes
    await shellSession.close();
    // THEN it did not wait for the background process
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('ShellSession: a command that ends the shell', () => {
  it('ends with the shell status even when a background process still holds the output', async () => {
    // GIVEN a command that leaves a process in the background, then exits the shell
    const { shellSession } = session(tempFolder());
    const started = Date.now();
    try {
      // WHEN it runs
      const outcome = await shellSession.run('sleep 30 & exit 3');
      // THEN it ended promptly, with the shell's status, and the session knows the shell is gone
      expect(outcome).toMatchObject({ exitCode: 3, shellEnded: true });
      expect(shellSession.alive).toBe(false);
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await shellSession.close();
    }
  });
});

describe.skipIf(!existsSync('/proc/self/stat'))('ShellSession: the process that runs it is killed', () => {
  async function killHostDuring(command: string): Promise<{ group: ProcessIdentity; goneAfterMs: number | undefined }> {
    const host = spawn(process.execPath, ['--import', 'jiti/register', join(import.meta.dirname, 'fixtures', 'session-host.ts')], {
      env: { ...process.env, SESSION_COMMAND: command },
      stdio: ['ignore', 'pipe', 'inherit'],
      detached: true,
    });
    const group = await new Promise<ProcessIdentity>((resolve) => host.stdout!.once('data', (chunk: Buffer) => resolve(JSON.parse(chunk.toString()) as ProcessIdentity)));
    // The command's children are up.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const exited = new Promise((resolve) => host.once('exit', resolve));
    process.kill(host.pid!, 'SIGKILL');
    await exited;
    const killedAt = Date.now();
    try {
      while (Date.now() - killedAt < 12_000) {
        if (!nodeProcessTable.groupAlive(group)) return { group, goneAfterMs: Date.now() - killedAt };
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return { group, goneAfterMs: undefined };
    } finally {
      nodeProcessTable.signalGroup(group, 'SIGKILL');
    }
  }

  it('GIVEN a command with children in the background WHEN the process running the session gets SIGKILL THEN the shell\'s whole group ends at once, with no one else to end it', async () => {
    const { goneAfterMs } = await killHostDuring('sleep 60 & sleep 60 & wait');
    expect(goneAfterMs).toBeDefined();
    expect(goneAfterMs!).toBeLessThan(3_000);
  });

  it('GIVEN a command that ignores SIGTERM WHEN the process running the session gets SIGKILL THEN the group is killed after the grace period', async () => {
    const { goneAfterMs } = await killHostDuring('trap "" TERM; sleep 60 & trap "" TERM; wait');
    expect(goneAfterMs).toBeDefined();
    expect(goneAfterMs!).toBeGreaterThanOrEqual(4_000);
  });
});
