/**
 * What the runners of one execution share: who it is, where its state goes, the artifacts it
 * produced so far, and the seams. One runner per kind of action (source, commands, approval).
 */
import type { PipelinePlan, PlanAction, PlanStage } from '../../model/plan-schema.js';
import type { Clock } from '../../runtime/clock.js';
import type { Processes, ProcessTable } from '../../runtime/process.js';
import type { ArtifactStore, StoredArtifact } from '../artifact-store.js';
import type { RunRecorder } from '../run-recorder.js';
import type { ActionOutcome } from '../scheduler.js';
import type { StateStore } from '../state-store.js';

/** One execution, as its runners see it. */
export interface RunContext {
  readonly executionId: string;
  readonly plan: PipelinePlan;
  /** The state folder, absolute. */
  readonly home: string;
  readonly store: StateStore;
  readonly recorder: RunRecorder;
  readonly artifactStore: ArtifactStore;
  /** The artifacts produced so far, by name. */
  readonly artifacts: Map<string, StoredArtifact>;
  /** What the Source action found: `CODEBUILD_RESOLVED_SOURCE_VERSION` of the later actions. */
  readonly source: { resolvedVersion: string };
  readonly clock: Clock;
  readonly processes: Processes;
  readonly processTable: ProcessTable;
  /** Aborted when the run is stopped. */
  readonly signal: AbortSignal;
  /** Why the run was stopped (`stopped (interrupted by SIGINT)`). */
  stopReason(): string;
}

/** Runs one kind of action. */
export interface ActionRunner<A extends PlanAction> {
  run(stage: PlanStage, action: A): Promise<ActionOutcome>;
}

/** An error's message. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A produced artifact, by name. */
export function artifactOf(context: RunContext, name: string): StoredArtifact {
  const artifact = context.artifacts.get(name);
  if (!artifact) {
    throw new Error(`artifact ${name} was not produced by an earlier action`);
  }
  return artifact;
}
