/**
 * What a local run reports as it goes. The CLI turns these into live progress, plain lines or
 * nothing (with `--json`, which prints the execution's document at the end instead).
 */
import type { LogLine } from './executor/types.js';

/** A stage and its actions, as announced at the start. */
export interface AnnouncedStage {
  readonly name: string;
  readonly environment?: string;
  readonly actions: ReadonlyArray<{ readonly name: string; readonly runOrder: number; readonly kind: string }>;
}

/** Events of a run, in the order they happen. */
export type RunEvent =
  | { readonly type: 'execution-started'; readonly executionId: string; readonly pipeline: string; readonly home: string; readonly stages: readonly AnnouncedStage[]; readonly at: number }
  | { readonly type: 'notice'; readonly message: string }
  | { readonly type: 'source'; readonly revision: string; readonly commit?: string; readonly dirty: boolean; readonly digest: string }
  | { readonly type: 'stage-waiting'; readonly stage: string; readonly holder?: string }
  | { readonly type: 'stage-started'; readonly stage: string; readonly at: number }
  | { readonly type: 'action-started'; readonly stage: string; readonly action: string; readonly at: number }
  | { readonly type: 'action-log'; readonly stage: string; readonly action: string; readonly line: LogLine }
  | {
      readonly type: 'action-finished';
      readonly stage: string;
      readonly action: string;
      readonly status: string;
      readonly durationMs: number;
      readonly reason?: string;
    }
  | { readonly type: 'stage-finished'; readonly stage: string; readonly status: string; readonly durationMs: number; readonly reason?: string }
  | { readonly type: 'approval-waiting'; readonly executionId: string; readonly stage: string; readonly action: string; readonly comment: string }
  | { readonly type: 'approval-decided'; readonly stage: string; readonly action: string; readonly status: 'APPROVED' | 'REJECTED'; readonly by: string }
  | { readonly type: 'rollback-started'; readonly stage: string; readonly environment: string; readonly reason: string }
  | { readonly type: 'rollback-finished'; readonly stage: string; readonly environment: string; readonly status: 'SUCCEEDED' | 'FAILED'; readonly release?: number }
  | { readonly type: 'execution-finished'; readonly executionId: string; readonly status: string; readonly reason?: string; readonly durationMs: number };
