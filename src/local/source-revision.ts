/**
 * The Source of a run started for a commit (a webhook's sha): the service's folder as it is in
 * that commit, not as it is in the working tree. Like CodePipeline's source action, it is an
 * archive of the commit (`git archive`, which honours `export-ignore` as GitHub's archives do),
 * taken from the git repository that holds `source.path`; a commit that repository lacks is
 * fetched from its remote first.
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { FailureError } from '../model/errors.js';
import { runCaptured, type Processes } from '../runtime/process.js';

/** What `checkoutRevision` needs. */
export interface CheckoutRevisionOptions {
  /** The service's folder (`source.path`), in a git repository. */
  readonly sourcePath: string;
  /** The commit, as the webhook names it. */
  readonly revision: string;
  /** An empty folder to lay the service's folder of that commit out in. */
  readonly into: string;
  readonly processes: Processes;
  /** The service's GitHub repository (`owner/repo`), to pick its remote among several. */
  readonly githubRepository?: string;
}

/** A checked-out commit. */
export interface CheckedOutRevision {
  /** The full commit id. */
  readonly commit: string;
  /** Where the service's folder of that commit is laid out (`into`). */
  readonly folder: string;
  /** The remote it was fetched from, when the repository lacked it. */
  readonly fetchedFrom?: string;
}

/**
 * Lay out the service's folder as it is in `revision`.
 *
 * @throws FailureError naming the commit and why it cannot be had (not a repository, unknown
 * commit that no remote has, the folder not in that commit)
 */
export async function checkoutRevision(options: CheckoutRevisionOptions): Promise<CheckedOutRevision> {
  const git = (args: readonly string[]) => runGit(options.processes, options.sourcePath, args);
  const top = await git(['rev-parse', '--show-toplevel', '--show-prefix']);
  if (top.code !== 0) {
    throw new FailureError(`commit ${options.revision} cannot be taken: ${options.sourcePath} is not in a git repository (${firstLine(top.stderr)})`);
  }
  const [toplevel = options.sourcePath, prefix = ''] = top.stdout.split('\n');
  let fetchedFrom: string | undefined;
  let commit = await resolveCommit(git, options.revision);
  if (commit === undefined) {
    const remote = await pickRemote(git, options.githubRepository);
    if (remote === undefined) {
      throw new FailureError(`commit ${options.revision} is not in the repository of ${options.sourcePath}, and the repository has no remote to fetch it from`);
    }
    const fetched = await git(['fetch', '--quiet', '--no-tags', '--no-write-fetch-head', remote, options.revision]);
    commit = await resolveCommit(git, options.revision);
    if (fetched.code !== 0 || commit === undefined) {
      throw new FailureError(`commit ${options.revision} is not in the repository of ${options.sourcePath}, and fetching it from ${remote} failed: ${firstLine(fetched.stderr) || 'the remote does not have it'}`);
    }
    fetchedFrom = remote;
  }
  // The service's folder of that commit (`<commit>:<prefix>`), or the whole tree at the top.
  const treeish = prefix === '' ? `${commit}^{tree}` : `${commit}:${prefix.replace(/\/$/, '')}`;
  const tree = await git(['cat-file', '-t', treeish]);
  if (tree.code !== 0 || tree.stdout.trim() !== 'tree') {
    throw new FailureError(`commit ${commit.slice(0, 12)} has no folder ${prefix.replace(/\/$/, '')}: the service's folder was added later, or moved`);
  }
  await mkdir(options.into, { recursive: true });
  const archive = path.join(options.into, '..', `${path.basename(options.into)}.tar`);
  try {
    // From the top of the repository: in a folder of it, git archive would take the path as relative to that folder.
    const archived = await runGit(options.processes, toplevel, ['archive', '--format=tar', `--output=${archive}`, treeish]);
    if (archived.code !== 0) {
      throw new FailureError(`git archive of commit ${commit.slice(0, 12)} failed: ${firstLine(archived.stderr)}`);
    }
    const extracted = await runCaptured(options.processes, 'tar', ['-x', '-f', archive, '-C', options.into]);
    if (extracted.code !== 0) {
      throw new FailureError(`extracting commit ${commit.slice(0, 12)} failed: ${firstLine(extracted.stderr)}`);
    }
  } finally {
    await rm(archive, { force: true });
  }
  return { commit, folder: options.into, ...(fetchedFrom ? { fetchedFrom } : {}) };
}

type Git = (args: readonly string[]) => Promise<{ code: number | null; stdout: string; stderr: string }>;

async function resolveCommit(git: Git, revision: string): Promise<string | undefined> {
  const resolved = await git(['rev-parse', '--verify', '--quiet', `${revision}^{commit}`]);
  return resolved.code === 0 ? resolved.stdout.trim() : undefined;
}

/** The remote whose URL names the service's GitHub repository, else `origin`, else the only one. */
async function pickRemote(git: Git, githubRepository: string | undefined): Promise<string | undefined> {
  const listed = await git(['remote', '-v']);
  const remotes = new Map<string, string>();
  for (const line of listed.stdout.split('\n')) {
    const [name, url] = line.split(/\s+/);
    if (name && url) remotes.set(name, url);
  }
  if (githubRepository) {
    const wanted = githubRepository.toLowerCase();
    for (const [name, url] of remotes) {
      if (url.toLowerCase().replace(/\.git$/, '').endsWith(wanted)) return name;
    }
  }
  if (remotes.has('origin')) return 'origin';
  return remotes.size === 1 ? [...remotes.keys()][0] : undefined;
}

async function runGit(processes: Processes, cwd: string, args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  try {
    return await runCaptured(processes, 'git', args, { cwd, env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_OPTIONAL_LOCKS: '0', LC_ALL: 'C' } });
  } catch (error) {
    return { code: null, stdout: '', stderr: error instanceof Error ? error.message : String(error) };
  }
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? '';
}
