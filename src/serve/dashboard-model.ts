/**
 * What the dashboard and its JSON API show: plain, serializable shapes (the API's contract,
 * documented in docs/serve.md), and the interface of what reads them from the run history.
 */

/** An action of an execution. */
export interface ActionView {
  readonly name: string;
  readonly runOrder: number;
  readonly kind: 'source' | 'commands' | 'approval' | 'rollback';
  readonly step: string | null;
  readonly status: string;
  readonly statusReason: string | null;
  readonly exitCode: number | null;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  /** Milliseconds it ran (until now while it runs); null before it starts. */
  readonly durationMs: number | null;
  /** Whether it has a log to read (commands and rollbacks, once started). */
  readonly hasLog: boolean;
}

/** A stage of an execution. */
export interface StageView {
  readonly name: string;
  readonly environment: string | null;
  readonly status: string;
  readonly statusReason: string | null;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  readonly durationMs: number | null;
  readonly actions: readonly ActionView[];
}

/** An approval of an execution. */
export interface ApprovalView {
  readonly stage: string;
  readonly action: string;
  readonly status: string;
  readonly comment: string;
  readonly requestedAt: number;
  readonly decidedAt: number | null;
  readonly decidedBy: string | null;
  readonly summary: string | null;
}

/** An execution with its stages and actions. */
export interface ExecutionView {
  readonly id: string;
  readonly pipeline: string;
  readonly service: string;
  readonly trigger: 'push' | 'pull-request';
  readonly status: string;
  readonly statusReason: string | null;
  readonly sourceRevision: string | null;
  readonly sourceDirty: boolean;
  readonly startedAt: number;
  readonly finishedAt: number | null;
  readonly durationMs: number;
  readonly stages: readonly StageView[];
}

/** An execution with its approvals and artifacts: the execution page. */
export interface ExecutionDetail extends ExecutionView {
  readonly approvals: readonly ApprovalView[];
  readonly artifacts: ReadonlyArray<{ readonly name: string; readonly digest: string; readonly bytes: number; readonly files: number; readonly producedBy: string }>;
}

/** A pipeline of the config (or of the history), with its latest execution. */
export interface PipelineView {
  readonly name: string;
  readonly service: string;
  readonly trigger: 'push' | 'pull-request';
  /** Whether the current config still defines it (a pipeline removed from the config keeps its history). */
  readonly configured: boolean;
  /** Its stages as planned, with their actions' names: shown before the first run. */
  readonly plannedStages: ReadonlyArray<{ readonly name: string; readonly actions: readonly string[] }>;
  readonly latest: ExecutionView | null;
}

/** A piece of an action's log. */
export interface LogChunk {
  /** The text from `offset` (UTF-8 bytes), in whole lines. */
  readonly text: string;
  readonly offset: number;
  /** Where the next read starts. */
  readonly nextOffset: number;
  /** Whether the action ended and this is the end of its log. */
  readonly complete: boolean;
}

/** A decision on an approval, from the page or a script. */
export interface ApprovalDecisionInput {
  readonly decision: 'approve' | 'reject';
  /** @default '' */
  readonly comment?: string;
  /** Which approval, when several are pending. @default - the only pending one */
  readonly stage?: string;
  /** @default - the only pending one of `stage` */
  readonly action?: string;
  /** Who decided, as recorded. */
  readonly by: string;
}

/** How a decision went. */
export type ApprovalOutcome =
  | { readonly kind: 'decided'; readonly approval: ApprovalView }
  | { readonly kind: 'not-found' }
  | { readonly kind: 'not-pending'; readonly message: string };

/** Reads the run history for the dashboard, and records approval decisions. */
export interface ExecutionsReader {
  /** Every pipeline with its latest execution. */
  pipelines(): PipelineView[];
  /** Executions, newest first. */
  executions(filter: { readonly pipeline?: string; readonly limit: number }): ExecutionView[];
  /** One execution, by id or unique id prefix; undefined when there is none. */
  execution(id: string): ExecutionDetail | undefined;
  /** An action's log from a byte offset; undefined when the execution or action does not exist. */
  readLog(executionId: string, stage: string, action: string, offset: number): Promise<LogChunk | undefined>;
  /** Decide a pending approval, as `service-pipelines approve|reject` does. */
  decideApproval(executionId: string, input: ApprovalDecisionInput): ApprovalOutcome;
}

/** Final statuses: the execution will not change any more. */
export const FINAL_EXECUTION_STATUSES: ReadonlySet<string> = new Set(['SUCCEEDED', 'FAILED', 'SUPERSEDED', 'STOPPED']);
