import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { plansDocumentSchema } from '../../src/model/plan-schema.js';
import { runCli } from '../support/cli.js';

const projectRoot = path.resolve(import.meta.dirname, '../..');
const exampleConfig = path.join(projectRoot, 'examples/pipelines.config.ts');

describe('service-pipelines plan', () => {
  it('GIVEN the example config WHEN planned as JSON THEN dev, staging and prod come in order with an approval before prod', async () => {
    const run = await runCli(['plan', '--config', exampleConfig, '--json']);
    expect(run.exitCode).toBe(0);
    const document = plansDocumentSchema.parse(JSON.parse(run.stdout));
    const main = document.pipelines.find((p) => p.trigger === 'push')!;
    expect(main.stages.map((s) => s.name)).toEqual(['Source', 'Build', 'Deploy-dev', 'Deploy-staging', 'Approve-prod', 'Deploy-prod']);
    expect(document.pipelines.map((p) => p.pipelineName)).toEqual(['ac-rest-api', 'ac-rest-api-pr', 'order-events', 'order-events-pr']);
  });

  it('GIVEN the example config WHEN planned as a tree THEN stages and actions read at a glance', async () => {
    const run = await runCli(['plan', 'ac-rest-api', '--config', exampleConfig]);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain('├─ Approve-prod  [prod: account 444444444444, us-east-1]\n│  └─ 1. Approve (manual approval)');
    expect(run.stdout).toContain('└─ Deploy-prod  [prod: account 444444444444, us-east-1]  on failure: roll back');
  });

  it('GIVEN --pull-request WHEN planned THEN only the test-only pipeline is printed', async () => {
    const run = await runCli(['plan', '--config', exampleConfig, '--pull-request', '--json']);
    expect(JSON.parse(run.stdout).pipelines.map((p: { pipelineName: string }) => p.pipelineName)).toEqual(['ac-rest-api-pr', 'order-events-pr']);
  });

  it('GIVEN a service with only source.path WHEN planned as a tree THEN it says what starts it locally, not a push to main', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sp-cli-'));
    writeFileSync(
      path.join(dir, 'pipelines.config.json'),
      JSON.stringify({
        cicd: { account: '111111111111', region: 'us-east-1' },
        environments: [{ name: 'dev', account: '222222222222', region: 'us-east-1' }],
        services: [{ name: 'svc', source: { path: './svc' } }],
      }),
    );

    const run = await runCli(['plan', '--config', 'pipelines.config.json'], { cwd: dir });

    expect(run.exitCode).toBe(0);
    expect(run.stdout).not.toContain('push to main');
    expect(run.stdout).toContain('svc  (serverless; local only, no source.github: starts on `service-pipelines run svc` or, under `serve --watch`, a new commit in ./svc; SUPERSEDED)');
    expect(run.stdout).toContain('svc-pr  (serverless; local only, no source.github: starts on `service-pipelines run svc --pull-request` (test only); PARALLEL)');
  });

  it('GIVEN an unknown service WHEN planned THEN exit 2 lists the services of the config', async () => {
    const run = await runCli(['plan', 'billing', '--config', exampleConfig]);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('unknown service "billing"; the config has: ac-rest-api');
  });

  it('GIVEN a bad config WHEN planned THEN exit 2 names every path and nothing is printed on stdout', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sp-cli-'));
    writeFileSync(
      path.join(dir, 'pipelines.config.ts'),
      `export default {
        cicd: { account: '111111111111', region: 'us-east-1' },
        environments: [{ name: 'dev', region: 'us-east-1' }, { name: 'dev', account: '333333333333', region: 'us-east-1', aproval: true }],
        services: [{ name: 'a', source: { path: '.' } }, { name: 'a', source: { path: '.' } }],
      };\n`,
    );
    const run = await runCli(['plan'], { cwd: dir });
    expect(run.exitCode).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('environments[0].account: required');
    expect(run.stderr).toContain('environments[1].aproval: unknown key; did you mean "approval"?');
    expect(run.stderr).toContain('environments[1].name: duplicate environment name "dev"');
    expect(run.stderr).toContain('services[1].name: duplicate service name "a"');
  });
});

describe('the command line itself', () => {
  it('GIVEN an unknown command WHEN run THEN exit 2 with a hint', async () => {
    const run = await runCli(['plna']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain("unknown command 'plna'");
    expect(run.stderr).toContain('Did you mean plan?');
  });

  it('GIVEN an unknown flag WHEN run THEN exit 2 naming it', async () => {
    const run = await runCli(['plan', '--jsn']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain("unknown option '--jsn'");
  });

  it('GIVEN --help on a command WHEN run THEN exit 0 with its usage', async () => {
    const run = await runCli(['plan', '--help']);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain('Usage: service-pipelines plan [options] [service]');
  });

  it('GIVEN --version WHEN run as a real process from bin/ THEN it prints the package version', () => {
    const bin = path.join(projectRoot, 'bin/service-pipelines.js');
    expect(existsSync(path.join(projectRoot, 'dist/cli/main.js')), 'npm run build first').toBe(true);
    const result = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
