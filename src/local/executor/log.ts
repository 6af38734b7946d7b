/**
 * The build log: lines as CodeBuild writes them (`[Container] 2024/05/01 10:00:00.123 Entering phase BUILD`),
 * every secret value masked.
 */
import type { Clock } from '../../runtime/clock.js';
import type { LogLine } from './types.js';

/** What replaces a secret value in the log, as in CodeBuild. */
export const MASK = '***';

/** Replaces secret values in text. */
export class SecretMasker {
  private readonly values: string[] = [];

  /** Mask `value` from now on (each of its lines too, so a multi-line secret is masked line by line). */
  add(value: string): void {
    for (const candidate of [value, ...value.split(/\r?\n/)]) {
      const trimmed = candidate.trim();
      // Masking one or two characters would garble the log without protecting anything.
      if (trimmed.length >= 3 && !this.values.includes(trimmed)) {
        this.values.push(trimmed);
      }
    }
    // Longest first, so a secret that contains another is masked whole.
    this.values.sort((a, b) => b.length - a.length);
  }

  mask(text: string): string {
    let out = text;
    for (const value of this.values) {
      if (out.includes(value)) {
        out = out.split(value).join(MASK);
      }
    }
    return out;
  }
}

/** Splits a stream's chunks into lines, keeping the unfinished last line until more comes. */
export class LineSplitter {
  private pending = '';

  /**
   * @param onLine receives each line, without its newline
   * @param maxLineLength a longer line (a minified file, binary output) is passed on in pieces of
   * this length, so that memory stays bounded
   */
  constructor(
    private readonly onLine: (line: string) => void,
    private readonly maxLineLength = 64 * 1024,
  ) {}

  push(text: string): void {
    const parts = (this.pending + text).split('\n');
    this.pending = parts.pop() ?? '';
    for (const part of parts) {
      this.onLine(part.endsWith('\r') ? part.slice(0, -1) : part);
    }
    while (this.pending.length > this.maxLineLength) {
      this.onLine(this.pending.slice(0, this.maxLineLength));
      this.pending = this.pending.slice(this.maxLineLength);
    }
  }

  /** Emit the unfinished line, if any (at the end of a command). */
  flush(): void {
    if (this.pending !== '') {
      const line = this.pending;
      this.pending = '';
      this.onLine(line);
    }
  }
}

/** Writes the build's log lines to a listener, masked and time-stamped. */
export class BuildLog {
  constructor(
    private readonly clock: Clock,
    private readonly masker: SecretMasker,
    private readonly listener: ((line: LogLine) => void) | undefined,
  ) {}

  /** A `[Container]` line, as CodeBuild's agent writes them. */
  container(text: string): void {
    const at = this.clock.now();
    this.emit({ kind: 'phase', stream: 'system', text: `[Container] ${containerTimestamp(at)} ${this.masker.mask(text)}`, at });
  }

  /** A line a command wrote. */
  output(stream: 'stdout' | 'stderr', text: string): void {
    this.emit({ kind: 'output', stream, text: this.masker.mask(text), at: this.clock.now() });
  }

  private emit(line: LogLine): void {
    this.listener?.(line);
  }
}

/** `2024/05/01 10:00:00.123000`: CodeBuild's format, in UTC (milliseconds are all this clock has). */
export function containerTimestamp(ms: number): string {
  const date = new Date(ms);
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return (
    `${date.getUTCFullYear()}/${pad(date.getUTCMonth() + 1)}/${pad(date.getUTCDate())} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}.${pad(date.getUTCMilliseconds(), 3)}000`
  );
}
