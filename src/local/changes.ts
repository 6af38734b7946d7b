/**
 * What changed, and which services it touches: `run --changed` and `plan --changed`.
 *
 * A service runs when a file it follows changed since its last successful run (or since a ref
 * the user names): a file below its `source.directory` or matching its `dependsOn`, the same
 * patterns CodePipeline's trigger filters by (`plan.source.triggerPaths`). A service whose
 * folder is its repository follows every file of it. The changes are git's, between that commit
 * and the working tree (a local run takes the working tree, uncommitted changes included):
 * modified, added (untracked ones too), deleted, and both sides of a rename. What the Source
 * snapshot leaves out (`node_modules`, `.pipeline`, `.service-pipelines`...) changes nothing.
 */
import path from 'node:path';
import { InputError } from '../model/errors.js';
import { buildPipelinePlan, repositoryFolderOf } from '../model/plan.js';
import type { PipelinePlan } from '../model/plan-schema.js';
import { triggerPathsMatcher } from '../model/trigger-paths.js';
import type { ValidConfig } from '../model/validate.js';
import { runCaptured, type Processes } from '../runtime/process.js';
import { SNAPSHOT_EXCLUDES } from './source-snapshot.js';
import type { ExecutionRecord, StateStore } from './state-store.js';

/** A changed file, relative to the repository's root; a rename names where it came from. */
export interface ChangedFile {
  readonly path: string;
  readonly renamedFrom?: string;
}

/** A changed file that a service follows, and the pattern it matched. */
export interface TouchedFile {
  readonly path: string;
  readonly pattern: string;
  readonly renamedFrom?: string;
}

/** The commit a service's changes are counted from. */
export interface ChangesBase {
  readonly commit: string;
  /** `since`: the ref given (`--since`); `last-success`: the service's last successful run. */
  readonly from: 'since' | 'last-success';
  /** The ref as given, with `since`. */
  readonly ref?: string;
  /** The last successful run, with `last-success`. */
  readonly executionId?: string;
}

/** Whether a service runs, and why. */
export interface ServiceChanges {
  readonly service: string;
  readonly runs: boolean;
  /** Why, in a sentence: the files that changed, or why nothing could be compared. */
  readonly reason: string;
  /** What the changes were counted from, when there was something to count from. */
  readonly base?: ChangesBase;
  /** The changed files the service follows (every one; `reason` names the first). */
  readonly touched: readonly TouchedFile[];
}

/** A service that cannot run here. */
export interface SkippedService {
  readonly service: string;
  readonly reason: string;
}

/** What changed for each service of a config. */
export interface ChangedServices {
  /** The services that can run here, in the config's order. */
  readonly services: readonly ServiceChanges[];
  /** The services without a folder on this machine (`source.path`). */
  readonly skipped: readonly SkippedService[];
}

/** A service's last successful run: its commit, and the execution. */
export interface LastSuccess {
  readonly commit: string;
  readonly executionId: string;
}

/** What `changedServices` needs. */
export interface ChangedServicesOptions {
  readonly config: ValidConfig;
  /** The folder `source.path` is relative to (the config file's). */
  readonly baseDir: string;
  readonly processes: Processes;
  /**
   * Count every service's changes from this ref (a commit, branch or tag of its repository).
   *
   * @default - each service's last successful run (`lastSuccess`)
   */
  readonly since?: string;
  /**
   * The last successful run of a pipeline, by its plan.
   *
   * @default - none: every service runs
   */
  readonly lastSuccess?: (plan: PipelinePlan) => LastSuccess | undefined;
  /** Which pipeline of each service: the main one, or the test-only pull-request one. @default 'push' */
  readonly trigger?: 'push' | 'pull-request';
}

/** A git repository on this machine, and where a service's clone is in it. */
interface Repository {
  readonly toplevel: string;
}

/**
 * Which services changed. Git runs once per repository and base commit, whatever the number of
 * services that share them.
 *
 * @throws InputError when `since` is not a commit of a service's repository
 */
export async function changedServices(options: ChangedServicesOptions): Promise<ChangedServices> {
  const git = new Git(options.processes);
  const skipped: SkippedService[] = [];
  const decisions: Array<Promise<ServiceChanges>> = [];
  for (const service of options.config.services) {
    if (service.source.path === undefined) {
      skipped.push({ service: service.name, reason: 'no source.path: it has no folder on this machine (AWS only)' });
      continue;
    }
    const plan = buildPipelinePlan(options.config, service.name, options.trigger ?? 'push');
    const folder = path.resolve(options.baseDir, service.source.path);
    // The clone's root: the folder of the repository that `source.directory` is relative to.
    const clone = repositoryFolderOf(folder, plan.source.directory) ?? folder;
    decisions.push(decide(plan, clone, options, git));
  }
  return { services: await Promise.all(decisions), skipped };
}

async function decide(plan: PipelinePlan, clone: string, options: ChangedServicesOptions, git: Git): Promise<ServiceChanges> {
  const service = plan.service;
  const repository = await git.repository(clone);
  if (repository === undefined) {
    return { service, runs: true, reason: `${clone} is not in a git repository: nothing to compare with`, touched: [] };
  }
  let base: ChangesBase;
  if (options.since !== undefined) {
    const commit = await git.resolve(repository, options.since);
    if (commit === undefined) {
      throw new InputError(`--since ${options.since}: not a commit of the repository at ${repository.toplevel}`, [
        { where: '--since', message: `give a commit, branch or tag of ${repository.toplevel} (service ${service})` },
      ]);
    }
    base = { commit, from: 'since', ref: options.since };
  } else {
    const last = options.lastSuccess?.(plan);
    if (last === undefined) {
      return { service, runs: true, reason: 'no successful run yet to compare with', touched: [] };
    }
    if (!(await git.hasCommit(repository, last.commit))) {
      return {
        service,
        runs: true,
        reason: `its last successful run (execution ${last.executionId.slice(0, 8)}) took commit ${last.commit.slice(0, 7)}, which this clone lacks: nothing to compare with`,
        touched: [],
      };
    }
    base = { commit: last.commit, from: 'last-success', executionId: last.executionId };
  }
  const changes = await git.changesSince(repository, base.commit);
  // The service's patterns are relative to its clone's root; git's paths to the repository's.
  const prefix = path.relative(repository.toplevel, clone).split(path.sep).filter(Boolean).join('/');
  const matcher = triggerPathsMatcher(plan.source.triggerPaths);
  const inClone = (file: string): string | undefined => (prefix === '' ? file : file.startsWith(`${prefix}/`) ? file.slice(prefix.length + 1) : undefined);
  const touched: TouchedFile[] = [];
  const patternOf = (side: string): string | undefined => {
    const file = inClone(side);
    return file === undefined || leftOutOfSnapshots(file) ? undefined : matcher(file);
  };
  for (const change of changes) {
    // A rename touches the service it leaves and the one it joins.
    const pattern = patternOf(change.path) ?? (change.renamedFrom === undefined ? undefined : patternOf(change.renamedFrom));
    if (pattern !== undefined) {
      touched.push({ path: inClone(change.path) ?? change.path, pattern, ...(change.renamedFrom === undefined ? {} : { renamedFrom: inClone(change.renamedFrom) ?? change.renamedFrom }) });
    }
  }
  const since = describeBase(base);
  if (touched.length === 0) {
    return { service, runs: false, reason: `nothing it follows changed since ${since}`, base, touched };
  }
  const first = touched[0]!;
  const what = first.renamedFrom === undefined ? first.path : `${first.renamedFrom} → ${first.path}`;
  const more = touched.length > 1 ? ` and ${touched.length - 1} more file${touched.length === 2 ? '' : 's'}` : '';
  const why = plan.source.triggerPaths.length === 0 ? '' : ` (${first.pattern})`;
  return { service, runs: true, reason: `${what}${why}${more} changed since ${since}`, base, touched };
}

function describeBase(base: ChangesBase): string {
  return base.from === 'since'
    ? `${base.ref}${base.ref === base.commit ? '' : ` (${base.commit.slice(0, 7)})`}`
    : `${base.commit.slice(0, 7)}, its last successful run`;
}

/** Whether the Source snapshot leaves a path out (so that changing it changes nothing a run sees). */
function leftOutOfSnapshots(file: string): boolean {
  return file.split('/').some((segment) => SNAPSHOT_EXCLUDES.has(segment));
}

/**
 * The last successful run of a pipeline that went at least as far as a run `until` an
 * environment goes: a run stopped after dev is no base for one that deploys to prod. Only runs of
 * a commit count (a folder outside git has none to compare with).
 */
export function lastSuccessfulRun(store: StateStore, plan: PipelinePlan, until?: string): LastSuccess | undefined {
  const order = plan.environments.map((e) => e.name);
  const reaches = (execution: ExecutionRecord): boolean =>
    execution.untilEnvironment === null || (until !== undefined && order.indexOf(execution.untilEnvironment) >= order.indexOf(until));
  const found = store
    .executions({ service: plan.service })
    .find((e) => e.pipeline === plan.pipelineName && e.status === 'SUCCEEDED' && /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/.test(e.sourceRevision ?? '') && reaches(e));
  return found ? { commit: found.sourceRevision!, executionId: found.id } : undefined;
}

/**
 * The files that differ between two commits of a repository (`to` undefined: the working tree,
 * untracked files included), renames with both sides.
 */
export async function changedFiles(processes: Processes, folder: string, from: string, to?: string): Promise<ChangedFile[] | undefined> {
  const git = new Git(processes);
  const repository = await git.repository(folder);
  if (repository === undefined || !(await git.hasCommit(repository, from)) || (to !== undefined && !(await git.hasCommit(repository, to)))) {
    return undefined;
  }
  const changes = await git.changesSince(repository, from, to);
  const prefix = path.relative(repository.toplevel, path.resolve(folder)).split(path.sep).filter(Boolean).join('/');
  if (prefix === '') {
    return changes;
  }
  const inFolder = (file: string) => (file.startsWith(`${prefix}/`) ? file.slice(prefix.length + 1) : undefined);
  return changes.flatMap((change) => {
    const file = inFolder(change.path);
    const renamedFrom = change.renamedFrom === undefined ? undefined : inFolder(change.renamedFrom);
    if (file === undefined && renamedFrom === undefined) return [];
    // A file moved into or out of the folder is, for the folder, added or deleted.
    return [{ path: file ?? renamedFrom!, ...(file !== undefined && renamedFrom !== undefined ? { renamedFrom } : {}) }];
  });
}

/** The git commands the decision needs, each run once per repository (and base). */
class Git {
  private readonly repositories = new Map<string, Promise<Repository | undefined>>();
  private readonly diffs = new Map<string, Promise<ChangedFile[]>>();
  private readonly untracked = new Map<string, Promise<string[]>>();
  private readonly commits = new Map<string, Promise<boolean>>();

  constructor(private readonly processes: Processes) {}

  repository(folder: string): Promise<Repository | undefined> {
    return memo(this.repositories, folder, async () => {
      const top = await this.run(folder, ['rev-parse', '--show-toplevel']);
      return top.code === 0 ? { toplevel: path.resolve(top.stdout.trim()) } : undefined;
    });
  }

  async resolve(repository: Repository, ref: string): Promise<string | undefined> {
    if (ref.startsWith('-')) {
      return undefined;
    }
    const resolved = await this.run(repository.toplevel, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`]);
    return resolved.code === 0 ? resolved.stdout.trim() : undefined;
  }

  hasCommit(repository: Repository, commit: string): Promise<boolean> {
    return memo(this.commits, `${repository.toplevel}\0${commit}`, async () => (await this.resolve(repository, commit)) !== undefined);
  }

  /** What differs from `base` (to the working tree, untracked files included, or to a commit). */
  changesSince(repository: Repository, base: string, to?: string): Promise<ChangedFile[]> {
    return memo(this.diffs, `${repository.toplevel}\0${base}\0${to ?? ''}`, async () => {
      const [diff, untracked] = await Promise.all([
        this.run(repository.toplevel, ['diff', '--name-status', '-z', '-M', '--no-ext-diff', '--no-textconv', base, ...(to === undefined ? [] : [to]), '--']),
        to === undefined ? this.untrackedFiles(repository) : Promise.resolve([]),
      ]);
      if (diff.code !== 0) {
        throw new InputError(`git diff ${base.slice(0, 12)} failed in ${repository.toplevel}`, [{ where: repository.toplevel, message: firstLine(diff.stderr) || `git exited with ${String(diff.code)}` }]);
      }
      return [...parseNameStatus(diff.stdout), ...untracked.map((file) => ({ path: file }))];
    });
  }

  private untrackedFiles(repository: Repository): Promise<string[]> {
    return memo(this.untracked, repository.toplevel, async () => {
      const listed = await this.run(repository.toplevel, ['ls-files', '--others', '--exclude-standard', '-z']);
      return listed.code === 0 ? listed.stdout.split('\0').filter(Boolean) : [];
    });
  }

  private async run(cwd: string, args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    try {
      return await runCaptured(this.processes, 'git', args, { cwd, env: { ...process.env, GIT_OPTIONAL_LOCKS: '0', GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' } });
    } catch (error) {
      // No git on this machine, or the folder is gone: nothing to compare with.
      return { code: null, stdout: '', stderr: error instanceof Error ? error.message : String(error) };
    }
  }
}

/** `git diff --name-status -z`: a status, then one path (two for a rename or a copy). */
export function parseNameStatus(output: string): ChangedFile[] {
  const fields = output.split('\0');
  const files: ChangedFile[] = [];
  for (let i = 0; i < fields.length; ) {
    const status = fields[i++];
    if (!status) continue;
    if (status.startsWith('R') || status.startsWith('C')) {
      const from = fields[i++]!;
      const to = fields[i++]!;
      files.push(status.startsWith('R') ? { path: to, renamedFrom: from } : { path: to });
    } else {
      files.push({ path: fields[i++]! });
    }
  }
  return files;
}

function memo<T>(cache: Map<string, Promise<T>>, key: string, compute: () => Promise<T>): Promise<T> {
  let value = cache.get(key);
  if (value === undefined) {
    value = compute();
    cache.set(key, value);
  }
  return value;
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? '';
}
