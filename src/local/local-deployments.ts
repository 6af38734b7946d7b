/**
 * What the engine needs of the local deployments (the environments served on this machine, see
 * `src/steps/local-deployments.ts`): their records, the notes of a release, and stopping the
 * servers an execution started. A port, so that the engine's tests need no servers; the default
 * goes over the history's own records.
 */
import type { Clock } from '../runtime/clock.js';
import type { ProcessTable } from '../runtime/process.js';
import { stopServersStartedBy, type DeploymentRecord } from '../steps/local-deployments.js';
import { emulationNotes, readRelease } from '../steps/local-releases.js';
import { StoredDeploymentRecords } from './deployment-records.js';
import type { StateStore } from './state-store.js';

/** The local deployments, as the engine uses them. */
export interface LocalDeployments {
  /** Every deployment with a record. */
  list(): Promise<DeploymentRecord[]>;
  /**
   * Record that the deployment's current release, which `executionId` made current, passed its
   * acceptance tests. Returns it, or undefined when the current release is not that execution's.
   */
  markGood(service: string, environment: string, executionId: string, at: number): Promise<number | undefined>;
  /** What a release's local deployment emulates of the service's events, and what it does not, for people. */
  notesOf(service: string, environment: string, release: number): Promise<string[]>;
  /** Stop the servers an execution started; returns `<service>/<env>` of each stopped. */
  stopServersStartedBy(executionId: string): Promise<string[]>;
}

/** The local deployments of a state folder, over the records of its history. */
export function storedLocalDeployments(props: { readonly home: string; readonly store: StateStore; readonly processTable: ProcessTable; readonly clock: Clock }): LocalDeployments {
  const records = new StoredDeploymentRecords(props.store);
  return {
    list: () => records.list(),
    markGood: (service, environment, executionId, at) => records.markGood(service, environment, executionId, at),
    notesOf: async (service, environment, release) => {
      const info = await readRelease(props.home, service, environment, release);
      return info ? emulationNotes(info) : [];
    },
    stopServersStartedBy: (executionId) => stopServersStartedBy(props.home, executionId, props),
  };
}
