/**
 * What the engine needs from the local stages (`src/steps/local-stages.ts`, the steps' side of
 * the contract) that touches processes: a seam, so tests of scheduling need no servers.
 */

/** The local stages, as the engine uses them. */
export interface LocalStagesPort {
  /** Stop the servers of the stages an execution started; returns `<service>/<env>` of each stopped. */
  stopStagesStartedBy(home: string, executionId: string): Promise<string[]>;
}
