/**
 * The example service as a newcomer meets it: its manifest, lockfile and serverless config hold
 * what the pipeline relies on, and its own tests run with plain node. (The steps tests install it
 * and run lint, integration tests, packaging and a local stage for real: test/steps/.)
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { nodeProcesses, runCaptured } from '../../src/runtime/process.js';
import { EXAMPLE_DIR } from '../steps/support.js';

const readJson = async <T>(name: string) => JSON.parse(await readFile(path.join(EXAMPLE_DIR, name), 'utf8')) as T;
const env = () => ({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' });

describe('examples/ac-rest-api', () => {
  it('GIVEN its package.json THEN it has the npm scripts of the steps and osls + serverless-offline 14 as devDependencies', async () => {
    const manifest = await readJson<{ type: string; scripts: Record<string, string>; devDependencies: Record<string, string> }>('package.json');
    expect(Object.keys(manifest.scripts)).toEqual(expect.arrayContaining(['lint', 'test', 'test:integration', 'test:acceptance']));
    expect(manifest.devDependencies.osls).toBeDefined();
    expect(manifest.devDependencies['serverless-offline']).toMatch(/^\^?14\./);
    expect(manifest.type).toBe('module');
  });

  it('GIVEN its lockfile THEN `npm ci` installs osls and serverless-offline, and not the serverless 4 peer', async () => {
    const lock = await readJson<{ lockfileVersion: number; packages: Record<string, { version?: string }> }>('package-lock.json');
    expect(lock.lockfileVersion).toBe(3);
    expect(lock.packages['node_modules/osls']?.version).toMatch(/^\d+\./);
    expect(lock.packages['node_modules/serverless-offline']?.version).toMatch(/^14\./);
    expect(lock.packages['node_modules/serverless']).toBeUndefined();
  });

  it('GIVEN its serverless.yml THEN one function serves GET /hello on a REST API, the bundle keeps package.json (ESM), and the offline plugin is listed', async () => {
    const config = parse(await readFile(path.join(EXAMPLE_DIR, 'serverless.yml'), 'utf8')) as {
      frameworkVersion?: string;
      plugins: string[];
      package: { patterns: string[] };
      functions: Record<string, { handler: string; events: Array<{ http?: { method: string; path: string } }> }>;
    };
    // osls publishes 4.x numbers: a bare '3' would be refused.
    expect(config.frameworkVersion === undefined || config.frameworkVersion.includes('4')).toBe(true);
    expect(config.plugins).toContain('serverless-offline');
    expect(config.package.patterns).toEqual(expect.arrayContaining(['package.json', 'src/**']));
    expect(Object.values(config.functions).flatMap((f) => f.events.map((e) => e.http))).toEqual([{ method: 'get', path: 'hello' }]);
  });

  it('GIVEN plain node WHEN its unit and integration tests run THEN they pass (they need no installed package)', async () => {
    for (const folder of ['test/unit/', 'test/integration/']) {
      const run = await runCaptured(nodeProcesses, process.execPath, ['--test', folder], { cwd: EXAMPLE_DIR, env: env() });
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(run.stdout).toMatch(/# fail 0/);
    }
  });

  it('GIVEN no SERVICE_URL WHEN its acceptance tests run THEN they fail at once, saying what to set', async () => {
    const run = await runCaptured(nodeProcesses, process.execPath, ['--test', 'test/acceptance/'], { cwd: EXAMPLE_DIR, env: env() });
    expect(run.code).not.toBe(0);
    expect(run.stdout + run.stderr).toContain('SERVICE_URL is not set');
  });
});
