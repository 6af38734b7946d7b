/**
 * `service-pipelines github last-good`: the rollback job's look-up of the last good release,
 * against a GitHub API served on this machine (real HTTP), as a runner's job would call it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findLastGoodRelease } from '../../src/github/last-good-release.js';
import { FailureError, InputError } from '../../src/model/errors.js';
import { runCli } from '../support/cli.js';

const REPO = 'example-org/ac-rest-api';
const digest = (n: number) => String(n).repeat(64).slice(0, 64);
const tagged = (action: string, d: string) => `Deploy-prod / ${action} · package ${d}`;

interface FakeRun {
  id: number;
  jobs: { name: string; conclusion: string | null }[];
  artifacts?: { id: number; name: string; expired: boolean }[];
}

/** A GitHub API holding runs of one workflow, newest first; the requests it got, with their tokens. */
class FakeGitHub {
  readonly requests: { path: string; authorization: string | undefined }[] = [];
  server!: Server;
  status = 200;
  constructor(public runs: FakeRun[]) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      this.requests.push({ path: `${url.pathname}${url.search}`, authorization: req.headers.authorization });
      const reply = (body: unknown) => {
        res.writeHead(this.status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      let m: RegExpMatchArray | null;
      if ((m = url.pathname.match(/^\/repos\/example-org\/ac-rest-api\/actions\/runs\/(\d+)$/))) {
        return reply({ id: Number(m[1]), workflow_id: 77, head_branch: 'main', event: 'push', run_number: 1, head_sha: 'c0ffee', html_url: '' });
      }
      if (url.pathname === '/repos/example-org/ac-rest-api/actions/workflows/77/runs') {
        const page = Number(url.searchParams.get('page') ?? '1');
        const perPage = Number(url.searchParams.get('per_page') ?? '30');
        const runs = this.runs.slice((page - 1) * perPage, page * perPage);
        return reply({ workflow_runs: runs.map((r) => ({ id: r.id, run_number: r.id - 1000, head_sha: `sha${r.id}`, html_url: `https://github.com/${REPO}/actions/runs/${r.id}`, workflow_id: 77, head_branch: 'main', event: 'push' })) });
      }
      if ((m = url.pathname.match(/^\/repos\/example-org\/ac-rest-api\/actions\/runs\/(\d+)\/jobs$/))) {
        return reply({ jobs: this.runs.find((r) => r.id === Number(m![1]))?.jobs ?? [] });
      }
      if ((m = url.pathname.match(/^\/repos\/example-org\/ac-rest-api\/actions\/runs\/(\d+)\/artifacts$/))) {
        const run = this.runs.find((r) => r.id === Number(m![1]));
        return reply({ artifacts: (run?.artifacts ?? [{ id: run!.id * 10, name: 'Package', expired: false }]).filter((a) => a.name === url.searchParams.get('name')) });
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const passed = (d: string) => [
  { name: 'Deploy-prod / Deploy', conclusion: 'success' },
  { name: tagged('AcceptanceTests', d), conclusion: 'success' },
  { name: 'Deploy-prod / Rollback', conclusion: 'skipped' },
];

const history: FakeRun[] = [
  { id: 1006, jobs: [{ name: 'Deploy-prod / Deploy', conclusion: 'failure' }] }, // the current run
  { id: 1005, jobs: [{ name: 'Deploy-prod / Deploy', conclusion: 'success' }, { name: tagged('AcceptanceTests', digest(5)), conclusion: 'failure' }] },
  { id: 1004, jobs: [{ name: 'Build / Package', conclusion: 'failure' }] },
  { id: 1003, jobs: passed(digest(3)) },
  { id: 1002, jobs: passed(digest(2)) },
];

let fake: FakeGitHub;
let apiUrl: string;
beforeAll(async () => {
  fake = new FakeGitHub(history);
  apiUrl = await fake.start();
});
afterAll(() => fake.stop());

const request = (runs: FakeRun[] = history) => {
  fake.runs = runs;
  fake.status = 200;
  return { repository: REPO, runId: '1006', stage: 'Deploy-prod', token: 'ghs_test', apiUrl };
};

describe('the last good release', () => {
  it('GIVEN runs where prod failed, the build failed and prod passed WHEN looked up THEN the newest run whose tagged prod jobs passed is found, with the digest its job name carries', async () => {
    const release = await findLastGoodRelease(request(), (url, init) => fetch(url, init));

    expect(release).toEqual({ runId: 1003, runNumber: 3, headSha: 'sha1003', url: `https://github.com/${REPO}/actions/runs/1003`, manifestSha256: digest(3), artifactId: 10030 });
    expect(fake.requests.every((r) => r.authorization === 'Bearer ghs_test')).toBe(true);
    expect(fake.requests.some((r) => r.path.startsWith('/repos/example-org/ac-rest-api/actions/runs/1006/jobs'))).toBe(false);
  });

  it('GIVEN the last good run whose package has expired WHEN looked up THEN it fails saying so (an older package is not taken)', async () => {
    const runs = history.map((r) => (r.id === 1003 ? { ...r, artifacts: [{ id: 1, name: 'Package', expired: true }] } : r));

    await expect(findLastGoodRelease(request(runs), (url, init) => fetch(url, init))).rejects.toThrow(/run 3 .*Package artifact is gone \(past its retention\)/);
  });

  it('GIVEN a run whose tagged jobs carry two digests WHEN looked up THEN it is not good', async () => {
    const runs: FakeRun[] = [history[0]!, { id: 1003, jobs: [{ name: tagged('A', digest(3)), conclusion: 'success' }, { name: tagged('B', digest(4)), conclusion: 'success' }] }, { id: 1002, jobs: passed(digest(2)) }];

    expect((await findLastGoodRelease(request(runs), (url, init) => fetch(url, init))).runId).toBe(1002);
  });

  it('GIVEN no run passed prod WHEN looked up THEN it fails: nothing to roll back to', async () => {
    const error = await findLastGoodRelease(request(history.slice(0, 3)), (url, init) => fetch(url, init)).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(FailureError);
    expect((error as Error).message).toMatch(/no earlier run of this workflow on main passed Deploy-prod .*nothing to roll back to/);
  });

  it('GIVEN a token without actions: read WHEN looked up THEN the failure says which permission the job needs', async () => {
    const req = request();
    fake.status = 403;

    await expect(findLastGoodRelease(req, (url, init) => fetch(url, init))).rejects.toThrow(/answered 403 .*permissions: actions: read/);
  });

  it('GIVEN no GitHub run environment WHEN looked up THEN it is bad input', async () => {
    await expect(findLastGoodRelease({ repository: '', runId: '', stage: 'Deploy-prod', token: '' }, (url, init) => fetch(url, init))).rejects.toBeInstanceOf(InputError);
  });
});

describe('service-pipelines github last-good', () => {
  it('GIVEN a rollback job environment WHEN run THEN it writes the run id and the manifest digest to $GITHUB_OUTPUT', async () => {
    request();
    const dir = mkdtempSync(path.join(tmpdir(), 'sp-last-good-'));
    try {
      const output = path.join(dir, 'output');
      writeFileSync(output, 'before=1\n');
      const env = { PATH: process.env['PATH'], GITHUB_REPOSITORY: REPO, GITHUB_RUN_ID: '1006', GITHUB_TOKEN: 'ghs_test', GITHUB_API_URL: apiUrl, GITHUB_OUTPUT: output };

      const run = await runCli(['github', 'last-good', '--stage', 'Deploy-prod'], { cwd: dir, env });

      expect(run.exitCode, run.stderr).toBe(0);
      expect(readFileSync(output, 'utf8')).toBe(`before=1\nrun-id=1003\npackage-manifest-sha256=${digest(3)}\n`);
      expect(run.stdout).toContain('the last good release of Deploy-prod: run 3');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('GIVEN no GITHUB_TOKEN WHEN run THEN it exits 2', async () => {
    const run = await runCli(['github', 'last-good', '--stage', 'Deploy-prod'], { env: { GITHUB_REPOSITORY: REPO, GITHUB_RUN_ID: '1' } });

    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/GITHUB_TOKEN/);
  });
});
