/**
 * Artifact collection: the files an `artifacts` (or secondary artifact) definition selects, laid out
 * in a folder as CodeBuild lays them out in its zip.
 *
 * Nothing outside the source folder gets in: every candidate's real path is resolved, and a
 * symbolic link whose target is outside the source folder (an absolute or relative link, to a file
 * or a folder, in `files`, in `base-directory` or on the way to them) is refused, or with
 * `enable-symlinks: yes` kept as a link; a linked folder outside is never walked. Links inside the
 * source are followed, as CodeBuild follows them, or kept with `enable-symlinks: yes` ("all internal
 * symbolic links in the source will be preserved").
 *
 * Writing to an artifact never reaches a file the build does not own: files are hard-linked only
 * from the build's own folder (`ownsSrcDir`) and only when they have no other name; everything else
 * is copied (a reflink where the file system has them). Linking costs a link per file, which is
 * what keeps collecting a large tree cheap.
 */
import { constants as fsConstants, linkSync, lstatSync, mkdirSync, realpathSync, symlinkSync, type Stats } from 'node:fs';
import * as fs from 'node:fs';
import { copyFile, lstat, readlink, realpath, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import picomatch from 'picomatch';
import { glob, isDynamicPattern } from 'tinyglobby';
import { isYes, type BuildspecArtifact } from '../../buildspec/types.js';

/** The artifact could not be collected (CodeBuild's CLIENT_ERROR in UPLOAD_ARTIFACTS). */
export class ArtifactError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArtifactError';
  }
}

/** What was collected. */
export interface CollectedArtifact {
  /** The folder holding the artifact's files. */
  readonly directory: string;
  /** How many files (symbolic links kept as links included). */
  readonly files: number;
  /** Files that were copied rather than hard-linked. */
  readonly copied: number;
}

/** Options of `collectArtifact`. */
export interface CollectArtifactOptions {
  /** The build's source folder (`CODEBUILD_SRC_DIR`): paths are relative to it. */
  readonly srcDir: string;
  readonly artifact: BuildspecArtifact;
  /** The folder to fill; emptied first. */
  readonly destination: string;
  /**
   * Whether `srcDir` is the build's own folder (a copy made for the build, an action's
   * workspace), whose files the artifact may take by hard link. The files of any other folder
   * (the user's source, with `--in-place`) are copied, so that writing to the artifact can never
   * change them.
   *
   * @default false
   */
  readonly ownsSrcDir?: boolean;
  /** Receives progress lines (CodeBuild's "Expanding ..." lines). */
  readonly log?: (text: string) => void;
  /**
   * Folders never taken into the artifact, e.g. where artifacts are collected when that is inside
   * the source folder (else a second run would collect the first run's artifacts).
   *
   * @default - none
   */
  readonly skip?: readonly string[];
}

/** How many copies run at once: enough to keep the disk busy, few enough for the fd limit. */
const CONCURRENCY = 16;

/** Files linked between two turns of the event loop. */
const SLICE = 500;

/** One entry of the artifact: a file (its real path) or a symbolic link kept as a link. */
type Planned = { readonly kind: 'file'; readonly from: string } | { readonly kind: 'symlink'; readonly target: string };

/** A symbolic link the crawl did not follow (kept, outside the source, or dangling). */
interface UnfollowedLink {
  /** Its path relative to the base directory, with `/`. */
  readonly path: string;
  /** What it points to, as written. */
  readonly target: string;
  /** Its real target; undefined when it does not exist. */
  readonly real: string | undefined;
  readonly outside: boolean;
}

/**
 * Collect one artifact into `destination`.
 *
 * @throws ArtifactError when the base directory or the files match nothing, as CodeBuild fails
 *   then, or when a selected path leads outside the source folder
 */
export async function collectArtifact(options: CollectArtifactOptions): Promise<CollectedArtifact> {
  const { artifact, destination } = options;
  const srcDir = resolve(options.srcDir);
  const log = options.log ?? (() => undefined);
  const discardPaths = isYes(artifact['discard-paths']);
  const keepSymlinks = isYes(artifact['enable-symlinks']);
  const patterns = (artifact.files ?? []).map(stripDotSlash);
  const exclude = (artifact['exclude-paths'] ?? []).map(stripDotSlash);
  const realSrc = await realpath(srcDir).catch(() => {
    throw new ArtifactError(`the source folder ${srcDir} is gone (did the build remove it?)`);
  });
  const skip = await Promise.all((options.skip ?? []).map(async (folder) => [resolve(folder), await realpath(folder).catch(() => resolve(folder))] as const));
  const skipped = (lexical: string, real: string) => skip.some(([folder, realFolder]) => isInside(folder, lexical) || isInside(realFolder, real));
  const guard = new SourceGuard(srcDir, realSrc);

  const baseSpec = artifact['base-directory'] ?? '.';
  log(`Expanding base directory path: ${baseSpec}`);
  const bases = await expandBaseDirectories(srcDir, stripDotSlash(baseSpec));
  if (bases.length === 0) {
    throw new ArtifactError(`no matching base directory path found for ${baseSpec}`);
  }

  // destination path (relative) → what goes there; the first file to claim a path keeps it.
  const plan = new Map<string, Planned>();
  let duplicates = 0;
  log('Assembling file list');
  for (const base of bases) {
    const baseDir = resolve(srcDir, base);
    if (!isInside(srcDir, baseDir)) {
      // An artifact holds build output: what is outside the build's folder is not that.
      throw new ArtifactError(`base-directory ${base} is outside the source folder`);
    }
    const baseEscape = await guard.escapeOf(relative(srcDir, baseDir), false);
    if (baseEscape) {
      throw new ArtifactError(`base-directory ${base}: ${baseEscape}`);
    }
    log(`Expanding file paths for base directory ${base}`);
    if (patterns.length === 0) {
      continue;
    }
    for (const pattern of patterns) {
      log(`Expanding ${pattern}`);
      await refuseLinkedPrefix(guard, baseDir, pattern, keepSymlinks);
    }
    const unfollowed = new Map<string, UnfollowedLink>();
    // The AWS documentation is silent on a pattern naming a folder (`dist`); it selects what is
    // below it here, which is what `files: [dist]` is written for.
    const files = await glob(patterns, {
      cwd: baseDir,
      dot: true,
      onlyFiles: true,
      ignore: exclude,
      expandDirectories: true,
      followSymbolicLinks: true,
      fs: linkAwareFs(baseDir, realSrc, keepSymlinks, unfollowed),
    });
    const beside = (link: UnfollowedLink) => join(baseDir, link.path);
    refuseLinksBelowPatterns(unfollowed, files, patterns, exclude, keepSymlinks, {
      skipped: (link) => skipped(beside(link), beside(link)),
      shown: (link) => relative(srcDir, beside(link)),
    });
    for (const file of files) {
      const lexical = join(baseDir, file);
      if (!isInside(srcDir, lexical)) {
        continue;
      }
      const link = unfollowed.get(file);
      let entry: Planned;
      if (link) {
        if (skipped(lexical, lexical)) {
          continue;
        }
        if (keepSymlinks) {
          entry = { kind: 'symlink', target: link.target };
        } else if (link.real === undefined) {
          log(`Skipping ${relative(srcDir, lexical)}: a symbolic link to ${link.target}, which does not exist`);
          continue;
        } else {
          throw new ArtifactError(escapeMessage(relative(srcDir, lexical), link.target, link.real) + SELECTED_LINK_HINT);
        }
      } else {
        const real = await guard.realFile(lexical);
        if (real === undefined) {
          // Gone since the crawl, or not a regular file (a socket, a FIFO): not artifact content.
          continue;
        }
        if (!isInside(realSrc, real)) {
          throw new ArtifactError((await guard.escapeOf(relative(srcDir, lexical), false)) ?? `${relative(srcDir, lexical)} is ${real}, outside the source folder`);
        }
        if (skipped(lexical, real)) {
          continue;
        }
        entry = { kind: 'file', from: real };
      }
      const target = discardPaths ? basename(file) : file;
      if (plan.has(target)) {
        duplicates++;
        continue;
      }
      plan.set(target, entry);
    }
  }
  if (duplicates > 0) {
    // The documentation does not say which file wins when discard-paths folds two into one name.
    log(`Skipping ${duplicates} file(s) whose path was already taken (discard-paths folds folders away)`);
  }
  log(`Found ${plan.size} file(s)`);
  if (plan.size === 0) {
    throw new ArtifactError(`no matching artifact paths found (files: ${patterns.join(', ') || 'none'}${exclude.length ? `; exclude-paths: ${exclude.join(', ')}` : ''})`);
  }

  await rm(destination, { recursive: true, force: true });
  const folders = new Set<string>([destination]);
  for (const target of plan.keys()) {
    folders.add(dirname(join(destination, target)));
  }
  // Parents sort before their children, so each mkdir finds its parent made.
  for (const folder of [...folders].sort()) {
    mkdirSync(folder, { recursive: true });
  }
  // Linking is a metadata operation of a few microseconds: done synchronously, in slices that
  // give the event loop back between them (other builds of the process keep streaming), it
  // costs a fraction of one thread-pool round trip per file. Copies are real I/O and go through
  // the thread pool.
  const toCopy: Array<[string, string]> = [];
  const entries = [...plan.entries()];
  for (let index = 0; index < entries.length; index += SLICE) {
    for (const [target, entry] of entries.slice(index, index + SLICE)) {
      const destinationFile = join(destination, target);
      if (entry.kind === 'symlink') {
        symlinkSync(entry.target, destinationFile);
      } else if (!options.ownsSrcDir || !tryLinkOwnFile(entry.from, destinationFile)) {
        toCopy.push([entry.from, destinationFile]);
      }
    }
    await new Promise<void>((resolveSlice) => setImmediate(resolveSlice));
  }
  await forEachLimited(toCopy, CONCURRENCY, async ([from, to]) => {
    await copyFile(from, to, fsConstants.COPYFILE_FICLONE);
  });
  return { directory: destination, files: plan.size, copied: toCopy.length };
}

/**
 * Resolves paths of the source folder to their real paths, and finds the symbolic link by which
 * a path leaves the folder, with the real paths of folders cached (one `realpath` per folder).
 */
class SourceGuard {
  private readonly realFolders = new Map<string, Promise<string>>();

  constructor(
    /** The source folder, as given. */
    readonly srcDir: string,
    /** Its real path. */
    readonly realSrc: string,
  ) {}

  /**
   * The real path of a regular file of the source; undefined when it is not one. The file's own
   * name is resolved only when it is a link (one `lstat` per file, which also tells its type).
   */
  async realFile(lexical: string): Promise<string | undefined> {
    const info = lstatSync(lexical, { throwIfNoEntry: false });
    if (info === undefined) {
      return undefined;
    }
    if (info.isSymbolicLink()) {
      const real = realpathSync(lexical);
      return lstatSync(real).isFile() ? real : undefined;
    }
    return info.isFile() ? join(await this.realFolder(dirname(lexical)), basename(lexical)) : undefined;
  }

  /**
   * How `rel` (relative to the source folder) leaves it: "x is a symbolic link to Y, outside the
   * source folder", naming the first link on the way whose target is outside; undefined when it
   * stays inside. With `allowLast`, a link that is the path's last component is not looked at.
   */
  async escapeOf(rel: string, allowLast: boolean): Promise<string | undefined> {
    const parts = rel.split(sep).filter((part) => part !== '' && part !== '.');
    for (let index = 0; index < parts.length; index++) {
      const path = join(this.srcDir, ...parts.slice(0, index + 1));
      const info = await lstat(path).catch(() => undefined);
      if (info === undefined) {
        return undefined;
      }
      if (!info.isSymbolicLink() || (allowLast && index === parts.length - 1)) {
        continue;
      }
      const real = await realpath(path).catch(() => undefined);
      if (real !== undefined && !isInside(this.realSrc, real)) {
        return escapeMessage(parts.slice(0, index + 1).join('/'), await readlink(path), real);
      }
    }
    return undefined;
  }

  private realFolder(folder: string): Promise<string> {
    let real = this.realFolders.get(folder);
    if (real === undefined) {
      real = realpath(folder);
      this.realFolders.set(folder, real);
    }
    return real;
  }
}

/** "x is a symbolic link to ../y (/abs/y), outside the source folder". */
function escapeMessage(path: string, target: string, real: string): string {
  return `${path} is a symbolic link to ${target === real ? target : `${target} (${real})`}, outside the source folder`;
}

/** Why a link among the selected files is refused, and the way out. */
const SELECTED_LINK_HINT = " (an artifact takes only the build's own files; with enable-symlinks: yes such a link is kept as a link)";

/**
 * The file system the crawl sees: a symbolic link it must not follow (any link with
 * `enable-symlinks`, else a link whose target is outside the source folder or missing) looks
 * like a file, so that the crawl lists it instead of walking where it points; each is recorded.
 */
function linkAwareFs(baseDir: string, realSrc: string, keepSymlinks: boolean, unfollowed: Map<string, UnfollowedLink>) {
  const opaque = new Set<string>();
  type Callback<T> = (error: NodeJS.ErrnoException | null, value: T) => void;
  const realpathAware = (path: string, callback: Callback<string>) => {
    fs.realpath(path, (error, real) => {
      const exists = error === null;
      if (exists && !keepSymlinks && isInside(realSrc, real)) {
        callback(null, real);
        return;
      }
      const lexical = path.endsWith(sep) ? path.slice(0, -1) : path;
      opaque.add(lexical);
      fs.readlink(lexical, (readError, target) => {
        if (readError) {
          callback(readError, lexical);
          return;
        }
        const rel = relative(baseDir, lexical).split(sep).join('/');
        unfollowed.set(rel, { path: rel, target, real: exists ? real : undefined, outside: exists && !isInside(realSrc, real) });
        callback(null, lexical);
      });
    });
  };
  const statAware = (path: string, callback: Callback<Stats>) => {
    if (opaque.has(path)) {
      fs.lstat(path, callback);
    } else {
      fs.stat(path, callback);
    }
  };
  return { realpath: realpathAware as unknown as typeof fs.realpath, stat: statAware as unknown as typeof fs.stat };
}

/**
 * A pattern whose fixed leading folders go through a link out of the source folder would have the
 * crawl start over there: refused before crawling. A pattern naming such a link itself is left to
 * the crawl (kept with `enable-symlinks`, else refused there).
 */
async function refuseLinkedPrefix(guard: SourceGuard, baseDir: string, pattern: string, keepSymlinks: boolean): Promise<void> {
  const scan = picomatch.scan(pattern);
  if (scan.base === '' || !isInside(baseDir, resolve(baseDir, scan.base))) {
    return;
  }
  const escape = await guard.escapeOf(relative(guard.srcDir, resolve(baseDir, scan.base)), keepSymlinks && !scan.isGlob);
  if (escape) {
    throw new ArtifactError(escape);
  }
}

/**
 * A link out of the source folder (to a folder) that the crawl did not list itself, below which a
 * pattern may select files: CodeBuild would follow it; here it is refused, never walked.
 */
function refuseLinksBelowPatterns(
  unfollowed: ReadonlyMap<string, UnfollowedLink>,
  listed: readonly string[],
  patterns: readonly string[],
  exclude: readonly string[],
  keepSymlinks: boolean,
  links: { readonly skipped: (link: UnfollowedLink) => boolean; readonly shown: (link: UnfollowedLink) => string },
): void {
  if (keepSymlinks || unfollowed.size === 0) {
    return;
  }
  const isListed = new Set(listed);
  const ignored = picomatch(exclude.map(expandDirectoryPattern), { dot: true });
  const expanded = patterns.map(expandDirectoryPattern);
  for (const link of unfollowed.values()) {
    if (!link.outside || isListed.has(link.path) || ignored(link.path) || links.skipped(link)) {
      continue;
    }
    if (expanded.some((pattern) => mayMatchBelow(link.path, pattern))) {
      throw new ArtifactError(escapeMessage(links.shown(link), link.target, link.real!) + SELECTED_LINK_HINT);
    }
  }
}

/** As tinyglobby's `expandDirectories`: a pattern that does not end in `*` also selects what is below it. */
function expandDirectoryPattern(pattern: string): string {
  const trimmed = pattern.endsWith('/') ? pattern.slice(0, -1) : pattern;
  return trimmed.endsWith('*') ? trimmed : `${trimmed}/**`;
}

/** Whether `pattern` may match a path below the folder `folder` (both with `/`). */
function mayMatchBelow(folder: string, pattern: string): boolean {
  const parts = picomatch.scan(pattern, { parts: true }).parts ?? pattern.split('/');
  const segments = folder.split('/');
  for (let index = 0; index < segments.length; index++) {
    const part = parts[index];
    if (part === undefined) {
      return false;
    }
    // A globstar matches any depth; a brace may hold a `/`: both may reach below.
    if (part.includes('**') || part.includes('{')) {
      return true;
    }
    if (!picomatch.isMatch(segments[index]!, part, { dot: true })) {
      return false;
    }
  }
  return parts.length > segments.length;
}

/**
 * Hard-link a file of the build's own folder at `destination`; false when the file has another
 * name (it may be a source or host file the build linked in: not the build's to hand out) or the
 * file system cannot link (another device...).
 */
function tryLinkOwnFile(source: string, destination: string): boolean {
  if (lstatSync(source).nlink !== 1) {
    return false;
  }
  try {
    linkSync(source, destination);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EXDEV' || code === 'EPERM' || code === 'EMLINK' || code === 'ENOTSUP' || code === 'EACCES') {
      return false;
    }
    throw error;
  }
}

/** `base-directory` may be a pattern matching several top-level folders (`my-build*`). */
async function expandBaseDirectories(srcDir: string, base: string): Promise<string[]> {
  if (base === '' || base === '.') {
    return ['.'];
  }
  if (!isDynamicPattern(base)) {
    try {
      const info = await stat(resolve(srcDir, base));
      return info.isDirectory() ? [base] : [];
    } catch {
      return [];
    }
  }
  const matches = await glob([base], { cwd: srcDir, onlyDirectories: true, dot: true, expandDirectories: false });
  return matches.map((match) => match.replace(/\/$/, '')).sort();
}

function stripDotSlash(pattern: string): string {
  return pattern.startsWith('./') ? pattern.slice(2) : pattern;
}

/** Run `task` over `items`, at most `limit` at a time. */
async function forEachLimited<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await task(item);
    }
  });
  await Promise.all(workers);
}

/** Whether `child` is `parent` or inside it. */
export function isInside(parent: string, child: string): boolean {
  const rel = relative(resolve(parent), resolve(child));
  return rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep) && rel !== '..');
}
