/**
 * `service-pipelines init` in a project of a user's own: a config for the services it finds, the
 * local state git-ignored, and a config that plans as it is.
 */
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PlansDocument } from '../../src/model/plan-schema.js';
import { pipelineName } from '../../src/cli/commands/init.js';
import { runCli } from '../support/cli.js';

const projectRoot = path.resolve(import.meta.dirname, '../..');

function project(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'sp-init-'));
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  }
  // The package, as an install of it would make it resolvable from the project.
  mkdirSync(path.join(dir, 'node_modules'));
  symlinkSync(projectRoot, path.join(dir, 'node_modules', 'service-pipelines'), 'dir');
  return dir;
}

describe('service-pipelines init', () => {
  it('GIVEN a project with two services WHEN init runs THEN pipelines.config.ts names both, the local state is git-ignored, and the config plans with the real stack names', async () => {
    const dir = project({
      'services/Orders_API/serverless.yml': 'service: serverless-http-api-dynamodb\nprovider:\n  name: aws\n  region: eu-west-1\n',
      'services/worker/serverless.yml': 'service: worker\nprovider:\n  name: aws\n',
      'services/worker/node_modules/some-plugin/serverless.yml': 'service: not-a-service\n',
      '.gitignore': 'node_modules/\n.pipeline\n',
    });
    const run = await runCli(['init'], { cwd: dir });
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain('with 2 services: orders-api (services/Orders_API), worker (services/worker)');
    expect(readFileSync(path.join(dir, '.gitignore'), 'utf8')).toBe('node_modules/\n.pipeline\n.service-pipelines/\n');
    const config = readFileSync(path.join(dir, 'pipelines.config.ts'), 'utf8');
    expect(config).toContain("import { defineConfig } from 'service-pipelines';");
    expect(config).toContain("source: { path: './services/Orders_API' }");
    expect(config).toContain("region: 'eu-west-1'");
    expect(config).toContain('// TODO');

    const plan = await runCli(['plan', '--json'], { cwd: dir });
    expect(plan.exitCode, plan.stderr).toBe(0);
    const document = JSON.parse(plan.stdout) as PlansDocument;
    expect(document.pipelines.filter((p) => p.trigger === 'push').map((p) => [p.pipelineName, p.environments[0]!.stackName])).toEqual([
      ['orders-api', 'serverless-http-api-dynamodb-dev'],
      ['worker', 'worker-dev'],
    ]);
  });

  it('GIVEN a config already there WHEN init runs THEN exit 2 and the file is left alone; --force replaces it', async () => {
    const dir = project({ 'svc/serverless.yml': 'service: svc\n', 'pipelines.config.ts': '// mine\n' });
    const refused = await runCli(['init'], { cwd: dir });
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain('pipelines.config.ts exists already');
    expect(readFileSync(path.join(dir, 'pipelines.config.ts'), 'utf8')).toBe('// mine\n');
    expect((await runCli(['init', '--force'], { cwd: dir })).exitCode).toBe(0);
    expect(readFileSync(path.join(dir, '.gitignore'), 'utf8')).toBe('.service-pipelines/\n.pipeline/\n');
  });

  it('GIVEN no serverless.yml anywhere WHEN init runs THEN exit 2 says where it looked, and nothing is written', async () => {
    const dir = project({ 'README.md': '# nothing\n' });
    const run = await runCli(['init'], { cwd: dir });
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain(`no service below ${dir}`);
    expect(() => readFileSync(path.join(dir, 'pipelines.config.ts'))).toThrow();
  });

  it.each([
    ['Orders_API', 'orders-api'],
    ['2fa-service', 'fa-service'],
    ['a'.repeat(40), 'a'.repeat(32)],
    ['---', 'service'],
  ])('GIVEN the folder %s THEN its pipeline is named %s', (folder, name) => {
    expect(pipelineName(folder)).toBe(name);
  });
});
