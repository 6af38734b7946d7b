/**
 * The copy of the source a build runs in (`buildspec run` without `--in-place`), so that a build
 * never changes the folder it was given, as a CodeBuild build works on its own checkout.
 */
import { constants as fsConstants } from 'node:fs';
import { cp, mkdtemp, realpath } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve, sep } from 'node:path';

/** Folders of a source that are the tool's own state, never part of a build's source. */
const EXCLUDED_NAMES = new Set(['.service-pipelines']);

/** Options of `copySource`. */
export interface CopySourceOptions {
  /** Folders below the source to leave out (e.g. where the artifacts go). @default - none */
  readonly exclude?: readonly string[];
  /** Where to create the build's folder. @default - the system's temporary folder */
  readonly parent?: string;
}

/** A build's own folder: the copy of the source, and room for its log. */
export interface BuildFolder {
  /** The folder holding the copy and the log. */
  readonly root: string;
  /** The copy of the source (`CODEBUILD_SRC_DIR`). */
  readonly srcDir: string;
}

/**
 * Copy `source` into a new build folder. Files are cloned where the file system can
 * (copy-on-write), else copied; symbolic links below it stay links. `source` itself may be a
 * link: the folder it leads to is copied (a copy of the link would be a way back to the source).
 */
export async function copySource(source: string, options: CopySourceOptions = {}): Promise<BuildFolder> {
  const from = await realpath(resolve(source));
  const root = await mkdtemp(join(options.parent ?? tmpdir(), 'service-pipelines-build-'));
  const srcDir = join(root, 'src');
  // Compared with the copied paths, which are below the source's real path.
  const excluded = await Promise.all((options.exclude ?? []).map((folder) => realpath(resolve(folder)).catch(() => resolve(folder))));
  await cp(from, srcDir, {
    recursive: true,
    verbatimSymlinks: true,
    mode: fsConstants.COPYFILE_FICLONE,
    filter: (path) => {
      if (path === from) {
        return true;
      }
      const rel = relative(from, path);
      if (!rel.includes(sep) && EXCLUDED_NAMES.has(basename(path))) {
        return false;
      }
      return !excluded.some((folder) => path === folder || path.startsWith(folder + sep));
    },
  });
  return { root, srcDir };
}
