/**
 * The plan is the whole contract: the local engine is built from a plans document on disk, with
 * no config anywhere (`runPipeline(plan, options)`, and `run --plan FILE` on the command line).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runPipeline } from '../../src/local/engine.js';
import { showExecution } from '../../src/local/history.js';
import { readPlansFile, selectPipeline } from '../../src/local/plan-file.js';
import { buildPlans } from '../../src/model/plan.js';
import { validateConfig } from '../../src/model/validate.js';
import { runCli } from '../support/cli.js';
import { gitRepository, tempFolder } from './helpers.js';

let work: { dir: string; cleanup: () => void };
let planFile: string;

/** A plans document of two custom services, written by `plan --json` elsewhere, as JSON only. */
function writePlansDocument(file: string): void {
  const service = (name: string) => ({
    name,
    flavor: 'custom' as const,
    source: { path: `./${name}` },
    commands: {
      install: 'true',
      lint: 'test -f README.md',
      testUnit: 'true',
      testIntegration: 'true',
      package: 'mkdir -p .pipeline/Package && cp README.md .pipeline/Package/',
      deploy: 'test -f "$CODEBUILD_SRC_DIR_Package/README.md"',
      testAcceptance: 'test "$STAGE" = dev',
    },
  });
  const config = validateConfig({
    cicd: { account: '111111111111', region: 'us-east-1' },
    environments: [{ name: 'dev', account: '222222222222', region: 'us-east-1' }],
    services: [service('alpha'), service('beta')],
  });
  writeFileSync(file, JSON.stringify(buildPlans(config), null, 2));
}

beforeEach(() => {
  work = tempFolder('sp-plan-file-');
  gitRepository(path.join(work.dir, 'alpha'), { 'README.md': '# alpha\n' });
  gitRepository(path.join(work.dir, 'beta'), { 'README.md': '# beta\n' });
  planFile = path.join(work.dir, 'pipelines.plan.json');
  writePlansDocument(planFile);
});
afterEach(() => work.cleanup());

describe('the local engine built from a plan file alone', () => {
  it('GIVEN a plans document and no config WHEN its pipeline is read and run THEN every stage succeeds, the plan file recorded as its definition', async () => {
    expect(existsSync(path.join(work.dir, 'pipelines.config.ts'))).toBe(false);
    const home = path.join(work.dir, '.service-pipelines');

    const plan = selectPipeline(await readPlansFile(planFile), 'beta', 'push', planFile);
    const result = await runPipeline(plan, { home, baseDir: work.dir, definitionFile: planFile });

    expect(result).toMatchObject({ status: 'SUCCEEDED' });
    const document = await showExecution({ home, executionId: result.executionId });
    expect(document.stages.map((s) => [s.name, s.status])).toEqual([
      ['Source', 'SUCCEEDED'],
      ['Build', 'SUCCEEDED'],
      ['Deploy-dev', 'SUCCEEDED'],
    ]);
    expect(document.source.path).toBe(path.join(work.dir, 'beta'));
    expect(document.stages[1]!.actions.find((a) => a.name === 'Lint')!.log).toContain('test -f README.md');
  });

  it('GIVEN a plans document WHEN `run --plan` runs it in a folder without a config THEN it succeeds, and the pull-request pipeline runs with --pull-request', async () => {
    const push = await runCli(['run', '--plan', 'pipelines.plan.json', '--service', 'alpha', '--json'], { cwd: work.dir });
    expect(push.stderr).toBe('');
    expect(push.exitCode).toBe(0);
    expect(JSON.parse(push.stdout)).toMatchObject({ pipeline: 'alpha', status: 'SUCCEEDED' });

    const pullRequest = await runCli(['run', 'beta', '--plan', 'pipelines.plan.json', '--pull-request', '--json'], { cwd: work.dir });
    expect(pullRequest.exitCode).toBe(0);
    expect(JSON.parse(pullRequest.stdout)).toMatchObject({ pipeline: 'beta-pr', trigger: 'pull-request', status: 'SUCCEEDED' });
  });

  it('GIVEN a document of two services, a v1 plan or a missing file WHEN `run --plan` THEN exit 2 saying what to give, and nothing is recorded', async () => {
    const which = await runCli(['run', '--plan', 'pipelines.plan.json'], { cwd: work.dir });
    expect(which.exitCode).toBe(2);
    expect(which.stderr).toContain('holds the pipelines of several services: which one?');
    expect(which.stderr).toContain('--service: give one of: alpha, beta');

    const unknown = await runCli(['run', '--plan', 'pipelines.plan.json', '--service', 'gamma'], { cwd: work.dir });
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain('has no push pipeline of service "gamma"');

    const v1 = JSON.parse(readFileSync(planFile, 'utf8')) as { schemaVersion: number };
    writeFileSync(path.join(work.dir, 'old.plan.json'), JSON.stringify({ ...v1, schemaVersion: 1 }));
    const old = await runCli(['run', '--plan', 'old.plan.json', '--service', 'alpha'], { cwd: work.dir });
    expect(old.exitCode).toBe(2);
    expect(old.stderr).toContain('is a plan of schema version 1');

    const missing = await runCli(['run', '--plan', 'nowhere.json'], { cwd: work.dir });
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain('no such file');
    expect(existsSync(path.join(work.dir, '.service-pipelines'))).toBe(false);
  });
});
