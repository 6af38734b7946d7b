/**
 * A user's own project, from install to a first green run (the README's "Installing"): the
 * packed tarball installs into an empty project without a registry, the project's
 * `pipelines.config.ts` imports `defineConfig` from `service-pipelines`, and `plan` and a local
 * run work there. The installed copy can pack itself again (what `synth` does in a user's
 * project), and that tarball runs too.
 *
 * It installs about 250 MB and packs twice: minutes on a loaded machine, so it runs as a step
 * of its own (`npm run test:install`, after `npm test` in CI), not in `npm test`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as clockModule from '../../src/runtime/clock.js';
import type * as packToolModule from '../../src/runtime/pack-tool.js';
import type { PackedTool } from '../../src/runtime/pack-tool.js';
import type * as processModule from '../../src/runtime/process.js';
import { packRunningTool } from '../support/tool-fixtures.js';

const version = (JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string }).version;
let work: string;
let project: string;
let tarball: PackedTool;

/** Run a command in the project as a user types it; output and exit code. */
function inProject(command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}) {
  const run = spawnSync(command, args, { cwd: project, encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

beforeAll(async () => {
  tarball = await packRunningTool();
  work = realpathSync(mkdtempSync(path.join(tmpdir(), 'sp-install-')));
  project = path.join(work, 'my-pipelines');
  mkdirSync(path.join(project, 'hello'), { recursive: true });
  writeFileSync(path.join(project, 'package.json'), `${JSON.stringify({ name: 'my-pipelines', private: true }, null, 2)}\n`);
  writeFileSync(path.join(project, 'hello', 'README.md'), 'A service of shell commands.\n');
  writeFileSync(
    path.join(project, 'pipelines.config.ts'),
    `import { defineConfig } from 'service-pipelines';

export default defineConfig({
  cicd: { account: '111111111111', region: 'us-east-1' },
  environments: [
    { name: 'dev', account: '222222222222', region: 'us-east-1' },
    { name: 'prod', account: '444444444444', region: 'us-east-1', approval: true },
  ],
  services: [
    {
      name: 'hello',
      flavor: 'custom',
      source: { path: './hello' },
      commands: {
        install: 'true',
        lint: 'echo linted',
        testUnit: 'echo unit tests passed',
        testIntegration: 'true',
        testAcceptance: 'echo accepted on $STAGE',
        package: 'mkdir -p .pipeline/Package && cp README.md .pipeline/Package/',
        deploy: 'mkdir -p .pipeline/Outputs_$STAGE && echo "{}" > .pipeline/Outputs_$STAGE/stack-outputs.json',
      },
    },
  ],
});
`,
  );
}, 900_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('installing service-pipelines into a project of your own', () => {
  it('GIVEN the packed tarball WHEN installed into an empty project with no registry and an empty npm cache THEN it installs, and prints the packed version', () => {
    // `--offline` with a cache of its own: nothing can come from a registry, so every dependency
    // must be in the tarball. npm builds better-sqlite3 from the sources the tarball carries (its
    // prebuilt download fails offline; this machine has a compiler and Node's headers).
    const install = inProject('npm', ['install', '--offline', '--no-audit', '--no-fund', '--cache', path.join(work, 'empty-npm-cache'), tarball.file]);
    expect(install.code, install.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(path.join(project, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(manifest.dependencies['service-pipelines']).toMatch(/^file:/);
    expect(inProject('npx', ['--no-install', 'service-pipelines', '--version']).stdout.trim()).toBe(version);
  });

  it('GIVEN the installed tool WHEN plan runs on the project config (importing defineConfig from service-pipelines) THEN it prints the pipeline', () => {
    const plan = inProject('npx', ['--no-install', 'service-pipelines', 'plan']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/hello/);
    expect(plan.stdout).toMatch(/Deploy-prod/);
    const json = JSON.parse(inProject('npx', ['--no-install', 'service-pipelines', 'plan', '--json']).stdout) as { pipelines: { service: string }[] };
    expect(json.pipelines.map((p) => p.service)).toContain('hello');
  });

  it('GIVEN the installed tool WHEN the service runs locally to prod THEN every stage succeeds and the history records it', () => {
    const run = inProject('npx', ['--no-install', 'service-pipelines', 'run', 'hello', '--approve', '--json']);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    const execution = JSON.parse(run.stdout) as { status: string; stages: { name: string; status: string }[] };
    expect(execution.status).toBe('SUCCEEDED');
    expect(execution.stages.map((s) => s.name)).toEqual(expect.arrayContaining(['Build', 'Deploy-dev', 'Approve-prod', 'Deploy-prod']));
    const history = JSON.parse(inProject('npx', ['--no-install', 'service-pipelines', 'history', '--json']).stdout) as { executions: { status: string }[] };
    expect(history.executions.map((h) => h.status)).toEqual(['SUCCEEDED']);
  });

  it('GIVEN the installed copy (no devDependencies, no lockfile) WHEN it packs itself, as synth does in your project THEN it packs the tarball it was installed from, byte for byte', async () => {
    const installed = path.join(project, 'node_modules', 'service-pipelines');
    const { packTool } = (await import(pathToFileURL(path.join(installed, 'dist/runtime/pack-tool.js')).href)) as typeof packToolModule;
    const { nodeProcesses } = (await import(pathToFileURL(path.join(installed, 'dist/runtime/process.js')).href)) as typeof processModule;
    const { systemClock } = (await import(pathToFileURL(path.join(installed, 'dist/runtime/clock.js')).href)) as typeof clockModule;
    const repacked = await packTool({ processes: nodeProcesses, clock: systemClock, cacheDir: path.join(work, 'tool-cache') });
    expect(repacked.version).toBe(version);
    expect(repacked.sha256).toBe(tarball.sha256);
    const entries = new Set(execFileSync('tar', ['-tzf', repacked.file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).split('\n'));
    const { dependencies } = JSON.parse(readFileSync(path.join(installed, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(dependencies).filter((d) => !entries.has(`package/node_modules/${d}/package.json`))).toEqual([]);
    const target = path.join(work, 'unpacked');
    mkdirSync(target);
    execFileSync('tar', ['-xzf', repacked.file, '-C', target]);
    expect(execFileSync(process.execPath, [path.join(target, 'package/bin/service-pipelines.js'), '--version'], { encoding: 'utf8' }).trim()).toBe(version);
  });
});
