/**
 * The webhook deliveries already acted on, by GitHub's `X-GitHub-Delivery` id, so that a
 * redelivery (GitHub's "Redeliver" button, or a retry after a timeout) does not start the same
 * run twice. Kept in SQLite beside the run history, so it survives a restart of `serve`, and
 * bounded: the oldest entries go once there are more than `capacity`.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

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
  /** What was done: `started 2 run(s)`, `ignored: ...`. */
  readonly outcome: string;
}

/** Remembers webhook deliveries. */
export class DeliveryLog {
  /** Open (or create) `<home>/webhooks.db`. */
  static open(home: string, options: DeliveryLogOptions = {}): DeliveryLog {
    mkdirSync(home, { recursive: true });
    const db = new Database(path.join(home, 'webhooks.db'), { timeout: 5_000 });
    db.pragma('journal_mode = WAL');
    db.exec(`CREATE TABLE IF NOT EXISTS deliveries (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      id TEXT NOT NULL UNIQUE,
      event TEXT NOT NULL,
      received_at INTEGER NOT NULL,
      outcome TEXT NOT NULL
    )`);
    return new DeliveryLog(db, options.capacity ?? 10_000);
  }

  private constructor(
    private readonly db: Database.Database,
    private readonly capacity: number,
  ) {}

  /**
   * Claim a delivery id: true the first time, false when it was seen already. Atomic, so two
   * concurrent deliveries of the same id cannot both win.
   */
  claim(id: string, event: string, at: number): boolean {
    return this.db
      .transaction(() => {
        const inserted = this.db
          .prepare(`INSERT INTO deliveries (id, event, received_at, outcome) VALUES (?, ?, ?, 'received') ON CONFLICT (id) DO NOTHING`)
          .run(id, event, at);
        if (inserted.changes === 0) {
          return false;
        }
        this.db.prepare(`DELETE FROM deliveries WHERE seq <= (SELECT MAX(seq) FROM deliveries) - ?`).run(this.capacity);
        return true;
      })
      .immediate();
  }

  /** Record what was done with a claimed delivery. */
  settle(id: string, outcome: string): void {
    this.db.prepare(`UPDATE deliveries SET outcome = ? WHERE id = ?`).run(outcome, id);
  }

  /** Forget a claimed delivery whose handling failed, so that GitHub's redelivery is acted on. */
  release(id: string): void {
    this.db.prepare(`DELETE FROM deliveries WHERE id = ?`).run(id);
  }

  /** A remembered delivery. */
  get(id: string): DeliveryRecord | undefined {
    const row = this.db.prepare(`SELECT id, event, received_at, outcome FROM deliveries WHERE id = ?`).get(id) as
      | { id: string; event: string; received_at: number; outcome: string }
      | undefined;
    return row && { id: row.id, event: row.event, receivedAt: row.received_at, outcome: row.outcome };
  }

  /** How many deliveries are remembered. */
  get size(): number {
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM deliveries`).get() as { n: number }).n;
  }

  close(): void {
    this.db.close();
  }
}
