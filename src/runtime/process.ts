/**
 * The one seam through which the project starts processes. Code takes a `Processes` and
 * tests may pass their own; production code uses `nodeProcesses`.
 */
import { spawn as nodeSpawn, type StdioOptions } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

/** How a process ended. */
export interface ProcessExit {
  /** The exit code, or null when a signal ended it. */
  readonly code: number | null;
  /** The signal that ended it, if any. */
  readonly signal: NodeJS.Signals | null;
}

/** Options of `Processes.spawn`. */
export interface SpawnOptions {
  /** @default - the current folder */
  readonly cwd?: string;
  /** The whole environment of the child. @default - this process's */
  readonly env?: NodeJS.ProcessEnv;
  /** @default ['ignore', 'pipe', 'pipe'] */
  readonly stdio?: StdioOptions;
  /** Put the child in a process group of its own, so that `kill` reaches its children too. @default false */
  readonly detached?: boolean;
}

/** A started process. */
export interface ProcessHandle {
  readonly pid: number | undefined;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  /** Settles when the process has exited (and its streams have closed). Rejects when it could not start. */
  readonly exited: Promise<ProcessExit>;
  /** Send a signal; to the whole process group when started with `detached: true`. */
  kill(signal?: NodeJS.Signals): void;
}

/** Starts processes. */
export interface Processes {
  spawn(command: string, args: readonly string[], options?: SpawnOptions): ProcessHandle;
}

/** The real thing: `child_process.spawn`. */
export const nodeProcesses: Processes = {
  spawn(command, args, options = {}) {
    const child = nodeSpawn(command, [...args], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: options.stdio ?? ['ignore', 'pipe', 'pipe'],
      detached: options.detached ?? false,
    });
    const exited = new Promise<ProcessExit>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => resolve({ code, signal }));
    });
    return {
      pid: child.pid,
      stdin: child.stdin,
      stdout: child.stdout,
      stderr: child.stderr,
      exited,
      kill(signal: NodeJS.Signals = 'SIGTERM') {
        if (options.detached && child.pid !== undefined) {
          try {
            process.kill(-child.pid, signal);
            return;
          } catch {
            // The group is gone already; fall back to the child itself.
          }
        }
        child.kill(signal);
      },
    };
  },
};

/** What `runCaptured` returns. */
export interface CapturedRun extends ProcessExit {
  readonly stdout: string;
  readonly stderr: string;
}

/** Run a command to its end and capture its output (for short commands such as `git rev-parse`). */
export async function runCaptured(
  processes: Processes,
  command: string,
  args: readonly string[],
  options: Omit<SpawnOptions, 'stdio'> & { input?: string } = {},
): Promise<CapturedRun> {
  const child = processes.spawn(command, args, { ...options, stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
  if (options.input !== undefined) {
    child.stdin?.end(options.input);
  }
  const exit = await child.exited;
  return { ...exit, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8') };
}
