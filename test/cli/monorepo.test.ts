/**
 * The monorepo example (examples/monorepo: two services and the library they share) through the
 * CLI: `synth` filters each pipeline's trigger by its folder and its dependencies and runs its
 * steps there; `run --changed` / `plan --changed` run what a change touched, on a real git
 * repository.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

const projectRoot = path.resolve(import.meta.dirname, '../..');
const example = path.join(projectRoot, 'examples/monorepo');
const folders: string[] = [];
afterAll(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

function tempFolder(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  folders.push(dir);
  return dir;
}

interface Template {
  Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
}

interface PipelineAction {
  Name: string;
  Commands?: string[];
  OutputArtifacts?: Array<{ Name: string; Files?: string[] }>;
}

describe('synth of the monorepo example', () => {
  let template: Template;
  const pipelineOf = (name: string) => Object.values(template.Resources).find((r) => r.Type === 'AWS::CodePipeline::Pipeline' && r.Properties['Name'] === name)!.Properties;
  const actionOf = (pipeline: string, stage: string, action: string): PipelineAction => {
    const stages = pipelineOf(pipeline)['Stages'] as Array<{ Name: string; Actions: PipelineAction[] }>;
    return stages.find((s) => s.Name === stage)!.Actions.find((a) => a.Name === action)!;
  };

  beforeAll(async () => {
    const out = path.join(tempFolder('sp-monorepo-synth-'), 'cdk.out');
    const run = await runCli(['synth', '--config', 'pipelines.config.ts', '--no-validate', '--out', out, '--json'], { cwd: example });
    expect(run.exitCode, run.stderr).toBe(0);
    const { stacks } = JSON.parse(run.stdout) as { stacks: Array<{ stackName: string; templateFile: string }> };
    const pipelines = stacks.find((s) => s.stackName === 'service-pipelines-pipelines-1')!;
    template = JSON.parse(readFileSync(path.join(out, pipelines.templateFile), 'utf8')) as Template;
  }, 120_000);

  it('GIVEN two services of one repository WHEN synthesized THEN each push trigger follows its branch, its folder and the shared library', () => {
    for (const service of ['orders', 'invoices']) {
      expect(pipelineOf(service)['Triggers']).toEqual([
        {
          ProviderType: 'CodeStarSourceConnection',
          GitConfiguration: {
            SourceActionName: 'Source',
            Push: [{ Branches: { Includes: ['main'] }, FilePaths: { Includes: [`services/${service}/**`, 'libs/money/**'] } }],
          },
        },
      ]);
    }
  });

  it('GIVEN a service in a folder of the repository WHEN synthesized THEN its steps run in that folder and its outputs are collected from there', () => {
    const lint = actionOf('orders', 'Build', 'Lint');
    const enter = lint.Commands!.indexOf('cd services/orders');
    expect(enter).toBeGreaterThan(0);
    expect(lint.Commands!.findIndex((line) => line.includes('service-pipelines step lint'))).toBeGreaterThan(enter);

    expect(actionOf('orders', 'Build', 'Package').OutputArtifacts).toEqual([{ Name: 'Package', Files: ['services/orders/.pipeline/Package/**/*'] }]);
    expect(actionOf('orders', 'Build', 'Package').Commands!.join('\n')).toContain('"$CODEBUILD_SRC_DIR/services/orders/.pipeline/Package/manifest.json"');
    const deploy = actionOf('orders', 'Deploy-dev', 'Deploy');
    expect(deploy.OutputArtifacts).toEqual([{ Name: 'Outputs_dev', Files: ['services/orders/.pipeline/Outputs_dev/**/*'] }]);
    expect(deploy.Commands).toContain('if [ -d "$CODEBUILD_SRC_DIR_Package/services/orders/.pipeline/Package" ]; then export CODEBUILD_SRC_DIR_Package="$CODEBUILD_SRC_DIR_Package/services/orders/.pipeline/Package"; fi');
  });

  it('GIVEN pull requests of a monorepo WHEN synthesized THEN each build starts only for changes to its folder or the library, and runs in its folder', () => {
    const project = Object.values(template.Resources).find((r) => r.Type === 'AWS::CodeBuild::Project' && r.Properties['Name'] === 'invoices-pr')!.Properties as {
      Triggers: { FilterGroups: Array<Array<{ Type: string; Pattern: string }>> };
      Source: { BuildSpec: string };
    };

    expect(project.Triggers.FilterGroups[0]).toContainEqual({ Type: 'FILE_PATH', Pattern: '^(?:services/invoices/.*|libs/money/.*)$' });
    const build = project.Source.BuildSpec.slice(project.Source.BuildSpec.indexOf('build:'));
    expect(build.indexOf('cd services/invoices')).toBeGreaterThan(0);
    expect(build.indexOf('cd services/invoices')).toBeLessThan(build.indexOf('service-pipelines step lint'));
  });
});

describe('plan of the monorepo example', () => {
  it('GIVEN two services of one repository WHEN their plans are printed THEN each says which changes start it', async () => {
    const run = await runCli(['plan', '--config', 'pipelines.config.ts'], { cwd: example });

    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).toContain('orders  (custom; starts on push to main changing services/orders/**, libs/money/**; SUPERSEDED)');
    expect(run.stdout).toContain('invoices-pr  (custom; starts on pull request changing services/invoices/**, libs/money/** (test only); PARALLEL)');
  });
});

describe('synth of a config beyond the trigger filter limits', () => {
  it('GIVEN a service whose directory and dependsOn make 9 patterns WHEN synthesized THEN exit 2 names its dependsOn and the limit, and nothing is written', async () => {
    const cwd = tempFolder('sp-monorepo-limits-');
    const dependsOn = Array.from({ length: 8 }, (_, i) => `libs/lib${i}/`);
    const config = {
      cicd: { account: '111111111111', region: 'us-east-1' },
      environments: [{ name: 'dev', account: '222222222222', region: 'us-east-1' }],
      services: [
        { name: 'orders', source: { directory: 'services/orders', dependsOn, github: { owner: 'example-org', repo: 'shop', connectionArn: 'arn:aws:codeconnections:us-east-1:111111111111:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789' } } },
      ],
    };
    writeFileSync(path.join(cwd, 'pipelines.config.json'), JSON.stringify(config));

    const run = await runCli(['synth', '--config', 'pipelines.config.json', '--no-validate'], { cwd });

    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain("services[0].source.dependsOn: 9 trigger patterns (the directory's and 8 of dependsOn); CodePipeline's push trigger takes at most 8");
    expect(() => readFileSync(path.join(cwd, 'cdk.out/manifest.json'))).toThrow();
  });
});

describe('run --changed and plan --changed on the monorepo example', () => {
  let repository: string;
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.com', '-c', 'init.defaultBranch=main', ...args], { cwd: repository, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1' } }).trim();
  const write = (file: string, content: string) => {
    mkdirSync(path.dirname(path.join(repository, file)), { recursive: true });
    writeFileSync(path.join(repository, file), content);
  };
  const commit = (message: string) => {
    git('add', '-A');
    git('commit', '-q', '-m', message);
  };
  const cli = (...args: string[]) => runCli(args, { cwd: repository });
  interface ChangedRun {
    services: Array<{ service: string; runs: boolean; reason: string }>;
    runs: Array<{ service: string; status: string; executionId?: string }>;
  }

  beforeAll(() => {
    // The example as a repository of its own, its config importing this checkout.
    repository = path.join(tempFolder('sp-monorepo-run-'), 'shop');
    cpSync(example, repository, { recursive: true, filter: (source) => !/[\\/](node_modules|\.service-pipelines|\.pipeline)$/.test(source) });
    mkdirSync(path.join(repository, 'node_modules'));
    symlinkSync(projectRoot, path.join(repository, 'node_modules/service-pipelines'), 'dir');
    git('init', '-q');
    commit('the shop');
  });

  it('GIVEN no run yet WHEN run --changed THEN both pipelines run in parallel, each building its folder of the whole repository', async () => {
    const run = await cli('run', '--changed', '--until', 'dev', '--json');

    expect(run.exitCode, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as ChangedRun;
    expect(result.services.map((s) => [s.service, s.runs, s.reason])).toEqual([
      ['orders', true, 'no successful run yet to compare with'],
      ['invoices', true, 'no successful run yet to compare with'],
    ]);
    expect(result.runs.map((r) => [r.service, r.status])).toEqual([
      ['orders', 'SUCCEEDED'],
      ['invoices', 'SUCCEEDED'],
    ]);
    // The packaged handler imported the shared library: the Source was the repository, the steps ran in services/orders.
    const shown = await cli('show', result.runs[0]!.executionId!);
    expect(shown.stdout).toContain('orders in dev: the packaged handler answered 201 {"total":"7.50 EUR"}');
  }, 240_000);

  it('GIVEN a commit that breaks one service WHEN run --changed THEN only it runs, the summary says it failed, and the exit code is 1', async () => {
    write('services/orders/src/handler.js', "export async function handler() { throw new Error('broken'); }\n");
    commit('orders: broken');

    const run = await cli('run', '--changed', '--until', 'dev');

    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain('1 of 2 services changed');
    expect(run.stderr).toMatch(/ {2}run {3}orders: services\/orders\/src\/handler\.js \(services\/orders\/\*\*\) changed since [0-9a-f]{7}, its last successful run/);
    expect(run.stderr).toMatch(/ {2}skip {2}invoices: nothing it follows changed since [0-9a-f]{7}, its last successful run/);
    expect(run.stderr).toMatch(/1 pipeline ran, 1 did not succeed:\n {2}orders {2}FAILED/);
    expect(run.stderr).not.toContain('[invoices]');
  }, 240_000);

  it('GIVEN the fix and a README change WHEN plan --changed THEN the fixed service runs, counted from its last successful run (not the failed one), and the other does not', async () => {
    git('checkout', '-q', 'HEAD~1', '--', 'services/orders/src/handler.js');
    write('services/orders/src/handler.js', `${readFileSync(path.join(repository, 'services/orders/src/handler.js'), 'utf8')}// fixed\n`);
    write('README.md', '# shop\n');
    commit('orders: fixed; a README');

    const plan = await cli('plan', '--changed', '--until', 'dev', '--json');

    expect(plan.exitCode, plan.stderr).toBe(0);
    const decision = JSON.parse(plan.stdout) as ChangedRun;
    expect(decision.services.map((s) => [s.service, s.runs])).toEqual([
      ['orders', true],
      ['invoices', false],
    ]);
    // Counted from the commit of the last run that succeeded, not from the failed one's.
    const succeeded = git('rev-list', '--max-parents=0', 'HEAD').slice(0, 7);
    expect(decision.services[0]!.reason).toBe(`services/orders/src/handler.js (services/orders/**) changed since ${succeeded}, its last successful run`);
    const run = await cli('run', '--changed', '--until', 'dev');
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/1 pipeline ran, all succeeded:\n {2}orders {2}SUCCEEDED/);
  }, 240_000);

  it('GIVEN only the README changed since WHEN run --changed THEN nothing runs, and it says so', async () => {
    write('README.md', '# shop\n\nTwo services and a library.\n');
    commit('docs');

    const run = await cli('run', '--changed', '--until', 'dev');

    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toContain('0 of 2 services changed');
    expect(run.stderr).not.toContain('pipeline ran');
  }, 60_000);

  it('GIVEN an uncommitted change to the shared library WHEN plan --changed THEN both services are to run, by their dependsOn; run --changed for prod still runs both (no run went that far)', async () => {
    write('libs/money/index.js', `${readFileSync(path.join(repository, 'libs/money/index.js'), 'utf8')}// rounding\n`);

    const plan = await cli('plan', '--changed', '--until', 'dev');
    const prod = await cli('plan', '--changed');

    expect(plan.stdout).toMatch(/ {2}run {3}orders: libs\/money\/index\.js \(libs\/money\/\*\*\) changed since [0-9a-f]{7}, its last successful run\n {2}run {3}invoices: libs\/money\/index\.js \(libs\/money\/\*\*\) changed since/);
    expect(prod.stdout).toContain('run   orders: no successful run yet to compare with');
  }, 60_000);

  it('GIVEN a commit of the monorepo WHEN one service runs it (--revision, as serve does for a push) THEN its folder of that commit builds, the library beside it', async () => {
    const first = git('rev-list', '--max-parents=0', 'HEAD');

    const run = await cli('run', 'invoices', '--revision', first, '--until', 'dev', '--json');

    expect(run.exitCode, run.stderr).toBe(0);
    const execution = JSON.parse(run.stdout) as { status: string; source: { revision: string; uncommittedChanges: boolean } };
    expect(execution).toMatchObject({ status: 'SUCCEEDED', source: { revision: first, uncommittedChanges: false } });
  }, 120_000);

  it('GIVEN bad arguments WHEN run THEN exit 2, saying what to give', async () => {
    const none = await cli('run');
    const both = await cli('run', 'orders', '--changed');
    const concurrency = await cli('run', '--changed', '--concurrency', '0');
    const since = await cli('run', 'orders', '--since', 'main');
    const unknownRef = await cli('plan', '--changed', '--since', 'no-such-tag');

    expect([none, both, concurrency, since, unknownRef].map((r) => r.exitCode)).toEqual([2, 2, 2, 2, 2]);
    expect(none.stderr).toContain('which service? give its name');
    expect(both.stderr).toContain('give a service or --changed, not both (orders)');
    expect(concurrency.stderr).toContain('--concurrency: give a whole number from 1 to 64');
    expect(since.stderr).toContain('--since and --concurrency go with --changed');
    expect(unknownRef.stderr).toContain('--since no-such-tag: not a commit of the repository at');
  }, 60_000);
});
