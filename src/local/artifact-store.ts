/**
 * The content-addressed artifact store (`<home>/artifacts/`). A file's bytes are kept once, as a
 * read-only blob named by its sha256; an artifact is a tree manifest naming its blobs, identified
 * by the manifest's sha256. Promoting an artifact from stage to stage hands out the same stored
 * tree (or hard links to its blobs), never a copy, and since blobs are read-only no action can
 * change a stored artifact through a link.
 *
 * What is stored is the folder's own content: a symbolic link is stored as a link (its target is
 * never read, whether inside the folder or out of it), a folder reached through a link is not
 * stored by link, and a file is taken by hard link only when it has no other name (else it may be
 * a source or host file the build linked in, which the store must neither make read-only nor
 * share): it is copied then.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, constants as fsConstants, readdirSync, readFileSync } from 'node:fs';
import { chmod, copyFile, link, lstat, mkdir, readdir, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FailureError } from '../model/errors.js';

/** One entry of a tree manifest. */
export type TreeEntry =
  | { readonly path: string; readonly type: 'file'; readonly blob: string; readonly executable: boolean; readonly size: number }
  | { readonly path: string; readonly type: 'symlink'; readonly target: string }
  | { readonly path: string; readonly type: 'dir' };

/** An artifact in the store. */
export interface StoredArtifact {
  /** `sha256:<hex>` of the tree manifest. */
  readonly digest: string;
  /** The read-only folder holding the artifact's files (hard links to the blobs). */
  readonly path: string;
  readonly bytes: number;
  readonly files: number;
}

/** Options of `ArtifactStore.put`. */
export interface PutOptions {
  /**
   * How files get into the store: `link` takes the file itself (a hard link, then made
   * read-only: for folders nobody writes to again, such as a finished action's output);
   * `copy` copies the bytes (for folders that stay someone else's, such as the user's source).
   *
   * @default 'link'
   */
  readonly mode?: 'link' | 'copy';
  /** Names of files or folders to leave out, at any depth. @default - none */
  readonly exclude?: ReadonlySet<string>;
}

/** What an artifact store holds (see `ArtifactStore.inventory`). */
export interface StoreInventory {
  /** Each stored artifact: its digest, and its files in the store (its tree folder, its manifest). */
  readonly artifacts: ReadonlyArray<{ readonly digest: string; readonly paths: readonly string[] }>;
  /** Every blob's file. */
  readonly blobs: readonly string[];
  /** What interrupted writes left. */
  readonly leftovers: readonly string[];
}

/** Stores and hands out artifacts by content. */
export class ArtifactStore {
  private readonly blobs: string;
  private readonly trees: string;

  constructor(
    /** The store's folder, `<home>/artifacts`. */
    readonly root: string,
  ) {
    this.blobs = path.join(root, 'blobs');
    this.trees = path.join(root, 'trees');
  }

  /**
   * Store the contents of a folder as one artifact.
   *
   * @throws FailureError when, by `link`, the folder is a symbolic link (an action's output is a
   *   folder of its own workspace, never a way to another one)
   */
  async put(folder: string, options: PutOptions = {}): Promise<StoredArtifact> {
    const mode = options.mode ?? 'link';
    if (mode === 'link' && (await lstat(folder)).isSymbolicLink()) {
      throw new FailureError(`${folder} is a symbolic link to ${await readlink(folder)}: an artifact is stored from a folder of the build's own, never through a link`);
    }
    const entries: TreeEntry[] = [];
    await mkdir(this.blobs, { recursive: true });
    await mkdir(this.trees, { recursive: true });
    await this.walk(folder, '', options.exclude ?? new Set(), mode, entries);
    entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const manifest = JSON.stringify({ version: 1, entries });
    const hex = createHash('sha256').update(manifest).digest('hex');
    const treePath = path.join(this.trees, hex);
    if (!(await exists(treePath))) {
      await this.buildTree(hex, entries, manifest);
    }
    const files = entries.filter((e) => e.type === 'file');
    return { digest: `sha256:${hex}`, path: treePath, bytes: files.reduce((sum, e) => sum + e.size, 0), files: files.length };
  }

  /** The read-only folder of a stored artifact. */
  pathOf(digest: string): string {
    return path.join(this.trees, hexOf(digest));
  }

  /** The manifest of a stored artifact. */
  async manifest(digest: string): Promise<TreeEntry[]> {
    const text = await readFile(path.join(this.trees, `${hexOf(digest)}.json`), 'utf8');
    return (JSON.parse(text) as { entries: TreeEntry[] }).entries;
  }

  /**
   * Lay an artifact out in `destination` as a writable folder. With `link`, its files are hard
   * links to the read-only blobs: new files can be added and files replaced, stored bytes cannot
   * change. Mode bits do not bind root, though: for a process running as root, `copy` (a reflink
   * where the file system has them) is what keeps the store intact.
   */
  async materialize(digest: string, destination: string, mode: 'link' | 'copy' = 'link'): Promise<void> {
    const entries = await this.manifest(digest);
    await mkdir(destination, { recursive: true });
    const created = new Set<string>();
    const ensureDir = async (relative: string) => {
      if (relative === '' || relative === '.' || created.has(relative)) {
        return;
      }
      await mkdir(path.join(destination, relative), { recursive: true });
      created.add(relative);
    };
    for (const entry of entries) {
      const target = path.join(destination, entry.path);
      if (entry.type === 'dir') {
        await ensureDir(entry.path);
      } else if (entry.type === 'symlink') {
        await ensureDir(path.dirname(entry.path));
        await symlink(entry.target, target);
      } else {
        await ensureDir(path.dirname(entry.path));
        if (mode === 'link') {
          await linkOrCopy(this.blobPath(entry.blob, entry.executable), target);
        } else {
          await copyFile(this.blobPath(entry.blob, entry.executable), target, fsConstants.COPYFILE_FICLONE);
          await chmod(target, entry.executable ? 0o755 : 0o644);
        }
      }
    }
  }

  /** Where the blob of a file entry of a manifest lives. */
  blobOf(entry: { readonly blob: string; readonly executable: boolean }): string {
    return this.blobPath(entry.blob, entry.executable);
  }

  /**
   * What the store holds, as files and folders: each stored artifact (its read-only tree and its
   * manifest), each blob, and what interrupted writes left (temporary names), for housekeeping.
   */
  inventory(): StoreInventory {
    const artifacts = new Map<string, string[]>();
    const leftovers: string[] = [];
    for (const name of listSync(this.trees)) {
      if (name.startsWith('.')) {
        leftovers.push(path.join(this.trees, name));
        continue;
      }
      const hex = name.replace(/\.json$/, '');
      artifacts.set(hex, [...(artifacts.get(hex) ?? []), path.join(this.trees, name)]);
    }
    const blobs: string[] = [];
    for (const prefix of listSync(this.blobs)) {
      for (const name of listSync(path.join(this.blobs, prefix))) {
        (name.endsWith('.tmp') ? leftovers : blobs).push(path.join(this.blobs, prefix, name));
      }
    }
    return { artifacts: [...artifacts].map(([hex, paths]) => ({ digest: `sha256:${hex}`, paths })), blobs, leftovers };
  }

  /** The manifest of a stored artifact, read at once; empty when it cannot be read (a leftover). */
  manifestSync(digest: string): TreeEntry[] {
    try {
      return (JSON.parse(readFileSync(path.join(this.trees, `${hexOf(digest)}.json`), 'utf8')) as { entries: TreeEntry[] }).entries;
    } catch {
      return [];
    }
  }

  private blobPath(hex: string, executable: boolean): string {
    return path.join(this.blobs, hex.slice(0, 2), executable ? `${hex}.x` : hex);
  }

  private async walk(root: string, relative: string, exclude: ReadonlySet<string>, mode: 'link' | 'copy', out: TreeEntry[]): Promise<void> {
    const dirents = await readdir(path.join(root, relative), { withFileTypes: true });
    if (relative !== '' && dirents.length === 0) {
      out.push({ path: relative, type: 'dir' });
    }
    for (const dirent of dirents) {
      if (exclude.has(dirent.name)) {
        continue;
      }
      const child = relative === '' ? dirent.name : `${relative}/${dirent.name}`;
      const absolute = path.join(root, child);
      if (dirent.isDirectory()) {
        await this.walk(root, child, exclude, mode, out);
      } else if (dirent.isSymbolicLink()) {
        out.push({ path: child, type: 'symlink', target: await readlink(absolute) });
      } else if (dirent.isFile()) {
        const info = await lstat(absolute);
        const executable = (info.mode & 0o111) !== 0;
        const hex = await sha256File(absolute);
        // A file with another name is not the build's own: copied, so the store never shares it.
        await this.storeBlob(absolute, hex, executable, info.nlink === 1 ? mode : 'copy');
        out.push({ path: child, type: 'file', blob: hex, executable, size: info.size });
      }
      // Sockets, FIFOs and devices are not artifact content: CodeBuild does not upload them either.
    }
  }

  private async storeBlob(file: string, hex: string, executable: boolean, mode: 'link' | 'copy'): Promise<void> {
    const blob = this.blobPath(hex, executable);
    if (await exists(blob)) {
      return;
    }
    await mkdir(path.dirname(blob), { recursive: true });
    // Written under a temporary name then renamed, so a concurrent run never sees half a blob.
    const temporary = `${blob}.${randomUUID()}.tmp`;
    if (mode === 'link') {
      await linkOrCopy(file, temporary);
    } else {
      await copyFile(file, temporary, fsConstants.COPYFILE_FICLONE);
    }
    await chmod(temporary, executable ? 0o555 : 0o444);
    await rename(temporary, blob);
  }

  private async buildTree(hex: string, entries: readonly TreeEntry[], manifest: string): Promise<void> {
    const temporary = path.join(this.trees, `.${hex}.${randomUUID()}.tmp`);
    await writeFile(path.join(this.trees, `${hex}.json`), manifest);
    const dirs = new Set<string>(['']);
    for (const entry of entries) {
      for (let dir = entry.type === 'dir' ? entry.path : path.posix.dirname(entry.path); dir !== '.' && dir !== ''; dir = path.posix.dirname(dir)) {
        dirs.add(dir);
      }
    }
    for (const dir of [...dirs].sort()) {
      await mkdir(path.join(temporary, dir), { recursive: true });
    }
    for (const entry of entries) {
      if (entry.type === 'file') {
        await linkOrCopy(this.blobPath(entry.blob, entry.executable), path.join(temporary, entry.path));
      } else if (entry.type === 'symlink') {
        await symlink(entry.target, path.join(temporary, entry.path));
      }
    }
    // Deepest first, so that a parent is made read-only after its children are done.
    for (const dir of [...dirs].sort((a, b) => b.length - a.length)) {
      await chmod(path.join(temporary, dir), 0o555);
    }
    try {
      await rename(temporary, path.join(this.trees, hex));
    } catch (error) {
      // Another run stored the same tree first: theirs is identical.
      await removeReadOnly(temporary);
      if (!(await exists(path.join(this.trees, hex)))) {
        throw error;
      }
    }
  }
}

/** Remove a folder even when its sub-folders are read-only (as stored trees are). */
export async function removeReadOnly(folder: string): Promise<void> {
  const chmodTree = async (dir: string): Promise<void> => {
    try {
      await chmod(dir, 0o755);
    } catch {
      return;
    }
    for (const dirent of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (dirent.isDirectory()) {
        await chmodTree(path.join(dir, dirent.name));
      }
    }
  };
  await chmodTree(folder);
  await rm(folder, { recursive: true, force: true });
}

async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK') {
      throw error;
    }
    // Another file system (or no hard links there): a copy keeps the content identical.
    await copyFile(from, to, fsConstants.COPYFILE_FICLONE);
  }
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}

async function exists(file: string): Promise<boolean> {
  try {
    await lstat(file);
    return true;
  } catch {
    return false;
  }
}

function listSync(folder: string): string[] {
  try {
    return readdirSync(folder).sort();
  } catch {
    return [];
  }
}

function hexOf(digest: string): string {
  const hex = digest.startsWith('sha256:') ? digest.slice('sha256:'.length) : digest;
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new Error(`not an artifact digest: ${digest}`);
  }
  return hex;
}
