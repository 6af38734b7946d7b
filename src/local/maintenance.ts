/**
 * Maintenance locks: `gc` holds one while it removes stored artifacts, releases and installs, and
 * no run starts meanwhile (a run would reuse what is being removed). A lock whose holder died is
 * taken over.
 */
import type { ProcessTable } from '../runtime/process.js';
import type { MaintenanceRecord } from './state-store.js';

/** The lock `gc` holds. */
export const GC_LOCK = 'gc';

/** A lock held from another machine or container counts for this long at most. */
export const FOREIGN_MAINTENANCE_MS = 60 * 60_000;

/** Whether the holder of a maintenance lock is still at it. */
export function maintenanceHolderAlive(holder: MaintenanceRecord, table: ProcessTable, now: number): boolean {
  return holder.processScope === table.scope() ? table.isAlive(holder.process) : now - holder.startedAt < FOREIGN_MAINTENANCE_MS;
}
