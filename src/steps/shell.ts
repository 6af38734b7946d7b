/**
 * Running the shell lines of a step: printed first, output passed through, a failure named.
 */
import { FailureError } from '../model/errors.js';
import type { StepName, StepOutput } from './step-types.js';
import type { Processes } from '../runtime/process.js';

/** Print a line of the step's own (as opposed to the output of what it runs). */
export function announce(output: StepOutput, step: StepName, text: string): void {
  output.stdout.write(`[step ${step}] ${text}\n`);
}

/** Options of `runShellLine`. */
export interface ShellLineOptions {
  readonly step: StepName;
  readonly cwd: string;
  /** The child's whole environment. */
  readonly env: NodeJS.ProcessEnv;
  readonly processes: Processes;
  readonly output: StepOutput;
}

/**
 * Run one shell line with `sh -c`, as CodeBuild runs a buildspec command, streaming its output.
 *
 * @throws FailureError naming the step and the line when it exits non-zero or cannot start
 */
export async function runShellLine(line: string, options: ShellLineOptions): Promise<void> {
  announce(options.output, options.step, `$ ${line}`);
  await runProgram('sh', ['-c', line], { ...options, display: line });
}

/**
 * Run a program with arguments (no shell), streaming its output.
 *
 * @throws FailureError naming the step and the command when it exits non-zero or cannot start
 */
export async function runProgram(
  command: string,
  args: readonly string[],
  options: ShellLineOptions & {
    readonly display: string;
    /** Rewrites each line of the program's output before it is passed on (e.g. to name the user's file, not a generated one). */
    readonly rewriteLine?: (line: string) => string;
  },
): Promise<void> {
  const child = options.processes.spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const flushes: Array<() => void> = [];
  for (const [from, to] of [[child.stdout, options.output.stdout], [child.stderr, options.output.stderr]] as const) {
    if (!from) continue;
    if (options.rewriteLine) {
      flushes.push(passLines(from, to, options.rewriteLine));
    } else {
      from.pipe(to, { end: false });
    }
  }
  let exit;
  try {
    exit = await child.exited;
    for (const flush of flushes) flush();
  } catch (error) {
    throw new FailureError(`step ${options.step} failed: could not run \`${options.display}\`: ${(error as Error).message}`, { cause: error });
  }
  if (exit.code !== 0) {
    const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
    throw new FailureError(`step ${options.step} failed: \`${options.display}\` ${how}`);
  }
}

/** Pass a stream on line by line, rewritten; the returned function passes on what is left after the last line break. */
function passLines(from: NodeJS.ReadableStream, to: NodeJS.WritableStream, rewrite: (line: string) => string): () => void {
  let pending = '';
  from.setEncoding('utf8');
  from.on('data', (chunk: string) => {
    const text = pending + chunk;
    const end = text.lastIndexOf('\n');
    if (end < 0) {
      pending = text;
      return;
    }
    pending = text.slice(end + 1);
    to.write(`${text.slice(0, end).split('\n').map(rewrite).join('\n')}\n`);
  });
  return () => {
    if (pending !== '') to.write(rewrite(pending));
    pending = '';
  };
}
