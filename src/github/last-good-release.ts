/**
 * `service-pipelines github last-good`: in a rollback job, the last good release of a stage's
 * environment, found with the GitHub REST API and the workflow's token: the last run of the same
 * workflow, branch and event in which every tagged job of the stage succeeded (its acceptance
 * tests: see `taggedJobNamePrefix`), with the package digest those jobs carry and its package
 * artifact still there. The rollback job downloads that artifact (GitHub checks its digest) and
 * `step rollback` refuses it unless its manifest has the digest found here.
 */
import { FailureError, InputError } from '../model/errors.js';
import { digestOfTaggedJob, PACKAGE_OUTPUTS } from './names.js';

/** The HTTP seam: `fetch`, or a fake in tests. */
export type Fetch = (url: string, init: { headers: Record<string, string> }) => Promise<{ status: number; json(): Promise<unknown> }>;

/** Where and how to look. */
export interface LastGoodRequest {
  /** `owner/repo` (`GITHUB_REPOSITORY`). */
  readonly repository: string;
  /** The current run (`GITHUB_RUN_ID`): its workflow and branch are searched, the run itself is not. */
  readonly runId: string;
  /** The stage whose tagged jobs must have passed (`Deploy-prod`). */
  readonly stage: string;
  /**
   * The package artifact's name.
   *
   * @default 'Package'
   */
  readonly artifact?: string;
  /** The workflow's token (`github.token`, with `actions: read`). */
  readonly token: string;
  /** @default 'https://api.github.com' (`GITHUB_API_URL`) */
  readonly apiUrl?: string;
  /**
   * How many earlier runs to look at, newest first.
   *
   * @default 100
   */
  readonly maxRuns?: number;
}

/** The last good release. */
export interface LastGoodRelease {
  readonly runId: number;
  readonly runNumber: number;
  readonly headSha: string;
  readonly url: string;
  /** The sha256 of the package's `manifest.json`, as the run's package job recorded it. */
  readonly manifestSha256: string;
  /** The package artifact's id. */
  readonly artifactId: number;
}

interface Run {
  readonly id: number;
  readonly run_number: number;
  readonly head_sha: string;
  readonly html_url: string;
  readonly workflow_id: number;
  readonly head_branch: string;
  readonly event: string;
}
interface RunJob {
  readonly name: string;
  readonly conclusion: string | null;
}
interface Artifact {
  readonly id: number;
  readonly name: string;
  readonly expired: boolean;
}

/**
 * Find the last good release of a stage.
 *
 * @throws InputError when the request is incomplete
 * @throws FailureError when the API refuses, or no earlier run passed the stage with its package still kept
 */
export async function findLastGoodRelease(request: LastGoodRequest, fetch: Fetch): Promise<LastGoodRelease> {
  if (!/^[^/\s]+\/[^/\s]+$/.test(request.repository) || !/^\d+$/.test(request.runId) || request.token === '' || request.stage === '') {
    throw new InputError('cannot look for the last good release', [
      { where: 'GITHUB_REPOSITORY, GITHUB_RUN_ID, GITHUB_TOKEN, --stage', message: 'run it in a GitHub Actions job, with GITHUB_TOKEN set to the workflow token (actions: read)' },
    ]);
  }
  const artifactName = request.artifact ?? 'Package';
  const api = new GitHubApi(request.apiUrl ?? 'https://api.github.com', request.token, fetch);
  const repo = `/repos/${request.repository}`;
  const current = (await api.get(`${repo}/actions/runs/${request.runId}`)) as Run;
  const maxRuns = request.maxRuns ?? 100;
  let seen = 0;
  for (let page = 1; seen < maxRuns; page += 1) {
    const query = new URLSearchParams({ branch: current.head_branch, event: current.event, status: 'completed', per_page: '50', page: String(page) });
    const { workflow_runs: runs } = (await api.get(`${repo}/actions/workflows/${current.workflow_id}/runs?${query}`)) as { workflow_runs: Run[] };
    if (runs.length === 0) break;
    for (const run of runs) {
      if (run.id === current.id) continue;
      seen += 1;
      if (seen > maxRuns) break;
      const { jobs } = (await api.get(`${repo}/actions/runs/${run.id}/jobs?filter=latest&per_page=100`)) as { jobs: RunJob[] };
      const manifestSha256 = passedDigest(jobs, request.stage);
      if (manifestSha256 === undefined) continue;
      const { artifacts } = (await api.get(`${repo}/actions/runs/${run.id}/artifacts?name=${encodeURIComponent(artifactName)}`)) as { artifacts: Artifact[] };
      const kept = artifacts.filter((a) => a.name === artifactName && !a.expired);
      if (kept.length !== 1) {
        throw new FailureError(
          `the last good release of ${request.stage} is run ${run.run_number} (${run.html_url}), and its ${artifactName} artifact is ${kept.length === 0 ? 'gone (past its retention)' : 'not one artifact'}: nothing to roll back to`,
        );
      }
      return { runId: run.id, runNumber: run.run_number, headSha: run.head_sha, url: run.html_url, manifestSha256, artifactId: kept[0]!.id };
    }
  }
  throw new FailureError(`no earlier run of this workflow on ${current.head_branch} passed ${request.stage} (of the last ${Math.min(seen, maxRuns)}): nothing to roll back to`);
}

/** The package digest the stage's tagged jobs carry, when there are some, all passed and all carry the same one. */
function passedDigest(jobs: readonly RunJob[], stage: string): string | undefined {
  const tagged = jobs.map((job) => ({ job, digest: digestOfTaggedJob(job.name, stage) })).filter((t) => t.digest !== undefined);
  if (tagged.length === 0 || tagged.some((t) => t.job.conclusion !== 'success')) return undefined;
  const digests = new Set(tagged.map((t) => t.digest));
  return digests.size === 1 ? tagged[0]!.digest : undefined;
}

/** The lines the rollback job's step writes to `$GITHUB_OUTPUT`. */
export function lastGoodOutputs(release: LastGoodRelease): string {
  return `run-id=${release.runId}\n${PACKAGE_OUTPUTS.manifest}=${release.manifestSha256}\n`;
}

class GitHubApi {
  constructor(
    private readonly base: string,
    private readonly token: string,
    private readonly fetch: Fetch,
  ) {}

  async get(path: string): Promise<unknown> {
    const url = `${this.base.replace(/\/+$/, '')}${path}`;
    const response = await this.fetch(url, {
      headers: { Accept: 'application/vnd.github+json', Authorization: `Bearer ${this.token}`, 'X-GitHub-Api-Version': '2022-11-28' },
    });
    if (response.status !== 200) {
      throw new FailureError(
        `the GitHub API answered ${response.status} to GET ${path}${response.status === 403 || response.status === 404 ? ' (does the job have permissions: actions: read?)' : ''}`,
      );
    }
    return response.json();
  }
}
