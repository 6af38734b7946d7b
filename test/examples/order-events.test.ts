/**
 * The event-driven example as a newcomer meets it: the shape of a published Serverless Framework
 * v3 service (frameworkVersion '3', no plugins, patterns without '!**', a serverless name of its
 * own), and its own tests run with plain node. (It runs through the local engine in
 * order-events-pipeline.test.ts.)
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { nodeProcesses, runCaptured } from '../../src/runtime/process.js';

const SERVICE_DIR = fileURLToPath(new URL('../../examples/order-events/', import.meta.url));
const readJson = async <T>(name: string) => JSON.parse(await readFile(path.join(SERVICE_DIR, name), 'utf8')) as T;
const env = () => ({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' });

describe('examples/order-events', () => {
  it('GIVEN its serverless.yml THEN it is shaped as published v3 services are, with no HTTP event', async () => {
    const config = parse(await readFile(path.join(SERVICE_DIR, 'serverless.yml'), 'utf8'), { customTags: [{ tag: '!GetAtt', resolve: (value: string) => ({ 'Fn::GetAtt': value.split('.') }) }] }) as {
      service: string;
      frameworkVersion: string;
      plugins?: unknown;
      package: { patterns: string[] };
      functions: Record<string, { events: Array<Record<string, unknown>> }>;
    };
    expect(config.frameworkVersion).toBe('3');
    expect(config.plugins).toBeUndefined();
    expect(config.package.patterns.some((p) => p.startsWith('!**'))).toBe(false);
    expect(config.service.length).toBeGreaterThan(32);
    expect(Object.values(config.functions).flatMap((f) => f.events.flatMap((e) => Object.keys(e)))).toEqual(['sqs', 'schedule']);
  });

  it('GIVEN its manifest and lockfile THEN a production dependency, osls and serverless-offline as devDependencies, and not the serverless 4 peer', async () => {
    const manifest = await readJson<{ dependencies: Record<string, string>; devDependencies: Record<string, string> }>('package.json');
    expect(Object.keys(manifest.dependencies)).toEqual(['zod']);
    expect(Object.keys(manifest.devDependencies)).toEqual(expect.arrayContaining(['osls', 'serverless-offline']));
    const lock = await readJson<{ packages: Record<string, { version?: string; dev?: boolean }> }>('package-lock.json');
    expect(lock.packages['node_modules/zod']?.dev).toBeUndefined();
    expect(lock.packages['node_modules/osls']?.dev).toBe(true);
    expect(lock.packages['node_modules/serverless']).toBeUndefined();
  });

  it('GIVEN plain node WHEN its unit and integration tests run THEN they pass', async () => {
    for (const folder of ['test/unit/', 'test/integration/']) {
      // zod comes from the root project's install when the example's own is absent.
      const run = await runCaptured(nodeProcesses, process.execPath, ['--test', folder], { cwd: SERVICE_DIR, env: env() });
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(run.stdout).toMatch(/# fail 0/);
    }
  });

  it('GIVEN no SERVICE_INVOKE WHEN its acceptance tests run THEN they fail at once, saying what to use', async () => {
    const run = await runCaptured(nodeProcesses, process.execPath, ['--test', 'test/acceptance/'], { cwd: SERVICE_DIR, env: env() });
    expect(run.code).not.toBe(0);
    expect(run.stdout + run.stderr).toContain('SERVICE_INVOKE is not set');
  });
});
