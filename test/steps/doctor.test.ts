/**
 * `service-pipelines doctor`: a service checked before its first run, each problem with where it
 * is and its fix; osls's own schema through the service's installed osls.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeProcesses } from '../../src/runtime/process.js';
import { diagnoseService, type DoctorFinding } from '../../src/steps/doctor.js';
import { cleanEnv, copyExample, makeHome, runCli, tempDir } from './support.js';

const problems = (findings: readonly DoctorFinding[]) => findings.filter((f) => f.level !== 'ok').map((f) => [f.level, f.check, f.where?.replace(/^.*\//, '')]);

function serviceFolder(root: string, name: string, files: Record<string, string>): string {
  const dir = path.join(root, name);
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  }
  return dir;
}

describe('service-pipelines doctor', () => {
  let root: { dir: string; remove: () => Promise<void> };
  beforeAll(async () => {
    root = await tempDir('doctor');
  });
  afterAll(() => root?.remove());

  it('GIVEN a service as a new user writes it WHEN checked THEN each problem names its place and its fix, and the exit code is 1', async () => {
    const dir = serviceFolder(root.dir, 'legacy', {
      'package.json': JSON.stringify({ name: 'legacy', scripts: { test: 'node --test' }, devDependencies: { serverless: '^4.2.0', 'serverless-offline': '^14.0.0' } }),
      'serverless.yml': "service: ${env:SERVICE}\nframeworkVersion: '2'\nprovider:\n  name: aws\n  runtime: nodejs16.x\npackage:\n  individually: true\nfunctions:\n  a:\n    handler: a.handler\n",
    });
    const findings = await diagnoseService({ dir, processes: nodeProcesses, env: cleanEnv() });
    expect(problems(findings)).toEqual([
      ['error', 'npm scripts', 'package.json:scripts'],
      ['error', 'npm scripts', 'package.json:scripts'],
      ['error', 'npm scripts', 'package.json:scripts'],
      ['warning', 'lockfile', 'legacy'],
      ['error', 'osls', 'package.json'],
      ['error', 'service name', 'serverless.yml:1'],
      ['error', 'frameworkVersion', 'serverless.yml:2'],
      ['error', 'runtime', 'serverless.yml:5'],
      ['error', 'packaging', 'serverless.yml:7'],
      ['warning', 'plugins', 'serverless.yml'],
      ['warning', 'osls validation', 'node_modules'],
    ]);
    expect(findings.find((f) => f.check === 'runtime')).toMatchObject({ problem: 'provider.runtime: nodejs16.x is not accepted by osls 4, nor by AWS Lambda for new functions', fix: expect.stringContaining('nodejs20.x') });
    expect(findings.find((f) => f.check === 'osls')?.fix).toBe('npm install --save-dev osls (the maintained v3 line)');

    const run = await runCli(['doctor', dir], { cwd: root.dir, env: cleanEnv() });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("✖ frameworkVersion: '2' excludes the Serverless Framework v3 the steps run");
    expect(run.stdout).toContain(`at ${path.join(dir, 'serverless.yml')}:2\n      fix: frameworkVersion: '3 || 4'`);
    expect(run.stdout).toMatch(/8 problems that would fail a run, 3 warnings/);
  });

  it('GIVEN a lockfile where npm put serverless 4 beside osls WHEN checked THEN the peer conflict is named with the .npmrc fix', async () => {
    const dir = serviceFolder(root.dir, 'peer', {
      'package.json': JSON.stringify({ name: 'peer', devDependencies: { osls: '^4.3.1', 'serverless-offline': '^14.8.2' } }),
      'package-lock.json': JSON.stringify({ lockfileVersion: 3, packages: { '': {}, 'node_modules/osls': { version: '4.3.1' }, 'node_modules/serverless': { version: '4.17.1', dev: true, peer: true } } }),
      'serverless.yml': 'service: peer\nprovider:\n  name: aws\n  runtime: nodejs20.x\n',
    });
    const conflict = (await diagnoseService({ dir, processes: nodeProcesses, env: cleanEnv() })).find((f) => f.check === 'peer dependencies');
    expect(conflict).toMatchObject({ level: 'error', problem: expect.stringContaining('npm installed serverless 4.17.1 beside osls'), fix: expect.stringContaining('legacy-peer-deps=true') });
  });

  it("GIVEN a custom service whose package command writes elsewhere WHEN checked through the config THEN it is told where the Package step collects", async () => {
    const dir = serviceFolder(root.dir, 'custom', { 'package.json': JSON.stringify({ name: 'custom', scripts: { lint: 'x', test: 'x', 'test:integration': 'x', 'test:acceptance': 'x' } }), 'package-lock.json': '{}' });
    const findings = await diagnoseService({ dir, flavor: 'custom', commands: { package: 'zip -r dist/app.zip src' }, configKey: 'services[2]', processes: nodeProcesses, env: cleanEnv() });
    expect(problems(findings)).toEqual([['warning', 'custom package', 'services[2].commands.package']]);
  });

  it("GIVEN the installed example with a key osls does not know WHEN checked THEN osls's own validation names the key's line", async () => {
    const service = await copyExample(path.join(root.dir, 'installed'));
    await makeHome(root.dir);
    const install = await runCli(['step', 'install'], { cwd: service, env: cleanEnv({ SERVICE_PIPELINES_HOME: path.join(root.dir, '.service-pipelines') }) });
    expect(install.code).toBe(0);
    expect(problems(await diagnoseService({ dir: service, processes: nodeProcesses, env: cleanEnv() }))).toEqual([]);

    const yml = await readFile(path.join(service, 'serverless.yml'), 'utf8');
    await writeFile(path.join(service, 'serverless.yml'), yml.replace('  memorySize: 256\n', '  memorySize: 256\n  memorysize: 512\n'));
    const findings = await diagnoseService({ dir: service, processes: nodeProcesses, env: cleanEnv() });
    expect(findings.filter((f) => f.level !== 'ok')).toEqual([
      { check: 'osls validation', level: 'error', where: `${path.join(service, 'serverless.yml')}:11`, problem: "provider: unrecognized property 'memorysize'", fix: expect.stringContaining('remove it') },
    ]);
  }, 240_000);

  it('GIVEN the example config WHEN every service is checked THEN none has a problem that would fail a run', async () => {
    const run = await runCli(['doctor', '--config', path.resolve(import.meta.dirname, '../../examples/pipelines.config.ts'), '--json'], { cwd: root.dir, env: cleanEnv() });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as { services: Array<{ service: string; findings: DoctorFinding[] }> };
    expect(report.services.map((s) => s.service)).toEqual(['ac-rest-api', 'order-events']);
    expect(report.services.flatMap((s) => s.findings).filter((f) => f.level === 'error')).toEqual([]);
  });
});
