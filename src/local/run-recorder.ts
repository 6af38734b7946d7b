/**
 * The run recorder: how an execution's progress reaches the history and whoever watches it. Each
 * change of a stage or an action goes to the history (one transaction each) and out as an event;
 * each action's log is streamed to one place, its log file (`runs/<id>/logs/<stage>.<action>.log`),
 * which the history names. Only the last lines of its output are kept in memory, to say why a
 * command failed.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Clock } from '../runtime/clock.js';
import type { RunEvent } from './events.js';
import type { LogLine } from './executor/types.js';
import { CAUSE_WINDOW } from './failure-cause.js';
import type { ActionOutcome } from './scheduler.js';
import type { StateStore } from './state-store.js';

/** What an action's end records besides its status. */
export interface ActionDetail {
  readonly exitCode?: number;
  readonly failedCommand?: string;
}

/** Records one execution. */
export class RunRecorder {
  constructor(
    private readonly props: {
      readonly store: StateStore;
      readonly executionId: string;
      readonly home: string;
      readonly clock: Clock;
      readonly onEvent?: (event: RunEvent) => void;
    },
  ) {}

  /** Tell whoever watches. */
  emit(event: RunEvent): void {
    this.props.onEvent?.(event);
  }

  /** Something a person should know. */
  notice(message: string): void {
    this.emit({ type: 'notice', message });
  }

  /** The folder of the execution's logs. */
  get logFolder(): string {
    return path.join(this.props.home, 'runs', this.props.executionId, 'logs');
  }

  /** An action started; returns when. */
  actionStarted(stage: string, action: string): number {
    const at = this.props.clock.now();
    this.props.store.updateAction(this.props.executionId, stage, action, { status: 'IN_PROGRESS', startedAt: at });
    this.emit({ type: 'action-started', stage, action, at });
    return at;
  }

  /** An action ended. */
  actionFinished(stage: string, action: string, startedAt: number, outcome: ActionOutcome, detail: ActionDetail = {}): ActionOutcome {
    const finishedAt = this.props.clock.now();
    const status = outcome.ok ? 'SUCCEEDED' : 'FAILED';
    this.props.store.updateAction(this.props.executionId, stage, action, { status, finishedAt, ...(outcome.reason ? { reason: outcome.reason } : {}), ...detail });
    this.emit({ type: 'action-finished', stage, action, status, durationMs: finishedAt - startedAt, ...(outcome.reason ? { reason: outcome.reason } : {}) });
    return outcome;
  }

  /** Open an action's log: its file is named in the history from now on. */
  async openLog(stage: string, action: string): Promise<ActionLog> {
    await mkdir(this.logFolder, { recursive: true });
    const file = path.join(this.logFolder, `${stage}.${action}.log`);
    this.props.store.updateAction(this.props.executionId, stage, action, { status: 'IN_PROGRESS', logFile: file });
    return new ActionLog(file, createWriteStream(file), (line) => this.emit({ type: 'action-log', stage, action, line }));
  }
}

/** One action's log: streamed to its file and to the events, the last lines of its output kept. */
export class ActionLog {
  private readonly output: string[] = [];
  private closing: Promise<void> | undefined;

  constructor(
    /** The log file. */
    readonly file: string,
    private readonly stream: WriteStream,
    private readonly onLine: (line: LogLine) => void,
  ) {}

  write(line: LogLine): void {
    if (line.kind === 'output') {
      this.output.push(line.text);
      if (this.output.length > 2 * CAUSE_WINDOW) this.output.splice(0, this.output.length - 2 * CAUSE_WINDOW);
    }
    this.stream.write(`${line.text}\n`);
    this.onLine(line);
  }

  /** The last lines the action's commands printed (at most twice what `failureCause` looks at). */
  recentOutput(): readonly string[] {
    return this.output;
  }

  /** Flush and close the file (once; later calls wait for the same). */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => this.stream.end(resolve));
    return this.closing;
  }
}
