/**
 * Progress of a run for people: a live view on a terminal (stages, actions, durations, the
 * current log line of each running action, redrawn in place), plain lines elsewhere (CI logs,
 * pipes). It renders text; the CLI decides where it goes.
 */
import { formatDuration } from './describe.js';
import type { RunEvent } from './events.js';

/** Where the view writes. */
export interface ProgressOutput {
  write(text: string): void;
}

/** Options of `ProgressView`. */
export interface ProgressViewOptions {
  /** Redraw in place with ANSI escapes (a terminal). */
  readonly live: boolean;
  /** Terminal width, to cut long lines. @default 100 */
  readonly columns?: number;
  /** @default Date.now */
  readonly now?: () => number;
  /** Redraw period of the live view, in ms. @default 100 */
  readonly refreshMs?: number;
}

interface ActionState {
  readonly name: string;
  readonly runOrder: number;
  status: string;
  startedAt?: number;
  durationMs?: number;
  reason?: string;
  lastLine?: string;
  readonly tail: string[];
}

interface StageState {
  readonly name: string;
  readonly environment?: string;
  status: string;
  startedAt?: number;
  durationMs?: number;
  readonly actions: ActionState[];
}

const TAIL_LINES = 25;
const SYMBOLS: Record<string, string> = {
  PENDING: '·',
  WAITING: '…',
  IN_PROGRESS: '▶',
  AWAITING_APPROVAL: '?',
  SUCCEEDED: '✔',
  FAILED: '✖',
  REJECTED: '✖',
  SKIPPED: '-',
  SUPERSEDED: '↷',
};

/** Renders the events of one run. */
export class ProgressView {
  private stages: StageState[] = [];
  private drawnLines = 0;
  private timer: NodeJS.Timeout | undefined;
  /** While a person is asked on the terminal, the view must not redraw over the question. */
  private paused = false;
  private closed = false;
  /** Stages before this one are final and already on screen above the live block. */
  private firstLive = 0;
  private sawOutput = new Set<ActionState>();
  private readonly now: () => number;

  constructor(
    private readonly out: ProgressOutput,
    private readonly options: ProgressViewOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Take one event. */
  handle(event: RunEvent): void {
    switch (event.type) {
      case 'execution-started':
        this.stages = event.stages.map((s) => ({
          name: s.name,
          ...(s.environment ? { environment: s.environment } : {}),
          status: 'PENDING',
          actions: s.actions.map((a) => ({ name: a.name, runOrder: a.runOrder, status: 'PENDING', tail: [] })),
        }));
        this.print(`${event.pipeline}: execution ${event.executionId} (history in ${event.home})`);
        if (this.options.live && !this.timer) {
          this.timer = setInterval(() => this.redraw(), this.options.refreshMs ?? 100);
          this.timer.unref();
        }
        break;
      case 'notice':
        this.print(`note: ${event.message}`);
        break;
      case 'source':
        this.print(`source: ${event.commit ? `commit ${event.commit.slice(0, 12)}` : `snapshot ${event.digest.slice(7, 19)} (not in git)`}${event.dirty ? ' with uncommitted changes (included, and flagged in the history)' : ''}`);
        break;
      case 'stage-waiting': {
        const stage = this.stage(event.stage);
        stage.status = 'WAITING';
        this.print(`${event.stage}: waiting for the stage to be free${event.holder ? ` (execution ${event.holder} is in it)` : ''}`);
        break;
      }
      case 'stage-started': {
        const stage = this.stage(event.stage);
        stage.status = 'IN_PROGRESS';
        stage.startedAt = event.at;
        this.plain(`${event.stage}: started`);
        break;
      }
      case 'action-started': {
        const action = this.action(event.stage, event.action);
        action.status = 'IN_PROGRESS';
        action.startedAt = event.at;
        this.plain(`${event.stage}.${event.action}: started`);
        break;
      }
      case 'action-log': {
        const action = this.action(event.stage, event.action);
        // The commands' own output is what a person wants to see; the executor's phase lines only until there is some.
        if (event.line.text.trim() !== '' && (event.line.kind === 'output' || !this.sawOutput.has(action))) {
          action.lastLine = event.line.text.replace(/^\[Container\] \S+ \S+ /, '');
          if (event.line.kind === 'output') {
            this.sawOutput.add(action);
          }
        }
        // The commands' own lines tell why an action failed; the executor's phase lines mostly do not.
        if (event.line.kind === 'output' || /fail|error/i.test(event.line.text)) {
          action.tail.push(event.line.text);
          if (action.tail.length > TAIL_LINES) {
            action.tail.shift();
          }
        }
        break;
      }
      case 'action-finished': {
        const action = this.action(event.stage, event.action);
        action.status = event.status;
        action.durationMs = event.durationMs;
        if (event.reason) {
          action.reason = event.reason;
        }
        this.plain(`${event.stage}.${event.action}: ${event.status} in ${formatDuration(event.durationMs)}${event.reason ? ` (${event.reason})` : ''}`);
        if (event.status === 'FAILED' && action.tail.length) {
          this.print([`── last lines of ${event.stage}.${event.action} ──`, ...action.tail.map((l) => `  ${l}`)].join('\n'));
        }
        break;
      }
      case 'stage-finished': {
        const stage = this.stage(event.stage);
        stage.status = event.status;
        stage.durationMs = event.durationMs;
        this.plain(`${event.stage}: ${event.status} in ${formatDuration(event.durationMs)}`);
        break;
      }
      case 'approval-waiting':
        this.action(event.stage, event.action).status = 'AWAITING_APPROVAL';
        {
          // The stages up to this one stay on screen as they are; the question (if any) and this
          // note go below them, and later redraws only draw the stages after it.
          const index = this.stages.findIndex((s) => s.name === event.stage);
          this.redraw(index + 1);
          this.firstLive = index + 1;
          this.drawnLines = 0;
          this.paused = true;
        }
        this.out.write(`${event.stage}: awaiting approval: ${event.comment}\n  decide with: service-pipelines approve ${event.executionId}  (or reject ${event.executionId})\n`);
        break;
      case 'approval-decided':
        this.paused = false;
        this.print(`${event.stage}: ${event.status.toLowerCase()} by ${event.by}`);
        break;
      case 'rollback-started':
        this.stage(event.stage).actions.push(
          { name: 'Rollback', runOrder: 98, status: 'PENDING', tail: [] },
          { name: 'RollbackVerification', runOrder: 99, status: 'PENDING', tail: [] },
        );
        this.print(`${event.stage}: rolling ${event.environment} back to its last good release (${event.reason})`);
        break;
      case 'rollback-finished':
        this.print(`${event.stage}: rollback ${event.status === 'SUCCEEDED' ? `done: ${event.environment} serves release ${event.release ?? '?'} again, verified by its acceptance tests` : 'FAILED'}`);
        break;
      case 'execution-finished':
        for (const stage of this.stages) {
          if (stage.status === 'PENDING') {
            stage.status = 'SKIPPED';
          }
          for (const action of stage.actions) {
            if (action.status === 'PENDING') {
              action.status = 'SKIPPED';
            }
          }
        }
        this.close();
        this.out.write(`execution ${event.executionId}: ${event.status} in ${formatDuration(event.durationMs)}${event.reason ? ` (${event.reason})` : ''}\n`);
        return;
      default:
        throw new Error(`the progress view does not know the event ${(event as { type: string }).type}`);
    }
    this.redraw();
  }

  /** Stop redrawing (the last frame stays on screen). */
  close(): void {
    if (this.closed) {
      return;
    }
    if (this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    if (this.options.live) {
      this.redraw();
      this.drawnLines = 0;
    }
    this.closed = true;
  }

  private stage(name: string): StageState {
    let stage = this.stages.find((s) => s.name === name);
    if (!stage) {
      stage = { name, status: 'PENDING', actions: [] };
      this.stages.push(stage);
    }
    return stage;
  }

  private action(stageName: string, name: string): ActionState {
    const stage = this.stage(stageName);
    let action = stage.actions.find((a) => a.name === name);
    if (!action) {
      action = { name, runOrder: 1, status: 'PENDING', tail: [] };
      stage.actions.push(action);
    }
    return action;
  }

  /** A line in both modes: above the live block on a terminal. */
  private print(text: string): void {
    this.clearBlock();
    this.out.write(`${text}\n`);
  }

  /** A line in plain mode only (the live block shows the same). */
  private plain(text: string): void {
    if (!this.options.live) {
      this.out.write(`${text}\n`);
    }
  }

  private clearBlock(): void {
    if (this.options.live && this.drawnLines > 0) {
      this.out.write(`\x1b[${this.drawnLines}F\x1b[0J`);
      this.drawnLines = 0;
    }
  }

  private redraw(end = this.stages.length): void {
    if (!this.options.live || this.paused || this.closed || this.stages.length === 0) {
      return;
    }
    const width = Math.max(40, (this.options.columns ?? 100) - 1);
    const cut = (text: string) => (text.length > width ? `${text.slice(0, width - 1)}…` : text);
    const now = this.now();
    const lines: string[] = [];
    for (const stage of this.stages.slice(this.firstLive, end)) {
      const took = stage.durationMs ?? (stage.startedAt !== undefined && stage.status === 'IN_PROGRESS' ? now - stage.startedAt : undefined);
      lines.push(cut(`${SYMBOLS[stage.status] ?? ' '} ${stage.name}${stage.environment ? ` [${stage.environment}]` : ''}  ${took !== undefined ? formatDuration(took) : ''}`.trimEnd()));
      if (stage.status === 'PENDING' || stage.status === 'SKIPPED') {
        continue;
      }
      for (const action of stage.actions) {
        const running = action.status === 'IN_PROGRESS' && action.startedAt !== undefined;
        const actionTook = action.durationMs ?? (running ? now - action.startedAt! : undefined);
        const detail = running && action.lastLine ? `  │ ${action.lastLine.trim()}` : action.reason && action.status !== 'SUCCEEDED' ? `  (${action.reason})` : '';
        lines.push(cut(`    ${SYMBOLS[action.status] ?? ' '} ${action.name}  ${actionTook !== undefined ? formatDuration(actionTook) : ''}${detail}`.trimEnd()));
      }
    }
    this.clearBlock();
    this.out.write(`${lines.join('\n')}\n`);
    this.drawnLines = lines.length;
  }
}
