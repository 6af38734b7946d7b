/**
 * Manual approvals: decided at once (`--approve`/`--reject`), or asked on a terminal, or waited
 * for until `service-pipelines approve|reject` (or the dashboard) decides, whichever comes first.
 */
import type { ApprovalPlanAction, PlanStage } from '../../model/plan-schema.js';
import type { RunNotification } from '../notifier.js';
import type { ActionOutcome } from '../scheduler.js';
import type { ActionRunner, RunContext } from './run-context.js';

/** A manual approval to decide. */
export interface ApprovalRequest {
  readonly executionId: string;
  readonly pipeline: string;
  readonly stage: string;
  readonly action: string;
  readonly environment: string;
  readonly comment: string;
}

/** A decision on an approval. */
export interface ApprovalDecision {
  readonly status: 'APPROVED' | 'REJECTED';
  /** Why, in the approver's words. */
  readonly summary?: string;
}

/** Asks a person (on a terminal) to decide; aborted when the decision came from elsewhere. */
export type ApprovalPrompt = (request: ApprovalRequest, signal: AbortSignal) => Promise<ApprovalDecision>;

/** How approvals are decided. */
export interface ApprovalPolicy {
  /** Decide every approval at once. @default - ask `prompt`, and wait */
  readonly approval?: 'approve' | 'reject';
  readonly prompt?: ApprovalPrompt;
  /** How often the history is looked at for a decision made elsewhere, in ms. */
  readonly pollMs: number;
  /** Tells the webhook a run waits for approval. */
  readonly notify: (notification: RunNotification) => Promise<void>;
}

/** Runs approval actions. */
export class ApprovalRunner implements ActionRunner<ApprovalPlanAction> {
  constructor(
    private readonly context: RunContext,
    private readonly policy: ApprovalPolicy,
  ) {}

  async run(stage: PlanStage, action: ApprovalPlanAction): Promise<ActionOutcome> {
    const { store, recorder, executionId, clock } = this.context;
    const startedAt = recorder.actionStarted(stage.name, action.name);
    store.requestApproval(executionId, stage.name, action.name, action.comment, startedAt);
    if (this.policy.approval) {
      const status = this.policy.approval === 'approve' ? 'APPROVED' : 'REJECTED';
      store.decideApproval(executionId, stage.name, action.name, { status, by: `--${this.policy.approval}`, at: clock.now() });
    } else {
      await this.waitForDecision(stage, action);
    }
    const decided = store.approval(executionId, stage.name, action.name);
    if (!decided || decided.status === 'PENDING') {
      return recorder.actionFinished(stage.name, action.name, startedAt, { ok: false, reason: 'stopped while awaiting approval' });
    }
    const approved = decided.status === 'APPROVED';
    recorder.emit({ type: 'approval-decided', stage: stage.name, action: action.name, status: approved ? 'APPROVED' : 'REJECTED', by: decided.decidedBy ?? 'unknown' });
    const how = `${approved ? 'approved' : 'rejected'} by ${decided.decidedBy ?? 'unknown'}${decided.summary ? `: ${decided.summary}` : ''}`;
    const outcome = recorder.actionFinished(stage.name, action.name, startedAt, { ok: approved, reason: how });
    if (!approved) {
      store.updateAction(executionId, stage.name, action.name, { status: 'REJECTED' });
    }
    return outcome;
  }

  /** Wait for a decision from the terminal prompt or from `service-pipelines approve|reject` in another shell. */
  private async waitForDecision(stage: PlanStage, action: ApprovalPlanAction): Promise<void> {
    const { store, recorder, executionId, clock, plan, signal } = this.context;
    const request: ApprovalRequest = { executionId, pipeline: plan.pipelineName, stage: stage.name, action: action.name, environment: action.environment, comment: action.comment };
    recorder.emit({ type: 'approval-waiting', executionId, stage: stage.name, action: action.name, comment: action.comment });
    await this.policy.notify({
      kind: 'approval-waiting',
      pipeline: plan.pipelineName,
      executionId,
      detail: `${action.comment} Decide with \`service-pipelines approve ${executionId}\` or \`service-pipelines reject ${executionId}\`.`,
    });
    const decided = new AbortController();
    const stop = () => decided.abort();
    signal.addEventListener('abort', stop, { once: true });
    try {
      this.policy
        .prompt?.(request, decided.signal)
        .then((decision) => {
          store.decideApproval(executionId, stage.name, action.name, {
            status: decision.status,
            by: 'terminal',
            at: clock.now(),
            ...(decision.summary ? { summary: decision.summary } : {}),
          });
        })
        .catch(() => {
          // No answer on the terminal (closed, or the decision came from elsewhere): keep waiting for one.
        });
      while (!decided.signal.aborted && store.approval(executionId, stage.name, action.name)?.status === 'PENDING') {
        await clock.sleep(this.policy.pollMs, decided.signal);
      }
    } finally {
      decided.abort();
      signal.removeEventListener('abort', stop);
    }
  }
}
