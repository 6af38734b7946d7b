/**
 * The webhook deliveries already acted on, by GitHub's `X-GitHub-Delivery` id, so that a
 * redelivery (GitHub's "Redeliver" button, or a retry after a timeout) does not start the same
 * run twice. Kept in the run history (`state.db`), so that a delivery and the runs it queues are
 * recorded in one transaction and survive a restart of `serve`; bounded: the oldest entries go
 * once there are more than `capacity`.
 */
import { existsSync, renameSync } from 'node:fs';
import path from 'node:path';
import type { StateStore } from '../local/state-store.js';

/** What `DeliveryLog.open` takes. */
export interface DeliveryLogOptions {
  /**
   * How many deliveries are remembered. GitHub redelivers on request for up to 3 days; this
   * many ids cover far more than that for a local server.
   *
   * @default 10000
   */
  readonly capacity?: number;
}

/** A remembered delivery. */
export interface DeliveryRecord {
  readonly id: string;
  readonly event: string;
  readonly receivedAt: number;
  /** What was done: `queued 2 run(s)`, `ignored: ...`. */
  readonly outcome: string;
}

/** Where earlier versions kept the deliveries, beside the history. */
const LEGACY_FILE = 'webhooks.db';

/** Remembers webhook deliveries, in the run history's database. */
export class DeliveryLog {
  /**
   * The deliveries of a history. Those an earlier version kept in `webhooks.db` are taken over
   * once (the file is then renamed `webhooks.db.imported`, never deleted).
   */
  static open(store: StateStore, options: DeliveryLogOptions = {}): DeliveryLog {
    const log = new DeliveryLog(store, options.capacity ?? 10_000);
    log.importLegacy();
    return log;
  }

  private constructor(
    private readonly store: StateStore,
    private readonly capacity: number,
  ) {}

  private get db() {
    return this.store.sqlite;
  }

  /**
   * Claim a delivery id: true the first time, false when it was seen already. Atomic, so two
   * concurrent deliveries of the same id cannot both win. Call it inside the transaction that
   * records what the delivery does.
   */
  claim(id: string, event: string, at: number): boolean {
    return this.store.transaction(() => {
      const inserted = this.db
        .prepare(`INSERT INTO webhook_deliveries (id, event, received_at, outcome) VALUES (?, ?, ?, 'received') ON CONFLICT (id) DO NOTHING`)
        .run(id, event, at);
      if (inserted.changes === 0) {
        return false;
      }
      this.db.prepare(`DELETE FROM webhook_deliveries WHERE seq <= (SELECT MAX(seq) FROM webhook_deliveries) - ?`).run(this.capacity);
      return true;
    });
  }

  /** Record what was done with a claimed delivery. */
  settle(id: string, outcome: string): void {
    this.db.prepare(`UPDATE webhook_deliveries SET outcome = ? WHERE id = ?`).run(outcome, id);
  }

  /** A remembered delivery. */
  get(id: string): DeliveryRecord | undefined {
    const row = this.db.prepare(`SELECT id, event, received_at, outcome FROM webhook_deliveries WHERE id = ?`).get(id) as
      | { id: string; event: string; received_at: number; outcome: string }
      | undefined;
    return row && { id: row.id, event: row.event, receivedAt: row.received_at, outcome: row.outcome };
  }

  /** How many deliveries are remembered. */
  get size(): number {
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM webhook_deliveries`).get() as { n: number }).n;
  }

  private importLegacy(): void {
    const legacy = path.join(this.store.home, LEGACY_FILE);
    if (this.store.readOnly || !existsSync(legacy)) {
      return;
    }
    this.db.prepare(`ATTACH DATABASE ? AS legacy`).run(legacy);
    try {
      this.store.transaction(() => {
        this.db.exec(
          `INSERT OR IGNORE INTO webhook_deliveries (id, event, received_at, outcome)
           SELECT id, event, received_at, outcome FROM legacy.deliveries ORDER BY seq`,
        );
      });
    } finally {
      this.db.prepare(`DETACH DATABASE legacy`).run();
    }
    for (const suffix of ['', '-wal', '-shm']) {
      if (existsSync(`${legacy}${suffix}`)) renameSync(`${legacy}${suffix}`, `${legacy}${suffix}.imported`);
    }
  }
}
