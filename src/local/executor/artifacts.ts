/**
 * Artifact collection: the files an `artifacts` (or secondary artifact) definition selects, laid out
 * in a folder as CodeBuild lays them out in its zip. Files are hard-linked, not copied (a copy only
 * across file systems), so collecting a large tree costs a link per file.
 */
import { constants as fsConstants, linkSync, mkdirSync, readdirSync, readlinkSync, realpathSync, statSync, symlinkSync } from 'node:fs';
import { copyFile, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
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
  /** How many files. */
  readonly files: number;
  /** Files that were copied because a hard link was not possible. */
  readonly copied: number;
}

/** Options of `collectArtifact`. */
export interface CollectArtifactOptions {
  /** The build's source folder (`CODEBUILD_SRC_DIR`): paths are relative to it. */
  readonly srcDir: string;
  readonly artifact: BuildspecArtifact;
  /** The folder to fill; emptied first. */
  readonly destination: string;
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

/**
 * Collect one artifact into `destination`.
 *
 * @throws ArtifactError when the base directory or the files match nothing, as CodeBuild fails then
 */
export async function collectArtifact(options: CollectArtifactOptions): Promise<CollectedArtifact> {
  const { srcDir, artifact, destination } = options;
  const log = options.log ?? (() => undefined);
  const discardPaths = isYes(artifact['discard-paths']);
  const keepSymlinks = isYes(artifact['enable-symlinks']);
  const patterns = (artifact.files ?? []).map(stripDotSlash);
  const exclude = (artifact['exclude-paths'] ?? []).map(stripDotSlash);
  const skip = (options.skip ?? []).map((folder) => resolve(folder));

  const baseSpec = artifact['base-directory'] ?? '.';
  log(`Expanding base directory path: ${baseSpec}`);
  const bases = await expandBaseDirectories(srcDir, stripDotSlash(baseSpec));
  if (bases.length === 0) {
    throw new ArtifactError(`no matching base directory path found for ${baseSpec}`);
  }

  // destination path (relative) → source path (absolute); the first file to claim a path keeps it.
  const plan = new Map<string, string>();
  let duplicates = 0;
  log('Assembling file list');
  for (const base of bases) {
    const baseDir = resolve(srcDir, base);
    if (!isInside(srcDir, baseDir)) {
      // An artifact holds build output: what is outside the build's folder is not that.
      throw new ArtifactError(`base-directory ${base} is outside the source folder`);
    }
    log(`Expanding file paths for base directory ${base}`);
    if (patterns.length === 0) {
      continue;
    }
    for (const pattern of patterns) {
      log(`Expanding ${pattern}`);
    }
    // The AWS documentation is silent on a pattern naming a folder (`dist`); it selects what is
    // below it here, which is what `files: [dist]` is written for.
    const files = await glob(patterns, { cwd: baseDir, dot: true, onlyFiles: true, ignore: exclude, expandDirectories: true, followSymbolicLinks: true });
    for (const file of files) {
      if (skip.some((folder) => isInside(folder, join(baseDir, file))) || !isInside(srcDir, join(baseDir, file))) {
        continue;
      }
      const target = discardPaths ? basename(file) : file;
      if (plan.has(target)) {
        duplicates++;
        continue;
      }
      plan.set(target, join(baseDir, file));
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
  // costs a fraction of one thread-pool round trip per file. Copies (across file systems) are
  // real I/O and go through the thread pool.
  const toCopy: Array<[string, string]> = [];
  const entries = [...plan.entries()];
  const symlinks = new SymlinkIndex();
  for (let index = 0; index < entries.length; index += SLICE) {
    for (const [target, source] of entries.slice(index, index + SLICE)) {
      const destinationFile = join(destination, target);
      let from = source;
      if (symlinks.isSymlink(source)) {
        if (keepSymlinks) {
          symlinkSync(readlinkSync(source), destinationFile);
          continue;
        }
        // The file the symlink points to, not the symlink itself (link(2) does not follow it).
        from = realpathSync(source);
        if (!statSync(from).isFile()) {
          continue;
        }
      }
      if (!tryLink(from, destinationFile)) {
        toCopy.push([from, destinationFile]);
      }
    }
    await new Promise<void>((resolveSlice) => setImmediate(resolveSlice));
  }
  await forEachLimited(toCopy, CONCURRENCY, async ([from, to]) => {
    await copyFile(from, to, fsConstants.COPYFILE_FICLONE);
  });
  const copied = toCopy.length;
  return { directory: destination, files: plan.size, copied };
}

/**
 * Which files are symbolic links, read one folder at a time (a folder's entries carry their
 * type), instead of one lstat per file.
 */
class SymlinkIndex {
  private readonly byFolder = new Map<string, Set<string>>();

  isSymlink(path: string): boolean {
    const folder = dirname(path);
    let links = this.byFolder.get(folder);
    if (links === undefined) {
      links = new Set(
        readdirSync(folder, { withFileTypes: true })
          .filter((entry) => entry.isSymbolicLink())
          .map((entry) => entry.name),
      );
      this.byFolder.set(folder, links);
    }
    return links.has(basename(path));
  }
}

/** Hard-link `source` at `destination`; false when the file system cannot (another device...). */
function tryLink(source: string, destination: string): boolean {
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
