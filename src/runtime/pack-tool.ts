/**
 * Packing the running service-pipelines into one tarball that installs without a registry:
 * `npm pack` with every dependency bundled, exactly as installed beside the running code (the
 * lockfile's versions in a source checkout; the bundle it came with, or the packages npm hoisted
 * next to it, in an installed copy). The AWS actions install this tarball, so that they run the
 * code that synthesized them.
 *
 * npm packs a staging folder, not the package's own: the package's files, its package.json with
 * `bundleDependencies: true` (which the repository's own package.json cannot carry: npm would
 * then try to fetch, at `npm ci`, what aws-cdk-lib bundles), and every dependency, transitively,
 * laid out so that each resolves as it does where it is installed. npm packs each bundled package
 * by its own `files`, so the tarball is the same from a checkout and from an installed copy, and
 * holds no build output of this machine: native modules (better-sqlite3) come as their sources.
 *
 * Packing takes half a minute, so tarballs are kept in a cache keyed by a fingerprint of every
 * file that goes into them (path, size, modification time, inode): the same tree packs once.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, createReadStream, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FailureError, InputError } from '../model/errors.js';
import type { Clock } from './clock.js';
import { runCaptured, type Processes } from './process.js';

/** A packed tool: the tarball and what identifies it. */
export interface PackedTool {
  /** The package's name (`service-pipelines`). */
  readonly name: string;
  /** Its version: what `service-pipelines --version` prints once installed. */
  readonly version: string;
  /** The tarball (absolute path, in the cache: do not change it). */
  readonly file: string;
  /** The tarball's sha256, in hex: what an installer checks before installing. */
  readonly sha256: string;
  /** The tarball's size in bytes. */
  readonly bytes: number;
  /** Whether it came from the cache (packed earlier from the same files). */
  readonly fromCache: boolean;
}

/** Options of `packTool`. */
export interface PackToolOptions {
  /** Starts `npm pack`. */
  readonly processes: Processes;
  /** Waits while another process packs the same files. */
  readonly clock: Clock;
  /**
   * The package folder to pack.
   *
   * @default - the running service-pipelines (`toolRoot()`)
   */
  readonly root?: string;
  /**
   * Where packed tarballs are kept, by fingerprint.
   *
   * @default - `defaultToolCacheDir()`
   */
  readonly cacheDir?: string;
  /**
   * The environment npm runs with. The `npm_*` variables an enclosing npm (`npx`, `npm run`)
   * sets are left out, so that they cannot redirect the pack.
   *
   * @default process.env
   */
  readonly env?: NodeJS.ProcessEnv;
}

/** How many packed tarballs the cache keeps (the most recently used). */
export const TOOL_CACHE_ENTRIES = 3;

/** Bump when what goes into a tarball changes for the same files: older cache entries then miss. */
const PACK_FORMAT = 'service-pipelines pack 2';

/** How long a lock of another packing process is honoured after its last sign of life (it touches the lock every few seconds). */
const LOCK_STALE_MS = 2 * 60_000;
const LOCK_HEARTBEAT_MS = 5_000;

/** The folder of the running service-pipelines package (from `src/runtime/` and `dist/runtime/` alike). */
export function toolRoot(): string {
  return fileURLToPath(new URL('../../', import.meta.url)).replace(/[\\/]$/, '');
}

/** The cache folder: `$XDG_CACHE_HOME/service-pipelines/tool`, else under `~/.cache`. */
export function defaultToolCacheDir(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  const base = env['XDG_CACHE_HOME'] || path.join(home, '.cache');
  return path.join(base, 'service-pipelines', 'tool');
}

interface PackageManifest {
  readonly name?: string;
  readonly version?: string;
  readonly main?: string;
  readonly bin?: string | Record<string, string>;
  readonly files?: readonly string[];
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
  readonly scripts?: Record<string, string>;
}

/**
 * Pack a package with its dependencies bundled, from the cache when the same files were packed before.
 *
 * @throws InputError when the folder cannot give a complete tarball: not built, or dependencies not installed
 * @throws FailureError when npm is missing or `npm pack` fails
 */
export async function packTool(options: PackToolOptions): Promise<PackedTool> {
  const root = realpathSync(path.resolve(options.root ?? toolRoot()));
  const manifest = readManifest(root);
  const name = manifest.name ?? '';
  const version = manifest.version ?? '';
  checkPackable(root, manifest);
  const placements = dependencyLayout(root, manifest);
  const key = fingerprint(root, manifest, placements);
  const cacheDir = path.resolve(options.cacheDir ?? defaultToolCacheDir(options.env));
  mkdirSync(cacheDir, { recursive: true });

  const cached = await fromCache(cacheDir, key);
  if (cached) return cached;
  const release = await lock(cacheDir, key, options.clock);
  try {
    // Another process may have packed the same files while this one waited.
    const packedMeanwhile = await fromCache(cacheDir, key);
    if (packedMeanwhile) return packedMeanwhile;
    const staging = await mkdtemp(path.join(cacheDir, '.pack-'));
    try {
      const folder = path.join(staging, 'package');
      stage(root, manifest, placements, folder);
      const out = path.join(staging, 'out');
      mkdirSync(out);
      const tarball = await npmPack(folder, out, options);
      const sha256 = await sha256Of(tarball);
      const bytes = statSync(tarball).size;
      const file = path.join(cacheDir, `${key}.tgz`);
      renameSync(tarball, file);
      const entry: CacheEntry = { name, version, sha256, bytes };
      writeFileSync(path.join(cacheDir, `${key}.json`), `${JSON.stringify(entry)}\n`);
      evict(cacheDir);
      return { ...entry, file, fromCache: false };
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  } finally {
    release();
  }
}

function readManifest(root: string): PackageManifest {
  const file = path.join(root, 'package.json');
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as PackageManifest;
  } catch (error) {
    throw new InputError(`cannot pack ${root}: no readable package.json`, [{ where: file, message: error instanceof Error ? error.message : String(error) }], { cause: error });
  }
}

/** What a complete tarball needs of the folder: a name, a version, and the build its entry points run. */
function checkPackable(root: string, manifest: PackageManifest): void {
  const where = path.join(root, 'package.json');
  if (!manifest.name || !manifest.version) {
    throw new InputError(`cannot pack ${root}`, [{ where, message: 'needs a name and a version' }]);
  }
  const entryFiles = [manifest.main, ...(typeof manifest.bin === 'string' ? [manifest.bin] : Object.values(manifest.bin ?? {}))].filter((f): f is string => !!f);
  const missing = entryFiles.filter((f) => !existsSync(path.join(root, f)));
  if (missing.length > 0) {
    throw new InputError(`${manifest.name} in ${root} is not built`, [
      { where: root, message: `${missing.join(', ')} missing: run \`npm run build\` there (\`npm ci\` does it too)` },
    ]);
  }
}

/** Where a bundled package goes in the tarball (`node_modules/a/node_modules/b`), and the folder it comes from. */
interface Placement {
  readonly at: string;
  readonly folder: string;
}

/**
 * Every package the tarball bundles, laid out under `node_modules/` so that each dependency
 * resolves, from the package that needs it, to the folder Node resolves it to where it is
 * installed (inside the package, or hoisted next to it): nested under the package that needs it
 * where npm nested it or where the top holds another, else at the top. Production and optional
 * dependencies, transitively.
 */
function dependencyLayout(root: string, manifest: PackageManifest): Placement[] {
  const placed = new Map<string, string>();
  const missing: string[] = [];
  const queue: { folder: string; at: string; manifest: PackageManifest; name: string }[] = [{ folder: root, at: '', manifest, name: manifest.name ?? root }];
  for (let next = queue.shift(); next; next = queue.shift()) {
    const optional = Object.keys(next.manifest.optionalDependencies ?? {});
    for (const dependency of [...Object.keys(next.manifest.dependencies ?? {}), ...optional]) {
      const found = resolveInstalled(next.folder, dependency);
      if (!found) {
        if (!optional.includes(dependency)) missing.push(`${dependency} (needed by ${next.name})`);
        continue;
      }
      const resolved = resolveInLayout(placed, next.at, dependency);
      if (resolved !== undefined && placed.get(resolved) === found) continue;
      // Nested where npm nested it (a package's own bundle stays in it), else at the top when free.
      const nested = found.startsWith(`${path.join(next.folder, 'node_modules')}${path.sep}`);
      const top = `node_modules/${dependency}`;
      const at = !nested && resolved === undefined && !placed.has(top) ? top : `${next.at ? `${next.at}/` : ''}node_modules/${dependency}`;
      placed.set(at, found);
      queue.push({ folder: found, at, manifest: readManifest(found), name: dependency });
    }
  }
  if (missing.length > 0) {
    throw new InputError(`cannot pack ${manifest.name} from ${root}: dependencies are not installed`, [
      {
        where: root,
        message: `${[...new Set(missing)].slice(0, 5).join(', ')}${missing.length > 5 ? `, and ${missing.length - 5} more` : ''} missing; run \`npm ci\` in a checkout, or install service-pipelines again in your project`,
      },
    ]);
  }
  return [...placed].map(([at, folder]) => ({ at, folder })).sort((a, b) => a.at.localeCompare(b.at));
}

/** Where Node finds package `name` from `dir` on disk (the `node_modules` folders of `dir` and every folder above it), as a real path. */
function resolveInstalled(dir: string, name: string): string | undefined {
  for (let current = dir; ; current = path.dirname(current)) {
    if (path.basename(current) !== 'node_modules') {
      const candidate = path.join(current, 'node_modules', name);
      if (existsSync(path.join(candidate, 'package.json'))) return realpathSync(candidate);
    }
    if (path.dirname(current) === current) return undefined;
  }
}

/** Where `name` resolves from the placement `at` in the layout being built, if anywhere. */
function resolveInLayout(placed: ReadonlyMap<string, string>, at: string, name: string): string | undefined {
  for (let current = at; ; ) {
    const candidate = `${current ? `${current}/` : ''}node_modules/${name}`;
    if (placed.has(candidate)) return candidate;
    if (!current) return undefined;
    // Up one package: `node_modules/a/node_modules/@s/b` → `node_modules/a`.
    const cut = current.lastIndexOf('/node_modules/');
    current = cut < 0 ? '' : current.slice(0, cut);
  }
}

/**
 * A digest of every file that can go into the tarball: the package's own files (its top-level
 * files and its `files` entries), the layout of the bundled packages, and each one's folder. A
 * file's path, size, mode, modification time and inode stand for its content: editing,
 * rebuilding or reinstalling gives a file a new modification time or a new inode (npm installs
 * every file with one date; the change time would not do either: staging links change it).
 */
function fingerprint(root: string, manifest: PackageManifest, placements: readonly Placement[]): string {
  const hash = createHash('sha256').update(`${PACK_FORMAT}\n`);
  const add = (file: string) => {
    const stat = lstatSync(file, { bigint: true, throwIfNoEntry: false });
    if (!stat) return;
    hash.update(`${path.relative(root, file)}\0${stat.size}\0${stat.mode}\0${stat.mtimeNs}\0${stat.ino}\n`);
  };
  const walk = (dir: string, skip: (entry: string) => boolean) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (skip(entry.name)) continue;
      const full = path.join(dir, entry.name);
      add(full);
      if (entry.isDirectory()) walk(full, skip);
    }
  };
  for (const entry of readdirSync(root, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.isFile()) add(path.join(root, entry.name));
  }
  for (const entry of [...ownEntries(manifest)].sort()) {
    const full = path.join(root, entry);
    add(full);
    if (statSync(full, { throwIfNoEntry: false })?.isDirectory()) walk(full, (name) => name === 'node_modules' || name === '.git');
  }
  const folders = new Set<string>();
  for (const { at, folder } of placements) {
    hash.update(`${at}\0${folder}\n`);
    folders.add(folder);
  }
  for (const folder of folders) {
    add(folder);
    walk(folder, (name) => name === 'node_modules');
  }
  return hash.digest('hex').slice(0, 32);
}

/**
 * The folder npm packs: the package's own files, its package.json with every dependency bundled
 * (and without `prepare`), and the bundled packages at their places. Files are hard links where the file system
 * allows (copies elsewhere); nothing in the package's own folder is changed.
 */
function stage(root: string, manifest: PackageManifest, placements: readonly Placement[], into: string): void {
  mkdirSync(into, { recursive: true });
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    if (entry.isFile()) linkTree(path.join(root, entry.name), path.join(into, entry.name), () => false);
  }
  for (const entry of ownEntries(manifest)) {
    const from = path.join(root, entry);
    if (existsSync(from)) linkTree(from, path.join(into, entry), (name) => name === 'node_modules' || name === '.git');
  }
  // The staged package.json is a link to the package's own: replace the link, never write through it.
  rmSync(path.join(into, 'package.json'), { force: true });
  // `prepare` builds a checkout; the tarball holds the build, and npm would list the script for approval at every install.
  const { prepare: _prepare, ...scripts } = manifest.scripts ?? {};
  const packed = { ...manifest, ...(manifest.scripts ? { scripts } : {}), bundleDependencies: true };
  writeFileSync(path.join(into, 'package.json'), `${JSON.stringify(packed, null, 2)}\n`);
  for (const { at, folder } of placements) {
    linkTree(folder, path.join(into, at), (name) => name === 'node_modules');
  }
}

/** Hard-link (else copy) a file or a folder's files; symbolic links are left out (npm packs none). */
function linkTree(from: string, to: string, skip: (name: string) => boolean): void {
  const stat = lstatSync(from);
  if (existsSync(to) && !stat.isDirectory()) return;
  if (stat.isDirectory()) {
    mkdirSync(to, { recursive: true });
    for (const name of readdirSync(from)) {
      if (!skip(name)) linkTree(path.join(from, name), path.join(to, name), skip);
    }
  } else if (stat.isFile()) {
    try {
      linkSync(from, to);
    } catch {
      copyFileSync(from, to);
    }
  }
}

/** The package's own entries that npm may pack: its `files`, or the whole folder when it has none or one is a pattern. */
function ownEntries(manifest: PackageManifest): readonly string[] {
  return manifest.files && !manifest.files.some((f) => /[*?[\]{}!]/.test(f)) ? manifest.files : ['.'];
}

interface CacheEntry {
  readonly name: string;
  readonly version: string;
  readonly sha256: string;
  readonly bytes: number;
}

/** A cached tarball, if there is a sound one: its digest is checked again, so a damaged entry is packed anew. */
async function fromCache(cacheDir: string, key: string): Promise<PackedTool | undefined> {
  const file = path.join(cacheDir, `${key}.tgz`);
  const metaFile = path.join(cacheDir, `${key}.json`);
  let entry: CacheEntry;
  try {
    entry = JSON.parse(readFileSync(metaFile, 'utf8')) as CacheEntry;
  } catch {
    return undefined;
  }
  if (statSync(file, { throwIfNoEntry: false })?.size !== entry.bytes || (await sha256Of(file)) !== entry.sha256) {
    rmSync(metaFile, { force: true });
    rmSync(file, { force: true });
    return undefined;
  }
  const now = new Date();
  utimesSync(metaFile, now, now);
  return { ...entry, file, fromCache: true };
}

/** Keep the most recently used entries only (a tarball is tens of megabytes). */
function evict(cacheDir: string): void {
  const entries = readdirSync(cacheDir)
    .filter((name) => name.endsWith('.json'))
    .map((name) => ({ key: name.slice(0, -'.json'.length), used: statSync(path.join(cacheDir, name)).mtimeMs }))
    .sort((a, b) => b.used - a.used);
  for (const { key } of entries.slice(TOOL_CACHE_ENTRIES)) {
    rmSync(path.join(cacheDir, `${key}.json`), { force: true });
    rmSync(path.join(cacheDir, `${key}.tgz`), { force: true });
  }
}

/**
 * One packing process per fingerprint at a time: the others wait for its tarball. The holder
 * touches the lock while it packs, so a lock left by a process that was killed is taken over
 * soon after, not waited on.
 */
async function lock(cacheDir: string, key: string, clock: Clock): Promise<() => void> {
  const dir = path.join(cacheDir, `${key}.lock`);
  for (;;) {
    try {
      mkdirSync(dir);
      const heartbeat = setInterval(() => {
        const now = new Date(clock.now());
        try {
          utimesSync(dir, now, now);
        } catch {
          // Taken over as abandoned: the tarball is written all the same, by rename.
        }
      }, LOCK_HEARTBEAT_MS);
      heartbeat.unref();
      return () => {
        clearInterval(heartbeat);
        rmSync(dir, { recursive: true, force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const held = statSync(dir, { throwIfNoEntry: false });
    if (held && clock.now() - held.mtimeMs > LOCK_STALE_MS) {
      rmSync(dir, { recursive: true, force: true });
      continue;
    }
    await clock.sleep(250);
  }
}

/** `npm pack` of `root` into the empty folder `into`; the tarball's path. */
async function npmPack(root: string, into: string, options: PackToolOptions): Promise<string> {
  const env = Object.fromEntries(Object.entries(options.env ?? process.env).filter(([key]) => !key.startsWith('npm_')));
  // Scripts stay off: `prepare` would rebuild dist/ (and needs devDependencies an installed copy lacks); the tarball holds the code that runs.
  const args = ['pack', root, '--ignore-scripts', '--pack-destination', into, '--loglevel', 'error', '--no-update-notifier'];
  let run;
  try {
    run = await runCaptured(options.processes, 'npm', args, { cwd: root, env });
  } catch (error) {
    throw new FailureError(`cannot pack ${root}: npm did not start (${error instanceof Error ? error.message : String(error)}); npm must be on PATH`, { cause: error });
  }
  if (run.code !== 0) {
    const detail = run.stderr.trim().split('\n').slice(-10).join('\n');
    throw new FailureError(`npm pack failed in ${root} (exit ${run.code ?? run.signal}):\n${detail}`);
  }
  // npm's own output is not read for the file's name (npm masks parts of what it prints): the folder holds only it.
  const tarballs = readdirSync(into).filter((name) => name.endsWith('.tgz'));
  if (tarballs.length !== 1) {
    throw new FailureError(`npm pack in ${root} wrote ${tarballs.length} tarballs to ${into}; expected one`);
  }
  return path.join(into, tarballs[0]!);
}

/** A file's sha256, in hex. */
export async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
