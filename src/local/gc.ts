/**
 * `service-pipelines gc`: prune the state folder. Kept: what the last `keep` executions of each
 * pipeline (and every run still going) use, and every release a local stage may serve or roll
 * back to: current, last good, being served. Gone: the rest of
 *
 * - `runs/<id>/`: workspaces and log files of older executions (their logs stay in the history);
 * - `artifacts/`: stored artifacts no kept execution produced, and the file contents only they held;
 * - `stages/<service>/<env>/releases/<n>/`: releases no kept execution deployed;
 * - `cache/<key>/`: dependency installs no kept execution or kept release uses;
 * - `serve/runs/`: the output of runs no longer kept; leftovers of interrupted writes.
 *
 * The history itself (`state.db`) is never pruned. The artifact store, releases and installs are
 * left alone while a run is going (any stored artifact may be the one it is about to reuse), and
 * a run that starts during `gc` waits for it (the `gc` maintenance lock).
 */
import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { systemClock, type Clock } from '../runtime/clock.js';
import { nodeProcessTable, type ProcessTable } from '../runtime/process.js';
import { InstallCache } from '../steps/install-cache.js';
import { listStages, readRelease, stageDirectory } from '../steps/local-stages.js';
import { removeReadOnly, type TreeEntry } from './artifact-store.js';
import { openHistory } from './history.js';
import type { LocalStagesPort } from './local-stages-port.js';
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
  /** Stops the stages a dead run left serving (the history is repaired first). @default - the steps' local stages */
  readonly localStages?: LocalStagesPort;
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
  const history = await openHistory({ home, clock, processTable: table, ...(options.localStages ? { localStages: options.localStages } : {}) });
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
      const releases = await releasesToGo(home, keptIds);
      const keptReleaseFolders = releases.kept;
      items.push(...releases.gone);
      items.push(...(await storeToGo(store, home, keptIds)));
      items.push(...(await installsToGo(store, home, keptIds, keptReleaseFolders)));
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

function runFolders(home: string, keptIds: ReadonlySet<string>): GcItem[] {
  const runs = path.join(home, 'runs');
  return list(runs)
    .filter((id) => !keptIds.has(id))
    .map((id) => ({ kind: 'run folder' as const, path: path.join(runs, id) }));
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

/** Releases no kept execution deployed, unless a stage serves, or may roll back to, them. */
async function releasesToGo(home: string, keptIds: ReadonlySet<string>): Promise<{ gone: GcItem[]; kept: string[] }> {
  const gone: GcItem[] = [];
  const kept: string[] = [];
  for (const stage of await listStages(home)) {
    const needed = new Set([stage.current?.release, stage.lastGood?.release, stage.server?.release].filter((n): n is number => n !== undefined));
    const folder = path.join(stageDirectory(home, stage.service, stage.environment), 'releases');
    for (const release of stage.releases) {
      const info = await readRelease(home, stage.service, stage.environment, release);
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
async function storeToGo(store: StateStore, home: string, keptIds: ReadonlySet<string>): Promise<GcItem[]> {
  const root = path.join(home, 'artifacts');
  const trees = path.join(root, 'trees');
  const blobs = path.join(root, 'blobs');
  const keptTrees = new Set<string>();
  for (const id of keptIds) {
    for (const artifact of store.artifacts(id)) keptTrees.add(artifact.digest.slice('sha256:'.length));
  }
  const keptBlobs = new Set<string>();
  for (const hex of keptTrees) {
    for (const entry of manifestOf(path.join(trees, `${hex}.json`))) {
      if (entry.type === 'file') keptBlobs.add(entry.executable ? `${entry.blob}.x` : entry.blob);
    }
  }
  const items: GcItem[] = [];
  for (const name of list(trees)) {
    const hex = name.replace(/\.json$/, '');
    if (name.startsWith('.')) {
      items.push({ kind: 'leftover', path: path.join(trees, name) });
    } else if (!keptTrees.has(hex)) {
      items.push({ kind: 'artifact', path: path.join(trees, name) });
    }
  }
  for (const prefix of list(blobs)) {
    for (const name of list(path.join(blobs, prefix))) {
      const file = path.join(blobs, prefix, name);
      if (name.endsWith('.tmp')) {
        items.push({ kind: 'leftover', path: file });
      } else if (!keptBlobs.has(name)) {
        items.push({ kind: 'artifact content', path: file });
      }
    }
  }
  return items;
}

/**
 * Installs of the cache (`cache/<key>/`) that neither a kept execution's lockfile (its Source
 * artifact) nor a kept release (its `node_modules` link) names.
 */
async function installsToGo(store: StateStore, home: string, keptIds: ReadonlySet<string>, keptReleases: readonly string[]): Promise<GcItem[]> {
  const cache = path.join(home, 'cache');
  const keys = new Set<string>();
  for (const id of keptIds) {
    const source = store.artifacts(id).find((a) => a.name === 'Source');
    const key = source && (await InstallCache.keyOf(path.join(home, 'artifacts', 'trees', source.digest.slice('sha256:'.length))).catch(() => undefined));
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

function manifestOf(file: string): TreeEntry[] {
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { entries: TreeEntry[] }).entries;
  } catch {
    return [];
  }
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
