/**
 * `service-pipelines serve`, assembled: the dashboard over the run history, GitHub webhooks
 * (with a secret), and the local branch watcher (with `watch`). Runs are started as
 * `service-pipelines run` processes in `cwd`, so they share the history the dashboard reads.
 */
import path from 'node:path';
import type { ValidConfig } from '../model/validate.js';
import type { Clock } from '../runtime/clock.js';
import type { Processes } from '../runtime/process.js';
import { StateStore } from '../local/state-store.js';
import { AccessGuard } from './access-guard.js';
import { startDashboardServer } from './dashboard-server.js';
import { DeliveryLog } from './delivery-log.js';
import { GitWatcher } from './git-watcher.js';
import { HistoryReader } from './history-reader.js';
import { RunQueue } from './run-queue.js';
import { CliRunStarter, type RunStarter } from './run-starter.js';
import { WebhookReceiver } from './webhook-receiver.js';

/** Environment variables `serve` reads its secrets from, and keeps from the runs it starts. */
export const SERVE_ENV = {
  webhookSecret: 'SERVICE_PIPELINES_WEBHOOK_SECRET',
  dashboardToken: 'SERVICE_PIPELINES_DASHBOARD_TOKEN',
} as const;

/** What `startServe` needs. */
export interface ServeOptions {
  readonly config: ValidConfig;
  /** The config file, absolute (the runs load it). */
  readonly configFile: string;
  /** The folder `source.path` is relative to. */
  readonly baseDir: string;
  /** The working folder: runs start here, and the history is its `.service-pipelines/`. */
  readonly cwd: string;
  /** The state folder. */
  readonly home: string;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default 8080; 0 picks a free port */
  readonly port?: number;
  /** The GitHub webhook's secret. @default - webhooks are refused (404) */
  readonly secret?: string;
  /** The dashboard's token. @default - none; required when `host` is not a loopback address */
  readonly token?: string;
  /** Watch the services' local branches. @default false */
  readonly watch?: boolean;
  /** @default 2000 */
  readonly watchIntervalMs?: number;
  /** The environment of the runs started (the server's secrets are removed from it). */
  readonly env: NodeJS.ProcessEnv;
  readonly processes: Processes;
  readonly clock: Clock;
  /** How runs start. @default - `service-pipelines run` processes (`CliRunStarter`) */
  readonly starter?: RunStarter;
  /** Where `serve` reports what it does, line by line. */
  readonly log: (line: string) => void;
  /** How often the live events look for changes, in ms. @default 250 */
  readonly pollMs?: number;
}

/** A running `serve`. */
export interface RunningServe {
  readonly url: string;
  readonly port: number;
  readonly starter: RunStarter;
  /** The runs this server recorded and started. */
  readonly runs: RunQueue;
  readonly watcher: GitWatcher | undefined;
  /**
   * Stop serving. The runs this server started and that are still going are stopped (they end
   * STOPPED in the history, as a run interrupted in a shell does): a run left behind would wait
   * for an approval nobody could give from the page. Runs accepted but not started yet end
   * STOPPED too; a redelivery of their webhook starts them.
   *
   * @returns how many runs were stopped (going or queued)
   */
  close(graceMs?: number): Promise<number>;
}

/** Start serving. Bad options (no token beyond loopback, a port in use) throw before anything listens. */
export async function startServe(options: ServeOptions): Promise<RunningServe> {
  const host = options.host ?? '127.0.0.1';
  const guard = new AccessGuard(host, options.token);
  const runEnv = { ...options.env };
  delete runEnv[SERVE_ENV.webhookSecret];
  delete runEnv[SERVE_ENV.dashboardToken];
  const starter =
    options.starter ??
    new CliRunStarter({
      processes: options.processes,
      configFile: options.configFile,
      cwd: options.cwd,
      env: runEnv,
      outputDir: path.join(options.home, 'serve', 'runs'),
      now: () => options.clock.now(),
    });
  const store = StateStore.open(options.home);
  let watcher: GitWatcher | undefined;
  try {
    const runs = new RunQueue({ store, config: options.config, configFile: options.configFile, baseDir: options.baseDir, starter, clock: options.clock });
    const webhooks =
      options.secret === undefined
        ? undefined
        : new WebhookReceiver({ secret: options.secret, services: options.config.services, runs, store, deliveries: DeliveryLog.open(store), clock: options.clock });
    const server = await startDashboardServer({
      host,
      port: options.port ?? 8080,
      guard,
      reader: new HistoryReader({ store, config: options.config, clock: options.clock }),
      ...(webhooks ? { webhooks } : {}),
      clock: options.clock,
      log: options.log,
      ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
    });
    if (options.watch) {
      watcher = new GitWatcher({
        services: options.config.services,
        baseDir: options.baseDir,
        processes: options.processes,
        clock: options.clock,
        starter: runs,
        log: options.log,
        ...(options.watchIntervalMs === undefined ? {} : { intervalMs: options.watchIntervalMs }),
      });
      watcher.start();
    }
    return {
      url: server.url,
      port: server.port,
      starter,
      runs,
      watcher,
      close: async (graceMs?: number) => {
        await watcher?.stop();
        await server.close();
        try {
          return await runs.stop(graceMs);
        } finally {
          store.close();
        }
      },
    };
  } catch (error) {
    store.close();
    throw error;
  }
}
