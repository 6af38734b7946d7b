/**
 * What every command gets: where to print, where it runs, and how it reports its exit code.
 */
import type { Writable } from 'node:stream';

export interface CliContext {
  readonly stdout: Writable & { isTTY?: boolean; columns?: number };
  readonly stderr: Writable & { isTTY?: boolean };
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** The exit code the command ends with, unless it throws. */
  exitCode: number;
}

/** Write a line to a stream. */
export function println(stream: Writable, text = ''): void {
  stream.write(`${text}\n`);
}
