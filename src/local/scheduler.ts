/**
 * The scheduler: what runs when, over a plan's stages, and what the run's outcome is. Stages in
 * order, each entered once the execution mode lets it in; a stage's actions by runOrder (the same
 * runOrder side by side), a failed group ending the stage (its parallel actions still finish, the
 * later ones are skipped); a failed stage with `onFailure: ROLLBACK` rolled back (its rollback
 * actions in runOrder, up to the first failure) before the run fails.
 *
 * It does nothing itself: every effect (locks, records, processes, deployments) is a port the
 * engine gives it, so that its rules are tested with stub ports and no process at all.
 */
import type { PlanAction, PlanStage } from '../model/plan-schema.js';

/** How an action went. */
export interface ActionOutcome {
  readonly ok: boolean;
  /** Why it failed (or, for some, how it succeeded: the commit, the approver). */
  readonly reason?: string;
}

/** Whether the execution got into a stage. */
export type StageEntry = { readonly entered: true } | { readonly entered: false; readonly status: 'SUPERSEDED' | 'STOPPED'; readonly reason: string };

/** How a rollback went. */
export interface RollbackOutcome {
  readonly ok: boolean;
  /** Why it failed: `<action>: <reason>`. */
  readonly failure?: string;
  /** The release the environment serves after it, when known. */
  readonly release?: number;
}

/** How the stages went: the execution's outcome. */
export interface ScheduleOutcome {
  readonly status: 'SUCCEEDED' | 'FAILED' | 'STOPPED' | 'SUPERSEDED';
  readonly reason?: string;
}

/** What the scheduler asks of the engine. */
export interface SchedulerPorts {
  /** Why the run was stopped, once it is (undefined while it goes). */
  stopReason(): string | undefined;
  /** Wait until the stage may be entered (locks, execution modes), and take it. */
  enterStage(stage: PlanStage): Promise<StageEntry>;
  stageStarted(stage: PlanStage): void;
  /** Run one action (`rollback`: one of the stage's rollback actions). Resolves to its outcome; never rejects. */
  runAction(stage: PlanStage, action: PlanAction, rollback: boolean): Promise<ActionOutcome>;
  /** Actions not run because an earlier group of their stage failed. */
  skipActions(stage: PlanStage, actions: readonly PlanAction[], reason: string): void;
  rollbackStarted(stage: PlanStage, reason: string): Promise<void> | void;
  /** The rollback ended; resolves to how it went, with the release served after it. */
  rollbackFinished(stage: PlanStage, outcome: { readonly ok: boolean; readonly failure?: string }): Promise<RollbackOutcome>;
  /** The stage ended (its lock released). */
  stageFinished(stage: PlanStage, outcome: ActionOutcome): void;
  /** A stage that deploys an environment succeeded: its deployment's release is now the good one. */
  deployStageSucceeded(stage: PlanStage): Promise<void>;
}

/** Run the stages in order (see the module comment). */
export async function runStages(stages: readonly PlanStage[], ports: SchedulerPorts): Promise<ScheduleOutcome> {
  for (const stage of stages) {
    const stopped = ports.stopReason();
    if (stopped !== undefined) {
      return { status: 'STOPPED', reason: stopped };
    }
    const entry = await ports.enterStage(stage);
    if (!entry.entered) {
      return { status: entry.status, reason: entry.reason };
    }
    ports.stageStarted(stage);
    const outcome = await runStage(stage, ports);
    let rollback: RollbackOutcome | undefined;
    if (!outcome.ok && stage.onFailure === 'ROLLBACK' && stage.environment && ports.stopReason() === undefined) {
      rollback = await rollBack(stage, outcome.reason ?? 'the stage failed', ports);
    }
    ports.stageFinished(stage, outcome);
    if (!outcome.ok) {
      const stoppedNow = ports.stopReason();
      if (stoppedNow !== undefined) {
        return { status: 'STOPPED', reason: stoppedNow };
      }
      const rolledBack = rollback
        ? rollback.ok
          ? `; rolled back to release ${rollback.release ?? '?'}`
          : `; the rollback failed too (${rollback.failure ?? 'no reason recorded'})`
        : '';
      return { status: 'FAILED', reason: `${stage.name} failed: ${outcome.reason ?? 'an action failed'}${rolledBack}` };
    }
    if (stage.environment && stage.actions.some((a) => a.kind === 'commands' && a.privilege === 'deploy')) {
      await ports.deployStageSucceeded(stage);
    }
  }
  return { status: 'SUCCEEDED' };
}

/** A stage's actions by runOrder; a failed group ends the stage, its parallel actions still finishing. */
async function runStage(stage: PlanStage, ports: SchedulerPorts): Promise<ActionOutcome> {
  for (const group of byRunOrder(stage.actions)) {
    const outcomes = await Promise.all(group.map((action) => ports.runAction(stage, action, false)));
    const failed = outcomes.findIndex((o) => !o.ok);
    if (failed >= 0) {
      const later = stage.actions.filter((a) => a.runOrder > group[0]!.runOrder);
      if (later.length) {
        ports.skipActions(stage, later, `not run: ${group[failed]!.name} failed`);
      }
      return { ok: false, reason: `${group[failed]!.name}: ${outcomes[failed]!.reason ?? 'failed'}` };
    }
  }
  return { ok: true };
}

/** The stage's rollback actions, one after another, up to the first that fails. */
async function rollBack(stage: PlanStage, reason: string, ports: SchedulerPorts): Promise<RollbackOutcome> {
  await ports.rollbackStarted(stage, reason);
  let ok = false;
  let failure = 'the plan says no way to roll this stage back';
  for (const action of [...(stage.rollback?.actions ?? [])].sort((a, b) => a.runOrder - b.runOrder)) {
    const outcome = await ports.runAction(stage, action, true);
    ok = outcome.ok;
    failure = `${action.name}: ${outcome.reason ?? 'failed'}`;
    if (!ok) break;
  }
  return ports.rollbackFinished(stage, ok ? { ok } : { ok, failure });
}

/** Actions grouped by runOrder, lowest first. */
export function byRunOrder<A extends Pick<PlanAction, 'runOrder'>>(actions: readonly A[]): A[][] {
  const orders = [...new Set(actions.map((a) => a.runOrder))].sort((a, b) => a - b);
  return orders.map((order) => actions.filter((a) => a.runOrder === order));
}
