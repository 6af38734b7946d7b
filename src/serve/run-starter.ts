/**
 * Starting a local run from a trigger (a webhook, a watched branch). Each run is the real CLI,
 * `service-pipelines run <service> --json`, in a process of its own: the run records its own
 * process id (so a crash is detected and repaired by the next command, as for any run), and a
 * failing run cannot take the server down with it.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FailureError } from '../model/errors.js';
import type { ProcessExit, ProcessHandle, Processes } from '../runtime/process.js';

/** A run to start. */
export interface RunRequest {
  /** The service whose pipeline runs. */
  readonly service: string;
  /** `push` runs the main pipeline; `pull-request` the test-only one. */
  readonly trigger: 'push' | 'pull-request';
  /** Why, for the log: `push 1a2b3c4 to octo/api@main (delivery 72d3...)`. */
  readonly reason: string;
  /** The commit to run (a push's `after`, a pull request's head): the run takes it, not the working tree. */
  readonly revision?: string;
  /** The execution recorded QUEUED for this run, which the run takes over (`run --queued-execution`). */
  readonly executionId?: string;
}

/** A run that was started. */
export interface StartedRun {
  readonly service: string;
  readonly trigger: 'push' | 'pull-request';
  /** The process of the run (its execution records this pid). */
  readonly pid: number;
  /** Where the run's own output (`run --json`) goes. */
  readonly outputFile: string;
  /** The execution the run took over, when it was queued. */
  readonly executionId?: string;
  /** Settles when the run's process has ended. @default - not known to this starter */
  readonly exited?: Promise<ProcessExit | undefined>;
}

/** Starts runs. */
export interface RunStarter {
  /**
   * Start a run and return once its process is started (not when the run ends).
   *
   * @throws FailureError when the process could not be started
   */
  start(request: RunRequest): Promise<StartedRun>;
  /** Stop the runs still going, waiting up to `graceMs` before killing them; resolves to how many there were. */
  stopAll?(graceMs?: number): Promise<number>;
}

/** What `CliRunStarter` needs. */
export interface CliRunStarterProps {
  readonly processes: Processes;
  /** The config file, absolute: the run loads it afresh, so an edited config applies to the next run. */
  readonly configFile: string;
  /** The folder runs work in: their state folder (`.service-pipelines/`) is found from there, as for `run` in a shell. */
  readonly cwd: string;
  /** Where the output of each run is written (one file per run). */
  readonly outputDir: string;
  /**
   * The environment of the runs. Give one without the server's own secrets.
   *
   * @default process.env
   */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * The CLI to run.
   *
   * @default - this package's `bin/service-pipelines.js`
   */
  readonly cliScript?: string;
  /**
   * The Node.js binary.
   *
   * @default process.execPath
   */
  readonly node?: string;
  /** Milliseconds since the epoch, to name output files. @default Date.now */
  readonly now?: () => number;
}

/** The CLI of this package, as installed. */
export function packageCliScript(): string {
  // From src/serve/ or dist/serve/ alike, the package root is two folders up.
  return fileURLToPath(new URL('../../bin/service-pipelines.js', import.meta.url));
}

/** Starts each run as `service-pipelines run` in a child process. */
export class CliRunStarter implements RunStarter {
  private readonly running = new Set<Promise<unknown>>();
  private readonly children = new Set<ProcessHandle>();
  private sequence = 0;

  constructor(private readonly props: CliRunStarterProps) {}

  async start(request: RunRequest): Promise<StartedRun> {
    const args = [
      this.props.cliScript ?? packageCliScript(),
      'run',
      request.service,
      '--config',
      this.props.configFile,
      '--json',
      ...(request.trigger === 'pull-request' ? ['--pull-request'] : []),
      ...(request.executionId ? ['--queued-execution', request.executionId] : []),
      ...(request.revision ? ['--revision', request.revision] : []),
    ];
    mkdirSync(this.props.outputDir, { recursive: true });
    const at = (this.props.now ?? Date.now)();
    this.sequence += 1;
    // Named by the execution when there is one, so that `gc` knows whose output it is.
    const name = `${new Date(at).toISOString().replace(/[:.]/g, '-')}-${this.sequence}-${request.service}${request.trigger === 'pull-request' ? '-pr' : ''}`;
    const outputFile = path.join(this.props.outputDir, `${name}${request.executionId ? `-${request.executionId}` : ''}.log`);
    const fd = openSync(outputFile, 'a');
    let child: ProcessHandle;
    try {
      // The output file header says why the run started; the run appends its JSON document below.
      const header = Buffer.from(`# ${request.reason}\n# ${[this.props.node ?? process.execPath, ...args].join(' ')}\n`);
      writeAll(fd, header);
      child = this.props.processes.spawn(this.props.node ?? process.execPath, args, {
        cwd: this.props.cwd,
        env: this.props.env ?? process.env,
        stdio: ['ignore', fd, fd],
      });
    } finally {
      // The child has its own copy of the descriptor.
      closeSync(fd);
    }
    const ended = child.exited.then(
      (exit) => exit,
      () => undefined,
    );
    this.running.add(ended);
    this.children.add(child);
    void ended.finally(() => {
      this.running.delete(ended);
      this.children.delete(child);
    });
    if (child.pid === undefined) {
      const reason = await child.exited.then(
        () => 'it exited at once',
        (error: unknown) => (error instanceof Error ? error.message : String(error)),
      );
      throw new FailureError(`could not start the run of ${request.service}: ${reason}`);
    }
    return { service: request.service, trigger: request.trigger, pid: child.pid, outputFile, ...(request.executionId ? { executionId: request.executionId } : {}), exited: ended };
  }

  /** Resolves once every run this starter started has ended (for a clean shutdown and for tests). */
  async whenIdle(): Promise<void> {
    while (this.running.size > 0) {
      await Promise.all([...this.running]);
    }
  }

  /**
   * Stop the runs still going (they end STOPPED, as a run interrupted in a shell does) and wait
   * for them; those still there after `graceMs` are killed.
   */
  async stopAll(graceMs = 30_000): Promise<number> {
    const stopping = [...this.children];
    stopping.forEach((child) => child.kill('SIGTERM'));
    const timer = setTimeout(() => stopping.forEach((child) => child.kill('SIGKILL')), graceMs);
    try {
      await this.whenIdle();
    } finally {
      clearTimeout(timer);
    }
    return stopping.length;
  }

  /** How many runs this starter started are still going. */
  get active(): number {
    return this.running.size;
  }
}

function writeAll(fd: number, data: Buffer): void {
  // Synchronous on purpose: the header must be in the file before the child writes to it.
  let written = 0;
  while (written < data.length) {
    written += writeSync(fd, data, written);
  }
}
