/**
 * The Source action of a local run: a snapshot of the service folder, stored as the `Source`
 * artifact, with the git commit it was taken at (CodePipeline's source revision).
 */
import { stat } from 'node:fs/promises';
import { InputError } from '../model/errors.js';
import { runCaptured, type Processes } from '../runtime/process.js';
import type { ArtifactStore, StoredArtifact } from './artifact-store.js';

/** What a snapshot leaves out: installed dependencies, VCS data, build output and local state. */
export const SNAPSHOT_EXCLUDES: ReadonlySet<string> = new Set(['node_modules', '.git', '.serverless', '.pipeline', '.service-pipelines']);

/** A taken snapshot. */
export interface SourceSnapshot {
  readonly artifact: StoredArtifact;
  /** The git commit (`HEAD`), when the folder is in a git repository. */
  readonly commit?: string;
  /** The branch checked out, when there is one. */
  readonly branch?: string;
  /** Whether the folder had uncommitted changes (they are in the snapshot). */
  readonly dirty: boolean;
  /** `CODEBUILD_RESOLVED_SOURCE_VERSION`: the commit, else the snapshot's digest. */
  readonly resolvedVersion: string;
}

/**
 * Snapshot `folder` into the store (a copy: the user's files stay theirs).
 *
 * @param where where the folder was configured, for error messages (`services[0].source.path`)
 * @throws InputError when the folder does not exist or is not a folder
 */
export async function snapshotSource(folder: string, store: ArtifactStore, processes: Processes, where: string): Promise<SourceSnapshot> {
  const info = await stat(folder).catch(() => undefined);
  if (!info) {
    throw new InputError(`the source folder ${folder} does not exist`, [{ where, message: `no folder at ${folder}` }]);
  }
  if (!info.isDirectory()) {
    throw new InputError(`the source ${folder} is not a folder`, [{ where, message: `${folder} is a file; give the service's folder` }]);
  }
  const git = await gitState(folder, processes);
  const artifact = await store.put(folder, { mode: 'copy', exclude: SNAPSHOT_EXCLUDES });
  return {
    artifact,
    ...(git.commit ? { commit: git.commit } : {}),
    ...(git.branch ? { branch: git.branch } : {}),
    dirty: git.dirty,
    resolvedVersion: git.commit ?? artifact.digest.slice('sha256:'.length),
  };
}

async function gitState(folder: string, processes: Processes): Promise<{ commit?: string; branch?: string; dirty: boolean }> {
  const git = async (...args: string[]) => {
    try {
      return await runCaptured(processes, 'git', ['-C', folder, ...args], { env: { ...process.env, GIT_OPTIONAL_LOCKS: '0', LC_ALL: 'C' } });
    } catch {
      // No git on this machine: the folder is taken as it is.
      return undefined;
    }
  };
  const head = await git('rev-parse', '--verify', '-q', 'HEAD');
  if (!head || head.code !== 0) {
    const inside = await git('rev-parse', '--is-inside-work-tree');
    // A repository without a commit yet: everything in it is uncommitted.
    return { dirty: inside?.code === 0 && inside.stdout.trim() === 'true' };
  }
  const [status, branch] = await Promise.all([git('status', '--porcelain', '--untracked-files=normal', '--', '.'), git('symbolic-ref', '--short', '-q', 'HEAD')]);
  const branchName = branch?.code === 0 ? branch.stdout.trim() : '';
  return {
    commit: head.stdout.trim(),
    ...(branchName ? { branch: branchName } : {}),
    dirty: status?.code === 0 ? status.stdout.trim().length > 0 : false,
  };
}
