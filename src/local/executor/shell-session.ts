/**
 * One shell instance that runs every command of a build, as buildspec 0.2 does: `cd`, `export`,
 * functions and background processes carry over from command to command and phase to phase.
 *
 * How it knows each command's exit status without losing the shell's state: the shell reads its
 * script from stdin (`sh -s`), and the executor writes one command at a time, then a report line:
 *
 *     command eval '<command>' </dev/null 8>&- 9>&-
 *     { __sp_rc=$?; printf '\036<nonce>:%s:%s\037' "$__sp_rc" "$PWD" >&9; printf '\036<nonce>\037' >&8; } 2>/dev/null
 *
 * - `eval` runs the command in the shell itself (no subshell), so its state persists;
 *   `command eval` keeps a syntax error in it from ending a POSIX shell (it returns 2 instead);
 * - the command reads /dev/null, never the script on stdin;
 * - fds 8 and 9 are copies of stderr and stdout made before any command ran, so a command's own
 *   `exec >file` cannot swallow the reports; commands do not inherit them;
 * - the report carries the exit status and the working directory, framed by control characters
 *   and a random nonce, so it is found even after output without a final newline;
 * - a report on stderr too marks the end of the command's stderr, so the log keeps its order;
 * - `2>/dev/null` hides the bookkeeping from a command's `set -x`.
 * A command that ends the shell (`exit 3`, `set -e` then a failure) ends with the shell's status;
 * the executor then starts a new shell in the last known working directory.
 *
 * Nothing outlives the process that runs the session. The shell leads a process group of its own,
 * and its first command starts a watchdog in that group that waits on the spawn's lifeline (see
 * `SpawnOptions.lifeline`): when the process holding the other end ends (`kill -9` included) or
 * the shell exits, the watchdog sends SIGTERM to the whole group, then SIGKILL 5 s later.
 */
import { randomBytes } from 'node:crypto';
import { LIFELINE_WATCHDOG, nodeProcessTable, WATCHDOG_GRACE_SECONDS, type ProcessHandle, type ProcessIdentity, type Processes, type ProcessTable } from '../../runtime/process.js';

/** How a command ended. */
export interface CommandOutcome {
  /** The command's exit status (128 + n when a signal n ended the shell). */
  readonly exitCode: number;
  /** The shell's working directory after the command. */
  readonly cwd: string;
  /** The command ended the shell (`exit`, `set -e`...): later commands need a new one. */
  readonly shellEnded: boolean;
  /** What the command wrote on stdout, when run with `capture`. */
  readonly stdout?: string;
}

/** Options of `ShellSession.run`. */
export interface RunCommandOptions {
  /**
   * Keep the command's stdout for the caller instead of passing it on as output
   * (the executor's own queries of the shell: exported variables, artifact names).
   *
   * @default false
   */
  readonly capture?: boolean;
}

/** Options of `ShellSession.start`. */
export interface ShellSessionOptions {
  /** The shell program (`sh`, `bash`, `/bin/sh`). */
  readonly shell: string;
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly processes: Processes;
  /** @default nodeProcessTable */
  readonly processTable?: ProcessTable;
  /** Receives the commands' output as it comes. */
  readonly onOutput: (stream: 'stdout' | 'stderr', text: string) => void;
}

export { WATCHDOG_GRACE_SECONDS };

/** How often a running command's shell is checked for having ended. */
const LIVENESS_INTERVAL_MS = 250;

const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15, SIGPIPE: 13, SIGABRT: 6, SIGSEGV: 11 };

/** A running shell that executes commands one at a time. */
export class ShellSession {
  /** Start a shell in `cwd` with `env`. */
  static start(options: ShellSessionOptions): ShellSession {
    return new ShellSession(options);
  }

  private readonly handle: ProcessHandle;
  private readonly nonce = randomBytes(8).toString('hex');
  private readonly stdoutReport: string;
  private readonly stderrReport: string;
  private stdoutPending = '';
  private stderrPending = '';
  private waiting:
    | { stdout?: { exitCode: number; cwd: string }; stderr: boolean; captured?: string[]; resolve: (outcome: CommandOutcome) => void }
    | undefined;
  private ended: { exitCode: number } | undefined;
  private lastCwd: string;
  private readonly endedPromise: Promise<void>;
  private readonly table: ProcessTable;
  /** The shell's process group (led by the shell), identified so that a reused pid is never signalled. */
  readonly group: ProcessIdentity | undefined;

  private constructor(private readonly options: ShellSessionOptions) {
    this.lastCwd = options.cwd;
    this.table = options.processTable ?? nodeProcessTable;
    this.stdoutReport = `\u001e${this.nonce}:`;
    this.stderrReport = `\u001e${this.nonce}\u001f`;
    this.handle = options.processes.spawn(options.shell, ['-s'], {
      cwd: options.cwd,
      env: options.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      // A process group of its own, so that stopping the build reaches the commands' children.
      detached: true,
      lifeline: true,
    });
    const pid = this.handle.pid;
    this.group = pid === undefined ? undefined : (this.table.identify(pid) ?? { pid });
    this.handle.stdout?.setEncoding('utf8');
    this.handle.stderr?.setEncoding('utf8');
    this.handle.stdout?.on('data', (chunk: string) => this.onStdout(chunk));
    this.handle.stderr?.on('data', (chunk: string) => this.onStderr(chunk));
    // Writing to a shell that has gone is reported through `exited`, not as an error.
    this.handle.stdin?.on('error', () => undefined);
    this.endedPromise = this.handle.exited.then(
      (exit) => this.onEnded(exit.code ?? 128 + (exit.signal ? (SIGNAL_NUMBERS[exit.signal] ?? 0) : 0)),
      () => this.onEnded(127),
    );
    // The watchdog first: it must hold none of the output pipes, or they would stay open after the shell.
    this.write(`${this.handle.lifeline ? LIFELINE_WATCHDOG : ''}exec 8>&2 9>&1\n`);
  }

  /** The working directory after the last command. */
  get cwd(): string {
    return this.lastCwd;
  }

  /** Whether the shell is still there to run commands. */
  get alive(): boolean {
    return this.ended === undefined;
  }

  /** Settles when the shell could not start or has ended. */
  get exited(): Promise<void> {
    return this.endedPromise;
  }

  /** Run one command in the shell and wait for it to end. */
  run(command: string, options: RunCommandOptions = {}): Promise<CommandOutcome> {
    if (this.ended) {
      return Promise.resolve({ exitCode: this.ended.exitCode, cwd: this.lastCwd, shellEnded: true });
    }
    if (this.waiting) {
      throw new Error('ShellSession.run: a command is already running');
    }
    return new Promise<CommandOutcome>((resolve) => {
      const watch = setInterval(() => this.checkShellAlive(), LIVENESS_INTERVAL_MS);
      const settle = (outcome: CommandOutcome) => {
        clearInterval(watch);
        resolve(outcome);
      };
      this.waiting = { stderr: false, resolve: settle, ...(options.capture ? { captured: [] } : {}) };
      this.write(
        `command eval ${singleQuote(command)} </dev/null 8>&- 9>&-\n` +
          `{ __sp_rc=$?; printf '\\036%s:%s:%s\\037' '${this.nonce}' "$__sp_rc" "$PWD" >&9; printf '\\036%s\\037' '${this.nonce}' >&8; } 2>/dev/null\n`,
      );
    });
  }

  /** End the shell: close its script, then stop what it left running in the background. */
  async close(): Promise<void> {
    if (!this.ended) {
      this.handle.stdin?.end();
    }
    // Background processes keep the output pipes open; CodeBuild ends them with the container.
    const grace = setTimeout(() => this.signalGroup('SIGTERM'), 200);
    const hard = setTimeout(() => this.signalGroup('SIGKILL'), 5000);
    try {
      await this.endedPromise;
    } finally {
      clearTimeout(grace);
      clearTimeout(hard);
    }
    this.signalGroup('SIGKILL');
  }

  /** Stop now: the running command and everything the shell started. */
  kill(): void {
    this.signalGroup('SIGTERM');
    setTimeout(() => this.signalGroup('SIGKILL'), 2000).unref();
  }

  /**
   * A command that ends the shell (`exit`) while a process it started in the background still
   * holds the output pipes would leave the session waiting for those pipes to close. The shell's
   * own end is seen here (its pid is gone once Node has reaped it); ending its process group
   * then closes the pipes, and `exited` brings the shell's exit status.
   */
  private checkShellAlive(): void {
    if (this.group === undefined || this.ended) {
      return;
    }
    if (!this.table.isAlive(this.group)) {
      this.signalGroup('SIGTERM');
    }
  }

  /** Signal the shell's process group (what is left of it), never a group that reused its number. */
  private signalGroup(signal: NodeJS.Signals): void {
    if (this.group?.startTime === undefined) {
      this.handle.kill(signal);
    } else {
      this.table.signalGroup(this.group, signal);
    }
  }

  private write(text: string): void {
    this.handle.stdin?.write(text);
  }

  private onStdout(chunk: string): void {
    this.stdoutPending += chunk;
    for (;;) {
      const start = this.stdoutPending.indexOf(this.stdoutReport);
      if (start === -1) {
        break;
      }
      const end = this.stdoutPending.indexOf('\u001f', start);
      if (end === -1) {
        break;
      }
      this.emit('stdout', this.stdoutPending.slice(0, start));
      const [code, ...cwdParts] = this.stdoutPending.slice(start + this.stdoutReport.length, end).split(':');
      this.stdoutPending = this.stdoutPending.slice(end + 1);
      if (this.waiting) {
        this.waiting.stdout = { exitCode: Number(code), cwd: cwdParts.join(':') };
        this.settleIfDone();
      }
    }
    this.stdoutPending = this.emitSafePrefix('stdout', this.stdoutPending);
  }

  private onStderr(chunk: string): void {
    this.stderrPending += chunk;
    for (;;) {
      const start = this.stderrPending.indexOf(this.stderrReport);
      if (start === -1) {
        break;
      }
      this.emit('stderr', this.stderrPending.slice(0, start));
      this.stderrPending = this.stderrPending.slice(start + this.stderrReport.length);
      if (this.waiting) {
        this.waiting.stderr = true;
        this.settleIfDone();
      }
    }
    this.stderrPending = this.emitSafePrefix('stderr', this.stderrPending);
  }

  /** Emit all but a tail that could be the start of a report; return that tail. */
  private emitSafePrefix(stream: 'stdout' | 'stderr', pending: string): string {
    const marker = pending.lastIndexOf('\u001e');
    if (marker === -1) {
      this.emit(stream, pending);
      return '';
    }
    this.emit(stream, pending.slice(0, marker));
    return pending.slice(marker);
  }

  private emit(stream: 'stdout' | 'stderr', text: string): void {
    if (stream === 'stdout' && this.waiting?.captured) {
      this.waiting.captured.push(text);
      return;
    }
    if (text !== '') {
      this.options.onOutput(stream, text);
    }
  }

  private settleIfDone(): void {
    const waiting = this.waiting;
    if (waiting?.stdout && waiting.stderr) {
      this.waiting = undefined;
      this.lastCwd = waiting.stdout.cwd || this.lastCwd;
      waiting.resolve({
        exitCode: waiting.stdout.exitCode,
        cwd: this.lastCwd,
        shellEnded: false,
        ...(waiting.captured ? { stdout: waiting.captured.join('') } : {}),
      });
    }
  }

  private onEnded(exitCode: number): void {
    this.ended = { exitCode };
    // What is left was written by the last command, or by background processes.
    this.emit('stdout', this.stdoutPending);
    this.emit('stderr', this.stderrPending);
    this.stdoutPending = '';
    this.stderrPending = '';
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.resolve({ exitCode: waiting.stdout?.exitCode ?? exitCode, cwd: waiting.stdout?.cwd ?? this.lastCwd, shellEnded: !waiting.stdout });
  }
}

/** Quote for a POSIX shell: `it's` → `'it'\''s'`. */
export function singleQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
