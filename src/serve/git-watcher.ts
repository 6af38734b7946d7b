/**
 * `serve --watch`: for services whose folder is not on GitHub (or to run before pushing),
 * start a service's pipeline when its branch's commit changes in the local repository, the
 * way a push to GitHub would. It polls `git rev-parse` through the process seam, on the
 * injectable clock; the first commit seen is the starting point, not a change. A commit starts
 * only the services whose files it changed (below the service's folder, or its `dependsOn`), as
 * CodePipeline's trigger filters them.
 */
import path from 'node:path';
import type { Clock } from '../runtime/clock.js';
import { runCaptured, type Processes } from '../runtime/process.js';
import { changedFiles } from '../local/changes.js';
import { repositoryFolderOf } from '../model/plan.js';
import { triggerPathsMatcher, triggerPathsOf } from '../model/trigger-paths.js';
import type { RunStarter } from './run-starter.js';
import type { ConfiguredService } from './webhook-router.js';

/** What `GitWatcher` needs. */
export interface GitWatcherProps {
  readonly services: readonly ConfiguredService[];
  /** The folder `source.path` is relative to (the config file's). */
  readonly baseDir: string;
  readonly processes: Processes;
  readonly clock: Clock;
  readonly starter: RunStarter;
  /**
   * How often each repository is looked at, in ms.
   *
   * @default 2000
   */
  readonly intervalMs?: number;
  /** Receives a line for each thing worth telling (a run started, a folder not watched). @default - nothing */
  readonly log?: (line: string) => void;
}

/** What is watched for one service. */
interface WatchedBranch {
  readonly service: string;
  readonly folder: string;
  /** The clone the service's folder is `source.directory` of (the folder itself without one). */
  readonly clone: string;
  /** Which of the clone's paths the service follows (`triggerPaths`; none: all). */
  readonly follows: readonly string[];
  /** The branch, or undefined until resolved from the checked-out branch. */
  branch: string | undefined;
  commit: string | undefined;
  /** Set once the folder turned out not to be watchable; told once. */
  unwatchable: string | undefined;
}

/** Watches the local branches of services and starts their pipelines when they move. */
export class GitWatcher {
  private readonly watched: WatchedBranch[];
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(private readonly props: GitWatcherProps) {
    this.watched = props.services
      .filter((s) => s.source.path !== undefined)
      .map((s) => {
        const folder = path.resolve(props.baseDir, s.source.path!);
        const directory = s.source.directory ?? '.';
        return {
          service: s.name,
          folder,
          clone: repositoryFolderOf(folder, directory) ?? folder,
          follows: triggerPathsOf(directory, s.source.dependsOn),
          branch: s.source.github?.branch,
          commit: undefined,
          unwatchable: undefined,
        };
      });
  }

  /** The services watched, with their folder and branch (once known). */
  get targets(): ReadonlyArray<{ readonly service: string; readonly folder: string; readonly branch: string | undefined; readonly commit: string | undefined }> {
    return this.watched.map((w) => ({ service: w.service, folder: w.folder, branch: w.branch, commit: w.commit }));
  }

  /** Start polling (the first poll sets the starting points). */
  start(): void {
    if (this.loop) {
      return;
    }
    this.loop = (async () => {
      while (!this.stopping.signal.aborted) {
        await this.poll();
        await this.props.clock.sleep(this.props.intervalMs ?? 2_000, this.stopping.signal);
      }
    })();
  }

  /** Stop polling; resolves once the current poll ended. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }

  /**
   * Look at every watched branch once; start a run for each one whose commit changed.
   * Returns the services whose runs were started.
   */
  async poll(): Promise<string[]> {
    const started: string[] = [];
    for (const watched of this.watched) {
      if (watched.unwatchable !== undefined || this.stopping.signal.aborted) {
        continue;
      }
      const commit = await this.currentCommit(watched);
      if (commit === undefined) {
        continue;
      }
      const previous = watched.commit;
      watched.commit = commit;
      if (previous === undefined) {
        this.props.log?.(`watching ${watched.service}: branch ${watched.branch} at ${commit.slice(0, 7)} in ${watched.folder}`);
        continue;
      }
      if (previous === commit) {
        continue;
      }
      const touched = await this.touchedFile(watched, previous, commit);
      if (touched === null) {
        this.props.log?.(`${watched.service}: ${watched.branch} moved to ${commit.slice(0, 7)}, changing nothing it follows (${watched.follows.join(', ') || 'its folder'})`);
        continue;
      }
      try {
        const run = await this.props.starter.start({
          service: watched.service,
          trigger: 'push',
          reason: `commit ${commit.slice(0, 7)} on ${watched.branch} in ${watched.folder} (was ${previous.slice(0, 7)})${touched === undefined ? '' : `: ${touched} changed`}`,
          // The commit seen, not whatever the working tree holds when the run starts.
          revision: commit,
        });
        started.push(watched.service);
        this.props.log?.(`${watched.service}: ${watched.branch} moved to ${commit.slice(0, 7)}: started its pipeline (pid ${run.pid})`);
      } catch (error) {
        // The next commit tries again; retrying this one on every poll would start a storm of failures.
        this.props.log?.(`${watched.service}: ${watched.branch} moved to ${commit.slice(0, 7)} but the run could not start: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return started;
  }

  /**
   * The first changed file the service follows between two commits; null when it follows none
   * of them; undefined when the changes cannot be told (history rewritten): it runs then.
   */
  private async touchedFile(watched: WatchedBranch, previous: string, commit: string): Promise<string | null | undefined> {
    const changes = await changedFiles(this.props.processes, watched.clone, previous, commit);
    if (changes === undefined) {
      return undefined;
    }
    const matcher = triggerPathsMatcher(watched.follows);
    const touched = changes.find((c) => matcher(c.path) !== undefined || (c.renamedFrom !== undefined && matcher(c.renamedFrom) !== undefined));
    return touched === undefined ? null : touched.path;
  }

  private async currentCommit(watched: WatchedBranch): Promise<string | undefined> {
    if (watched.branch === undefined) {
      const head = await this.git(watched.folder, ['symbolic-ref', '--quiet', '--short', 'HEAD']);
      if (head.code !== 0) {
        return this.giveUp(watched, head.stderr.trim() || 'HEAD is not on a branch (detached): check out the branch to follow');
      }
      watched.branch = head.stdout.trim();
    }
    const revision = await this.git(watched.folder, ['rev-parse', '--verify', '--quiet', `refs/heads/${watched.branch}^{commit}`]);
    if (revision.code !== 0) {
      const inRepository = await this.git(watched.folder, ['rev-parse', '--git-dir']);
      if (inRepository.code !== 0) {
        return this.giveUp(watched, 'not in a git repository');
      }
      // The branch has no commit yet (a new repository): look again later.
      return undefined;
    }
    return revision.stdout.trim();
  }

  private giveUp(watched: WatchedBranch, reason: string): undefined {
    watched.unwatchable = reason;
    this.props.log?.(`not watching ${watched.service} (${watched.folder}): ${reason}`);
    return undefined;
  }

  private async git(cwd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    try {
      return await runCaptured(this.props.processes, 'git', args, { cwd, env: { ...process.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' } });
    } catch (error) {
      return { code: null, stdout: '', stderr: error instanceof Error ? error.message : String(error) };
    }
  }
}
