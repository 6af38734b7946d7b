/**
 * The one seam through which the project starts processes, and looks at or signals processes it
 * did not start itself. Code takes a `Processes` (and a `ProcessTable`) and tests may pass their
 * own; production code uses `nodeProcesses` (and `nodeProcessTable`). What starts processes in
 * particular ways is here too: guarded (`guardedProcesses`: nothing outlives this process) and
 * detached (`spawnDetached`: a server that outlives it on purpose).
 */
import { spawn as nodeSpawn, type StdioOptions } from 'node:child_process';
import { accessSync, closeSync, constants as fsConstants, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { hostname } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import type { Clock } from './clock.js';

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
  /**
   * Give the child a lifeline on file descriptor 3: one end of a socket whose other end only this
   * process holds. The child reads end-of-file there when this process ends, however it ends
   * (`kill -9` included), or when the child itself exits: it can then stop what it started.
   * The lifeline does not count among the streams `exited` waits for.
   *
   * @default false
   */
  readonly lifeline?: boolean;
  /** Let this process end without waiting for the child (see `spawnDetached`). @default false */
  readonly unref?: boolean;
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
  /** Whether the child got a lifeline on file descriptor 3 (see `SpawnOptions.lifeline`). */
  readonly lifeline?: boolean;
}

/** Starts processes. */
export interface Processes {
  spawn(command: string, args: readonly string[], options?: SpawnOptions): ProcessHandle;
}

/** The real thing: `child_process.spawn`. */
export const nodeProcesses: Processes = {
  spawn(command, args, options = {}) {
    const stdio = options.stdio ?? ['ignore', 'pipe', 'pipe'];
    const child = nodeSpawn(command, [...args], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: options.lifeline ? [...(typeof stdio === 'string' ? [stdio, stdio, stdio] : stdio.slice(0, 3)), 'pipe'] : stdio,
      detached: options.detached ?? false,
    });
    if (options.unref) {
      child.unref();
    }
    const lifeline = options.lifeline ? child.stdio[3] : undefined;
    // The child's end of the lifeline may live on in what it started (that is the point of it):
    // the child's end is seen by its exit and its own output streams, not by the lifeline closing.
    const exited = lifeline
      ? new Promise<ProcessExit>((resolve, reject) => {
          child.once('error', reject);
          let exit: ProcessExit | undefined;
          let open = [child.stdout, child.stderr].filter((stream) => stream !== null).length;
          const settle = () => {
            if (exit && open === 0) resolve(exit);
          };
          for (const stream of [child.stdout, child.stderr]) {
            stream?.once('close', () => {
              open -= 1;
              settle();
            });
          }
          child.once('exit', (code, signal) => {
            exit = { code, signal };
            lifeline.destroy();
            settle();
          });
        })
      : new Promise<ProcessExit>((resolve, reject) => {
          child.once('error', reject);
          child.once('close', (code, signal) => resolve({ code, signal }));
        });
    if (lifeline) {
      // Nothing is ever written on the lifeline; a child that closes its end is no error.
      lifeline.on('error', () => undefined);
      child.once('error', () => lifeline.destroy());
    }
    return {
      pid: child.pid,
      ...(lifeline ? { lifeline: true } : {}),
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

/** A process, identified so that a reused process id is never taken for it. */
export interface ProcessIdentity {
  readonly pid: number;
  /**
   * When it started, as the system counts (on Linux, field 22 of `/proc/<pid>/stat`: clock ticks
   * since boot). Absent where the system does not tell: the pid alone identifies it then.
   */
  readonly startTime?: string;
}

/** Looks at processes this process did not start (or no longer holds a handle on), and signals them. */
export interface ProcessTable {
  /**
   * Where process ids mean something: this machine's boot and pid namespace (a container, a host).
   * Two processes with the same scope see the same processes; a pid recorded under another
   * scope says nothing here.
   */
  scope(): string;
  /** The identity of a running process (not a zombie), or undefined when there is none with that pid. */
  identify(pid: number): ProcessIdentity | undefined;
  /** Whether that very process still runs: same pid, same start time, not a zombie. */
  isAlive(process: ProcessIdentity): boolean;
  /**
   * Whether the process group `leader` started still has a process that is not a zombie. A group
   * whose number now belongs to another process (its leader is gone, and the pid reused) is gone.
   */
  groupAlive(leader: ProcessIdentity): boolean;
  /** Signal the process group `leader` started; false when it is gone (see `groupAlive`). */
  signalGroup(leader: ProcessIdentity, signal: NodeJS.Signals): boolean;
  /** Signal that very process; false when it is gone (see `isAlive`). */
  signal(target: ProcessIdentity, signal: NodeJS.Signals): boolean;
  /**
   * The processes (not zombies) whose environment has `variable=value`, whatever their group or
   * session: what a detached grandchild keeps of where it came from. Empty where the system does
   * not tell (no /proc), or for processes this user may not look into.
   */
  withEnvironment(variable: string, value: string): ProcessIdentity[];
}

/** The real thing: `/proc` where there is one (Linux), signals and `kill(pid, 0)` elsewhere. */
export const nodeProcessTable: ProcessTable = {
  scope: () => processScope(),
  identify(pid) {
    if (!isPidTaken(pid)) return undefined;
    const stat = readProcStat(pid);
    if (stat === undefined) return PROC_AVAILABLE ? undefined : { pid };
    return stat.state === 'Z' ? undefined : { pid, startTime: stat.startTime };
  },
  isAlive(target) {
    const current = this.identify(target.pid);
    return current !== undefined && (target.startTime === undefined || current.startTime === undefined || current.startTime === target.startTime);
  },
  groupAlive(leader) {
    if (!PROC_AVAILABLE) return isPidTaken(-leader.pid);
    if (numberReused(leader)) return false;
    return groupMembers(leader.pid).length > 0;
  },
  signalGroup(leader, signal) {
    // While a process of the group is left, the kernel does not hand its number out again: a
    // group with that number is ours, unless a new process took the number as its own pid (the
    // old group was empty then).
    if (numberReused(leader)) return false;
    try {
      process.kill(-leader.pid, signal);
      return true;
    } catch {
      return false;
    }
  },
  signal(target, signal) {
    if (!this.isAlive(target)) return false;
    try {
      process.kill(target.pid, signal);
      return true;
    } catch {
      return false;
    }
  },
  withEnvironment(variable, value) {
    if (!PROC_AVAILABLE) return [];
    const entry = Buffer.from(`${variable}=${value}\0`);
    const found: ProcessIdentity[] = [];
    for (const name of readdirSync('/proc')) {
      const pid = Number(name);
      if (!Number.isInteger(pid) || pid === process.pid) continue;
      try {
        const environment = readFileSync(`/proc/${pid}/environ`);
        // The first variable has no NUL before it.
        if (environment.includes(entry) && (environment.indexOf(entry) === 0 || environment[environment.indexOf(entry) - 1] === 0)) {
          const identity = this.identify(pid);
          if (identity) found.push(identity);
        }
      } catch {
        // Gone meanwhile, or not ours to read.
      }
    }
    return found;
  },
};

/** Send a signal to this very process, as if it came from outside (its handlers run, or its default action). */
export function raiseSignal(signal: NodeJS.Signals): void {
  process.kill(process.pid, signal);
}

/** A process to end, or the process group it leads. */
export interface ProcessTarget {
  readonly process: ProcessIdentity;
  /** The whole group the process started (its pid is the group's id). */
  readonly group: boolean;
}

/** How `endProcesses` ended its targets. */
export interface EndedProcesses {
  /** Targets that were still there when asked to end. */
  readonly found: number;
  /** Of those, targets that had to be killed (SIGKILL) after the grace period. */
  readonly killed: number;
  /** Targets still there at the end (processes the system would not kill, e.g. in uninterruptible sleep). */
  readonly remaining: number;
}

/**
 * End processes and process groups the way a service manager stops a service: SIGTERM to each,
 * SIGKILL to what is left after `graceMs`, then wait (up to `waitMs` more) for them to be gone.
 * Targets already gone, or whose number was reused, are left alone.
 */
export async function endProcesses(
  table: ProcessTable,
  clock: Clock,
  targets: readonly ProcessTarget[],
  options: { readonly graceMs?: number; readonly waitMs?: number; readonly pollMs?: number } = {},
): Promise<EndedProcesses> {
  const poll = options.pollMs ?? 50;
  const there = (t: ProcessTarget) => (t.group ? table.groupAlive(t.process) : table.isAlive(t.process));
  const send = (t: ProcessTarget, signal: NodeJS.Signals) => (t.group ? table.signalGroup(t.process, signal) : table.signal(t.process, signal));
  const alive = () => targets.filter(there);
  const found = targets.filter((t) => send(t, 'SIGTERM'));
  const waitFor = async (ms: number) => {
    const deadline = clock.now() + ms;
    while (alive().length > 0 && clock.now() < deadline) {
      await clock.sleep(poll);
    }
  };
  await waitFor(options.graceMs ?? 5_000);
  const stubborn = alive();
  stubborn.forEach((t) => send(t, 'SIGKILL'));
  if (stubborn.length) await waitFor(options.waitMs ?? 5_000);
  return { found: found.length, killed: stubborn.length, remaining: alive().length };
}

const PROC_AVAILABLE = (() => {
  try {
    readFileSync('/proc/self/stat', 'utf8');
    return true;
  } catch {
    return false;
  }
})();

let cachedScope: string | undefined;

function processScope(): string {
  if (cachedScope === undefined) {
    const read = (read: () => string) => {
      try {
        return read().trim();
      } catch {
        return undefined;
      }
    };
    const boot = read(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8'));
    const namespace = read(() => readlinkSync('/proc/self/ns/pid'));
    cachedScope = boot && namespace ? `${boot}/${namespace}` : `host:${hostname()}`;
  }
  return cachedScope;
}

/** Whether a process (or, for a negative number, a process group) with that id exists, zombies included. */
function isPidTaken(pid: number): boolean {
  if (!Number.isInteger(pid) || pid === 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the pid of `leader` now belongs to another process (another start time). */
function numberReused(leader: ProcessIdentity): boolean {
  if (leader.startTime === undefined) return false;
  const holder = readProcStat(leader.pid);
  return holder !== undefined && holder.startTime !== leader.startTime;
}

interface ProcStat {
  readonly state: string;
  readonly processGroup: number;
  readonly startTime: string;
}

function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces or parentheses itself.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '', processGroup: Number(fields[2]), startTime: fields[19] ?? '' };
}

/** The processes (not zombies) of a process group, from /proc. */
function groupMembers(processGroup: number): number[] {
  const members: number[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const stat = readProcStat(pid);
    if (stat && stat.processGroup === processGroup && stat.state !== 'Z' && stat.state !== 'X') {
      members.push(pid);
    }
  }
  return members;
}

/** How long a guard's watchdog waits after SIGTERM before it sends SIGKILL to what is left of the group. */
export const WATCHDOG_GRACE_SECONDS = 5;

/**
 * The watchdog, as shell text: a background subshell in the shell's process group, blocked
 * reading the lifeline (fd 3, see `SpawnOptions.lifeline`), deaf to SIGTERM until then.
 * End-of-file there means the process that started the shell is gone, or the shell exited: it
 * sends SIGTERM to the group, then looks, at once and every second after, whether any other
 * process of the group is left (from /proc; where there is none it waits the whole grace period)
 * and, if one still is after the grace period, sends SIGKILL. It leaves as soon as it is alone,
 * and a later SIGTERM (a recovery taking over) ends it too. What the shell runs after it never sees fd 3.
 */
export const LIFELINE_WATCHDOG = `( trap '' TERM INT HUP
  read -r __sp_lifeline <&3
  kill -TERM 0
  trap - TERM
  read -r __sp_self __sp_rest < /proc/self/stat
  __sp_wait=0
  while :; do
    if [ -n "$__sp_self" ]; then
      __sp_left=
      for __sp_proc in /proc/[0-9]*; do
        read -r __sp_stat < "$__sp_proc/stat" || continue
        set -- \${__sp_stat##*") "}
        if [ "$3" = "$$" ] && [ "$1" != Z ] && [ "\${__sp_proc#/proc/}" != "$__sp_self" ]; then __sp_left=1; break; fi
      done
      [ -n "$__sp_left" ] || exit 0
    fi
    [ $__sp_wait -lt ${WATCHDOG_GRACE_SECONDS} ] || break
    sleep 1
    __sp_wait=$((__sp_wait + 1))
  done
  kill -KILL 0 ) </dev/null >/dev/null 2>&1 8>&- 9>&- &
exec 3<&-
`;

/** Options of `guardedProcesses`. */
export interface GuardOptions {
  /** Told of each process group started, as soon as it is, so that whoever finds this process dead can end it. */
  readonly onGroup?: (leader: ProcessIdentity) => void;
  /** @default nodeProcessTable */
  readonly processTable?: ProcessTable;
}

/** Processes whose groups can all be ended at once. */
export interface GuardedProcesses extends Processes {
  /** End every group started and still there: SIGTERM, then SIGKILL after `graceMs`. */
  stopAll(graceMs?: number): void;
}

/**
 * Processes that cannot outlive this process: each is started in a process group of its own
 * with a watchdog that ends the group when this process ends (`kill -9` included) or the process
 * exits (see `LIFELINE_WATCHDOG`), as a shell of the buildspec executor is. A program that
 * cannot be found on PATH is spawned as it is, so that it fails as it always does (ENOENT). A
 * spawn that asks for `detached` or `unref` (a process meant to outlive this one) is left alone.
 */
export function guardedProcesses(base: Processes, options: GuardOptions = {}): GuardedProcesses {
  const table = options.processTable ?? nodeProcessTable;
  const live = new Set<ProcessHandle>();
  return {
    spawn(command, args, spawnOptions = {}) {
      const env = spawnOptions.env ?? process.env;
      if (spawnOptions.detached || spawnOptions.unref || findProgram(command, env, spawnOptions.cwd) === undefined) {
        return base.spawn(command, args, spawnOptions);
      }
      const handle = base.spawn('sh', ['-c', `${LIFELINE_WATCHDOG}exec "$@"`, 'sh', command, ...args], { ...spawnOptions, detached: true, lifeline: true });
      if (handle.pid !== undefined) {
        live.add(handle);
        void handle.exited.then(
          () => live.delete(handle),
          () => live.delete(handle),
        );
        options.onGroup?.(table.identify(handle.pid) ?? { pid: handle.pid });
      }
      return handle;
    },
    stopAll(graceMs = 2_000) {
      const stopping = [...live];
      stopping.forEach((handle) => handle.kill('SIGTERM'));
      if (stopping.length) setTimeout(() => stopping.forEach((handle) => handle.kill('SIGKILL')), graceMs).unref();
    },
  };
}

/** The file a program name runs (a name with a slash as it is), or undefined when there is none. */
function findProgram(command: string, env: NodeJS.ProcessEnv, cwd: string | undefined): string | undefined {
  const executable = (file: string) => {
    try {
      accessSync(file, fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (command.includes('/')) {
    const file = isAbsolute(command) ? command : join(cwd ?? process.cwd(), command);
    return executable(file) ? file : undefined;
  }
  for (const folder of (env.PATH ?? '').split(delimiter)) {
    const file = join(folder === '' ? (cwd ?? process.cwd()) : folder, command);
    if (executable(file)) return file;
  }
  return undefined;
}

/** Options of `spawnDetached`. */
export interface DetachedOptions {
  readonly cwd: string;
  /** The whole environment of the program. */
  readonly env: NodeJS.ProcessEnv;
  /** Where its output is appended (created, with its folder, if need be). */
  readonly logFile: string;
}

/**
 * Start a program that outlives this process (a server): in a session of its own, its output
 * appended to a file, this process holding nothing of it. Returns its identity.
 *
 * @throws Error when it could not start (no such program...)
 */
export async function spawnDetached(processes: Processes, command: string, args: readonly string[], options: DetachedOptions, table: ProcessTable = nodeProcessTable): Promise<ProcessIdentity> {
  mkdirSync(dirname(options.logFile), { recursive: true });
  const fd = openSync(options.logFile, 'a');
  let child: ProcessHandle;
  try {
    child = processes.spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', fd, fd], detached: true, unref: true });
  } finally {
    // The child has its own copy of the descriptor.
    closeSync(fd);
  }
  if (child.pid === undefined) {
    const error = await child.exited.then(
      () => new Error('it exited at once'),
      (failure: unknown) => (failure instanceof Error ? failure : new Error(String(failure))),
    );
    throw new Error(`could not start ${command}: ${error.message}`, { cause: error });
  }
  // Its end is nobody's business here (a server stopped later, by another command).
  child.exited.catch(() => undefined);
  return table.identify(child.pid) ?? { pid: child.pid };
}
