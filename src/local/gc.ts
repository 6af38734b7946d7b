/**
 * `service-pipelines gc`: prune the state folder. Kept: what the last `keep` executions of each
 * pipeline (and every run still going) use, and every release a local stage may serve or roll
 * back to: current, last good, being served. Gone: the rest of
 *
 * - `runs/<id>/`: workspaces of older executions (their logs, `runs/<id>/logs/`, are history: they stay);
 * - `artifacts/`: stored artifacts no kept execution produced, and the file contents only they held;
 * - `stages/<service>/<env>/releases/<n>/`: releases no kept execution deployed;
 * - `cache/<key>/`: dependency installs no kept execution or kept release uses;
 * - `serve/runs/`: the output of runs no longer kept; leftovers of interrupted writes.
 *
 * The history itself (`state.db`) is never pruned. The artifact store, releases and installs are
 * left alone while a run is going (any stored artifact may be the one it is about to reuse), and
 * a run that starts during `gc` waits for it (the `gc` maintenance lock).
 */
import { existsSync, lstatSync, readdirSync, realpathSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { systemClock, type Clock } from '../runtime/clock.js';
import { nodeProcessTable, type ProcessTable } from '../runtime/process.js';
import { InstallCache } from '../steps/install-cache.js';
import { listDeployments } from '../steps/local-deployments.js';
import { deploymentDirectory, readRelease } from '../steps/local-releases.js';
import type { ArtifactStore} from './artifact-store.js';
import { removeReadOnly } from './artifact-store.js';
import { StoredDeploymentRecords } from './deployment-records.js';
import { openHistory } from './history.js';
import type { LocalDeployments } from './local-deployments.js';
import { GC_LOCK, maintenanceHolderAlive } from './maintenance.js';
import { stateFolderSize } from './state-size.js';
import type { ExecutionRecord, MaintenanceRecord, StateStore } from './state-store.js';

/** How many executions of each pipeline `gc` keeps by default. */
export const DEFAULT_KEEP = 10;

/** What `collectGarbage` needs. */
export interface GcOptions {
  /** The state folder. */
  readonly home: string;
  /** Executions kept per pipeline. @default DEFAULT_KEEP */
  readonly keep?: number;
  /** Only say what would go. @default false */
  readonly dryRun?: boolean;
  /** @default systemClock */
  readonly clock?: Clock;
  /** @default nodeProcessTable */
  readonly processTable?: ProcessTable;
  /** Stops the servers a dead run left (the history is repaired first). @default - the local deployments of `home` */
  readonly deployments?: LocalDeployments;
}

/** What goes: one kind of thing. */
export type GcKind = 'run folder' | 'serve output' | 'artifact' | 'artifact content' | 'release' | 'install' | 'leftover';

/** One thing that goes. */
export interface GcItem {
  readonly kind: GcKind;
  readonly path: string;
}

/** What `gc` did, or would do. */
export interface GcReport {
  readonly home: string;
  readonly dryRun: boolean;
  /** Executions kept per pipeline. */
  readonly keep: number;
  /** The executions kept (the last `keep` of each pipeline, and those still going). */
  readonly keptExecutions: number;
  readonly items: readonly GcItem[];
  /** The disk space the items free (files still linked from what stays count nothing). */
  readonly bytes: number;
  /** The items by kind: how many, and the disk space they free. */
  readonly byKind: ReadonlyArray<{ readonly kind: GcKind; readonly count: number; readonly bytes: number }>;
  /** The state folder's size before, and (unless a dry run) after. */
  readonly before: number;
  readonly after: number | null;
  /** What was left alone, and why. */
  readonly notes: readonly string[];
}

/** Prune the state folder (see the module comment). */
export async function collectGarbage(options: GcOptions): Promise<GcReport> {
  const home = path.resolve(options.home);
  const keep = options.keep ?? DEFAULT_KEEP;
  const clock = options.clock ?? systemClock;
  const table = options.processTable ?? nodeProcessTable;
  const dryRun = options.dryRun ?? false;
  const history = await openHistory({ home, clock, processTable: table, ...(options.deployments ? { deployments: options.deployments } : {}) });
  if (!history) {
    return { home, dryRun, keep, keptExecutions: 0, items: [], bytes: 0, byKind: [], before: existsSync(home) ? stateFolderSize(home) : 0, after: null, notes: ['no local runs recorded here: nothing to prune'] };
  }
  const { store } = history;
  const notes: string[] = [];
  let locked = false;
  try {
    const before = stateFolderSize(home);
    // The store, releases and installs only while no run goes, and none starts: the lock says so.
    const me: MaintenanceRecord = { name: GC_LOCK, process: table.identify(process.pid) ?? { pid: process.pid }, processScope: table.scope(), startedAt: clock.now() };
    let storeFree = store.activeExecutions().length === 0;
    if (storeFree && !dryRun) {
      const taken = store.tryStartMaintenance(me, () => {
        const holder = store.maintenance(GC_LOCK);
        if (holder && !maintenanceHolderAlive(holder, table, clock.now())) store.endMaintenance(GC_LOCK);
        return store.activeExecutions().length === 0;
      });
      locked = taken.started;
      storeFree = locked;
      if (!taken.started && taken.holder) notes.push(`another gc (pid ${taken.holder.process.pid}) is at work: stored artifacts, releases and installs left alone`);
    }
    const active = store.activeExecutions();
    if (active.length) {
      notes.push(`${active.length} run${active.length === 1 ? ' is' : 's are'} going (${active.map((e) => e.id.slice(0, 8)).join(', ')}): stored artifacts, releases and installs left alone; run gc again when ${active.length === 1 ? 'it ends' : 'they end'}`);
    }
    const kept = keptExecutions(store, keep);
    const keptIds = new Set(kept.map((e) => e.id));
    const items: GcItem[] = [...runFolders(home, keptIds), ...serveOutputs(home, kept, keptIds)];
    if (storeFree) {
      const releases = await releasesToGo(home, new StoredDeploymentRecords(store), table, keptIds);
      const keptReleaseFolders = releases.kept;
      items.push(...releases.gone);
      items.push(...storeToGo(store, history.artifacts, keptIds));
      items.push(...(await installsToGo(store, history.artifacts, home, keptIds, keptReleaseFolders)));
    }
    const byKind = freedBytes(items);
    const bytes = byKind.reduce((sum, k) => sum + k.bytes, 0);
    if (!dryRun) {
      for (const item of items) {
        await removeReadOnly(item.path).catch(() => rm(item.path, { force: true, recursive: true }));
      }
    }
    const after = dryRun ? null : stateFolderSize(home);
    if (after !== null) store.recordMeasurement('state-folder-bytes', String(after), clock.now());
    return { home, dryRun, keep, keptExecutions: kept.length, items, bytes, byKind, before, after, notes };
  } finally {
    if (locked) store.endMaintenance(GC_LOCK);
    store.close();
  }
}

/** The last `keep` executions of each pipeline, and every execution still going. */
function keptExecutions(store: StateStore, keep: number): ExecutionRecord[] {
  const perPipeline = new Map<string, number>();
  return store.executions().filter((execution) => {
    const seen = perPipeline.get(execution.pipeline) ?? 0;
    perPipeline.set(execution.pipeline, seen + 1);
    return seen < keep || ['QUEUED', 'IN_PROGRESS', 'AWAITING_APPROVAL'].includes(execution.status);
  });
}

/** What the run folders of executions not kept hold, but their logs: the history names those. */
function runFolders(home: string, keptIds: ReadonlySet<string>): GcItem[] {
  const runs = path.join(home, 'runs');
  return list(runs)
    .filter((id) => !keptIds.has(id))
    .flatMap((id) => list(path.join(runs, id)).filter((name) => name !== 'logs').map((name) => ({ kind: 'run folder' as const, path: path.join(runs, id, name) })));
}

/** `serve`'s output files are named by execution (`...-<id>.log`); older ones, without an id, go with the executions of their time. */
function serveOutputs(home: string, kept: readonly ExecutionRecord[], keptIds: ReadonlySet<string>): GcItem[] {
  const folder = path.join(home, 'serve', 'runs');
  const oldestKept = Math.min(...kept.map((e) => e.startedAt));
  return list(folder)
    .filter((name) => {
      const id = /-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.log$/.exec(name)?.[1];
      if (id !== undefined) return !keptIds.has(id);
      const modified = lstatSync(path.join(folder, name), { throwIfNoEntry: false })?.mtimeMs;
      return modified !== undefined && modified < oldestKept;
    })
    .map((name) => ({ kind: 'serve output' as const, path: path.join(folder, name) }));
}

/** Releases no kept execution deployed, unless a deployment serves, or may roll back to, them. */
async function releasesToGo(home: string, records: StoredDeploymentRecords, table: ProcessTable, keptIds: ReadonlySet<string>): Promise<{ gone: GcItem[]; kept: string[] }> {
  const gone: GcItem[] = [];
  const kept: string[] = [];
  for (const deployment of await listDeployments(home, records, { processTable: table })) {
    const needed = new Set([deployment.current?.release, deployment.lastGood?.release, deployment.server?.release].filter((n): n is number => n !== undefined));
    const folder = path.join(deploymentDirectory(home, deployment.service, deployment.environment), 'releases');
    for (const release of deployment.releases) {
      const info = await readRelease(home, deployment.service, deployment.environment, release).catch(() => undefined);
      const releaseFolder = path.join(folder, String(release));
      if (needed.has(release) || (info?.executionId !== undefined && keptIds.has(info.executionId))) {
        kept.push(releaseFolder);
      } else {
        gone.push({ kind: 'release', path: releaseFolder });
      }
    }
    // A release being made when its deploy was killed.
    gone.push(...list(folder).filter((name) => name.startsWith('.tmp-')).map((name) => ({ kind: 'leftover' as const, path: path.join(folder, name) })));
  }
  return { gone, kept };
}

/** Stored artifacts no kept execution produced, and the contents only they held. */
function storeToGo(store: StateStore, artifacts: ArtifactStore, keptIds: ReadonlySet<string>): GcItem[] {
  const keptDigests = new Set<string>();
  for (const id of keptIds) {
    for (const artifact of store.artifacts(id)) keptDigests.add(artifact.digest);
  }
  const keptBlobs = new Set<string>();
  for (const digest of keptDigests) {
    for (const entry of artifacts.manifestSync(digest)) {
      if (entry.type === 'file') keptBlobs.add(artifacts.blobOf(entry));
    }
  }
  const inventory = artifacts.inventory();
  return [
    ...inventory.leftovers.map((file) => ({ kind: 'leftover' as const, path: file })),
    ...inventory.artifacts.filter((a) => !keptDigests.has(a.digest)).flatMap((a) => a.paths.map((file) => ({ kind: 'artifact' as const, path: file }))),
    ...inventory.blobs.filter((file) => !keptBlobs.has(file)).map((file) => ({ kind: 'artifact content' as const, path: file })),
  ];
}

/**
 * Installs of the cache (`cache/<key>/`) that neither a kept execution's lockfile (its Source
 * artifact) nor a kept release (its `node_modules` link) names.
 */
async function installsToGo(store: StateStore, artifacts: ArtifactStore, home: string, keptIds: ReadonlySet<string>, keptReleases: readonly string[]): Promise<GcItem[]> {
  const cache = path.join(home, 'cache');
  const keys = new Set<string>();
  for (const id of keptIds) {
    const source = store.artifacts(id).find((a) => a.name === 'Source');
    const key = source && (await InstallCache.keyOf(artifacts.pathOf(source.digest)).catch(() => undefined));
    if (key) keys.add(key);
  }
  const cacheReal = safeRealpath(cache);
  for (const release of keptReleases) {
    const target = safeRealpath(path.join(release, 'node_modules'));
    if (target && cacheReal && target.startsWith(`${cacheReal}${path.sep}`)) {
      keys.add(path.relative(cacheReal, target).split(path.sep)[0]!);
    }
  }
  return list(cache)
    .filter((name) => !name.endsWith('.lock') && (name.startsWith('.tmp-') || !keys.has(name)))
    .map((name) => ({ kind: name.startsWith('.tmp-') ? ('leftover' as const) : ('install' as const), path: path.join(cache, name) }));
}

/**
 * The disk space removing the items frees, by kind: a file still linked from what stays (a stored
 * blob an artifact kept links to) frees nothing; one whose every link goes counts once, for the
 * kind of the item its last link was found in.
 */
function freedBytes(items: readonly GcItem[]): Array<{ kind: GcKind; count: number; bytes: number }> {
  const links = new Map<string, { nlink: number; seen: number; bytes: number }>();
  const byKind = new Map<GcKind, { kind: GcKind; count: number; bytes: number }>();
  const visit = (target: string, kind: { bytes: number }): void => {
    const info = lstatSync(target, { throwIfNoEntry: false });
    if (!info) return;
    if (info.isDirectory()) {
      for (const name of list(target)) visit(path.join(target, name), kind);
    }
    const key = `${info.dev}:${info.ino}`;
    const known = links.get(key) ?? { nlink: info.isDirectory() ? 1 : info.nlink, seen: 0, bytes: info.blocks * 512 };
    known.seen += 1;
    links.set(key, known);
    if (known.seen === known.nlink) kind.bytes += known.bytes;
  };
  for (const item of items) {
    const entry = byKind.get(item.kind) ?? { kind: item.kind, count: 0, bytes: 0 };
    entry.count += 1;
    byKind.set(item.kind, entry);
    visit(item.path, entry);
  }
  return [...byKind.values()];
}

function list(folder: string): string[] {
  try {
    return readdirSync(folder).sort();
  } catch {
    return [];
  }
}

function safeRealpath(target: string): string | undefined {
  try {
    return realpathSync(target);
  } catch {
    return undefined;
  }
}
