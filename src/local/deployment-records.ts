/**
 * The deployment records (`DeploymentRecords`, the steps' port) kept in the run history's
 * database: `deployments` and `deployment_changes` (see `deployments-migration.ts`). Every change
 * is one transaction, and one that an ended execution asks for is refused in the same transaction
 * that reads its record.
 */
import type { DeployedRelease, DeploymentRecord, DeploymentRecords, OpenDeploymentRecords } from '../steps/local-deployments.js';
import { StateStore } from './state-store.js';

interface ChangeRow {
  seq: number;
  service: string;
  environment: string;
  release: number;
  package_sha256: string | null;
  execution_id: string | null;
  at: number;
  previous_change: number | null;
  good_at: number | null;
}

/** The records of a history that is open. */
export class StoredDeploymentRecords implements DeploymentRecords {
  constructor(private readonly store: StateStore) {}

  async list(): Promise<DeploymentRecord[]> {
    const rows = this.db.prepare(`SELECT service, environment FROM deployments ORDER BY service, environment`).all() as Array<{ service: string; environment: string }>;
    return rows.map((row) => this.recordOf(row.service, row.environment)!);
  }

  async get(service: string, environment: string): Promise<DeploymentRecord | undefined> {
    return this.recordOf(service, environment);
  }

  async makeCurrent(change: { service: string; environment: string; release: number; packageSha256: string; executionId?: string; at: number }): Promise<boolean> {
    return this.store.transaction(() => {
      if (change.executionId !== undefined) {
        const execution = this.db.prepare(`SELECT status FROM executions WHERE id = ?`).get(change.executionId) as { status: string } | undefined;
        // Refused only when its record says it is over: a deploy run by hand names no recorded execution.
        if (execution && !['QUEUED', 'IN_PROGRESS', 'AWAITING_APPROVAL'].includes(execution.status)) {
          return false;
        }
      }
      const current = this.pointers(change.service, change.environment);
      const seq = Number(
        this.db
          .prepare(`INSERT INTO deployment_changes (service, environment, release, package_sha256, execution_id, at, previous_change) VALUES (?, ?, ?, ?, ?, ?, ?)`)
          .run(change.service, change.environment, change.release, change.packageSha256, change.executionId ?? null, change.at, current?.current_change ?? null).lastInsertRowid,
      );
      this.db
        .prepare(
          `INSERT INTO deployments (service, environment, current_change) VALUES (?, ?, ?)
           ON CONFLICT (service, environment) DO UPDATE SET current_change = excluded.current_change`,
        )
        .run(change.service, change.environment, seq);
      return true;
    });
  }

  async markGood(service: string, environment: string, executionId: string, at: number): Promise<number | undefined> {
    return this.store.transaction(() => {
      const current = this.change(this.pointers(service, environment)?.current_change ?? null);
      if (!current || current.execution_id !== executionId) {
        return undefined;
      }
      this.db.prepare(`UPDATE deployment_changes SET good_at = ? WHERE seq = ?`).run(at, current.seq);
      this.db.prepare(`UPDATE deployments SET last_good_change = ? WHERE service = ? AND environment = ?`).run(current.seq, service, environment);
      return current.release;
    });
  }

  async revertChangesOf(executionId: string, environments?: readonly string[]): Promise<Array<{ service: string; environment: string; restored?: number }>> {
    return this.store.transaction(() => revertDeploymentChanges(this.store, executionId, environments));
  }

  async releasesDeployedBy(executionId: string): Promise<DeployedRelease[]> {
    if (!this.hasTable('deployment_changes')) {
      // A history read as it is, not migrated (a read-only folder): its releases are in the table of old.
      return (this.db.prepare(`SELECT * FROM releases WHERE execution_id = ? ORDER BY deployed_at`).all(executionId) as Array<Record<string, unknown>>).map((r) => ({
        service: String(r.service),
        environment: String(r.environment),
        release: Number(r.release),
        packageSha256: r.package_sha256 === null ? null : String(r.package_sha256),
        good: Number(r.good) === 1,
      }));
    }
    return (this.db.prepare(`SELECT * FROM deployment_changes WHERE execution_id = ? ORDER BY seq`).all(executionId) as ChangeRow[]).map((r) => ({
      service: r.service,
      environment: r.environment,
      release: r.release,
      packageSha256: r.package_sha256,
      good: r.good_at !== null,
    }));
  }

  private get db() {
    return this.store.sqlite;
  }

  private pointers(service: string, environment: string): { current_change: number | null; last_good_change: number | null } | undefined {
    return this.db.prepare(`SELECT current_change, last_good_change FROM deployments WHERE service = ? AND environment = ?`).get(service, environment) as
      | { current_change: number | null; last_good_change: number | null }
      | undefined;
  }

  private change(seq: number | null): ChangeRow | undefined {
    return changeOf(this.store, seq);
  }

  private recordOf(service: string, environment: string): DeploymentRecord | undefined {
    const pointers = this.pointers(service, environment);
    if (!pointers) {
      return undefined;
    }
    const current = this.change(pointers.current_change);
    const lastGood = this.change(pointers.last_good_change);
    return {
      service,
      environment,
      ...(current
        ? {
            current: {
              release: current.release,
              packageSha256: current.package_sha256 ?? '',
              ...(current.execution_id ? { executionId: current.execution_id } : {}),
              deployedAt: new Date(current.at).toISOString(),
            },
          }
        : {}),
      ...(lastGood ? { lastGood: { release: lastGood.release, executionId: lastGood.execution_id ?? '', at: new Date(lastGood.good_at ?? lastGood.at).toISOString() } } : {}),
    };
  }

  private hasTable(name: string): boolean {
    return this.db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(name) !== undefined;
  }
}

/**
 * Give each deployment (of `environments`, else any) whose current release `executionId` made
 * current what was current before the execution first changed it; call it in a transaction. For
 * a dead execution's recovery: what it made current was never verified.
 */
export function revertDeploymentChanges(store: StateStore, executionId: string, environments?: readonly string[]): Array<{ service: string; environment: string; restored?: number }> {
  const reverted: Array<{ service: string; environment: string; restored?: number }> = [];
  const rows = store.sqlite.prepare(`SELECT service, environment, current_change FROM deployments ORDER BY service, environment`).all() as Array<{ service: string; environment: string; current_change: number | null }>;
  for (const row of rows) {
    let change = changeOf(store, row.current_change);
    if (change?.execution_id !== executionId || (environments !== undefined && !environments.includes(row.environment))) continue;
    // Back past every change of its own.
    while (change && change.execution_id === executionId) {
      change = changeOf(store, change.previous_change);
    }
    store.sqlite.prepare(`UPDATE deployments SET current_change = ? WHERE service = ? AND environment = ?`).run(change?.seq ?? null, row.service, row.environment);
    reverted.push({ service: row.service, environment: row.environment, ...(change ? { restored: change.release } : {}) });
  }
  return reverted;
}

function changeOf(store: StateStore, seq: number | null): ChangeRow | undefined {
  return seq === null ? undefined : (store.sqlite.prepare(`SELECT * FROM deployment_changes WHERE seq = ?`).get(seq) as ChangeRow | undefined);
}

/** Open the records of a state folder's history (for `service-pipelines step deploy|rollback` and `up`); close them after. */
export const openDeploymentRecords: OpenDeploymentRecords = async (home) => {
  const store = StateStore.open(home);
  const records = new StoredDeploymentRecords(store);
  return {
    list: () => records.list(),
    get: (service, environment) => records.get(service, environment),
    makeCurrent: (change) => records.makeCurrent(change),
    markGood: (service, environment, executionId, at) => records.markGood(service, environment, executionId, at),
    revertChangesOf: (executionId, environments) => records.revertChangesOf(executionId, environments),
    releasesDeployedBy: (executionId) => records.releasesDeployedBy(executionId),
    close: () => store.close(),
  };
};
