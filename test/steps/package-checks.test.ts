/**
 * What `step package` checks of a bundle and says of a config, on the example service's install:
 * a bundle past Lambda's unzipped limit fails Package naming its largest folders, and osls's
 * errors name the service's own serverless.yml, not the overlay the steps run it with.
 */
import { mkdir, open, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkBundleSize, measureBundle } from '../../src/steps/bundle-size.js';
import { devDependencyExcludes } from '../../src/steps/dev-dependencies.js';
import { writeZip } from '../permissions/helpers.js';
import { cleanEnv, copyExample, makeHome, runCli, tempDir } from './support.js';

describe('step package checks', () => {
  let root: { dir: string; remove: () => Promise<void> };
  let service: string;
  let home: string;
  const step = (args: string[]) => runCli(['step', ...args], { cwd: service, env: cleanEnv({ SERVICE_PIPELINES_HOME: home, SERVICE_NAME: 'ac-rest-api' }) });

  beforeAll(async () => {
    root = await tempDir('package-checks');
    service = await copyExample(path.join(root.dir, 'ac-rest-api'));
    home = await makeHome(root.dir);
    expect((await step(['install'])).code).toBe(0);
  }, 240_000);
  afterAll(() => root?.remove());

  it("GIVEN a bundle over Lambda's 250 MB unzipped limit WHEN packaged THEN Package fails naming the largest folders, and no package is left", async () => {
    // Sparse files: 300 MB to zip, next to nothing on disk.
    await mkdir(path.join(service, 'assets', 'videos'), { recursive: true });
    for (const [file, bytes] of [['assets/videos/intro.bin', 200 * 1_048_576], ['assets/videos/outro.bin', 100 * 1_048_576]] as const) {
      const handle = await open(path.join(service, file), 'w');
      await handle.truncate(bytes);
      await handle.close();
    }
    const yml = await readFile(path.join(service, 'serverless.yml'), 'utf8');
    await writeFile(path.join(service, 'serverless.yml'), yml.replace("    - 'src/**'\n", "    - 'src/**'\n    - 'assets/**'\n"));
    try {
      const run = await step(['package', '--stage', 'dev@us-east-1']);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/the code bundle ac-rest-api\.zip is 300\.0 MB once extracted \(\d+ files\), over Lambda's limit of 250\.0 MB; the largest folders: assets 300\.0 MB, /);
      expect(await readdir(path.join(service, '.pipeline')).catch(() => [])).toEqual([]);
    } finally {
      await writeFile(path.join(service, 'serverless.yml'), yml);
    }
  }, 180_000);

  it("GIVEN a serverless.yml osls refuses WHEN packaged THEN osls's error names serverless.yml, not the overlay", async () => {
    const yml = await readFile(path.join(service, 'serverless.yml'), 'utf8');
    await writeFile(path.join(service, 'serverless.yml'), yml.replace(/^service: .*\n/m, ''));
    try {
      const run = await step(['package', '--stage', 'dev@us-east-1']);
      expect(run.code).toBe(1);
      const said = run.stdout + run.stderr;
      expect(said).toContain('"service" property is missing in serverless.yml');
      expect(said).toMatch(/step package failed: `osls package .* --config serverless\.yml` exited with code 1/);
      expect(said).not.toMatch(/serverless\.service-pipelines-[0-9a-f]+\.yml/);
    } finally {
      await writeFile(path.join(service, 'serverless.yml'), yml);
    }
  }, 120_000);

  it('GIVEN a package WHEN deployed locally from a folder without serverless-offline installed THEN exit 2 says to add it, naming package.json', async () => {
    expect((await step(['package', '--stage', 'dev@us-east-1'])).code).toBe(0);
    const modules = await readlink(path.join(service, 'node_modules'));
    await rm(path.join(service, 'node_modules'));
    await mkdir(path.join(service, 'node_modules'));
    try {
      const run = await runCli(['step', 'deploy', '--stage', 'dev'], { cwd: service, env: cleanEnv({ SERVICE_PIPELINES_HOME: home, SERVICE_NAME: 'ac-rest-api', SERVICE_PIPELINES_TARGET: 'local' }) });
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('a local stage needs serverless-offline, and the service does not have it installed');
      expect(run.stderr).toContain(`${path.join(service, 'package.json')}: add serverless-offline (14, beside osls) to the devDependencies`);
    } finally {
      await rm(path.join(service, 'node_modules'), { recursive: true });
      await symlink(modules, path.join(service, 'node_modules'), 'dir');
    }
  }, 120_000);

  it('GIVEN a JS serverless config that does not list serverless-offline WHEN deployed locally THEN the failure says to list it under plugins:', async () => {
    const yml = await readFile(path.join(service, 'serverless.yml'), 'utf8');
    await rm(path.join(service, 'serverless.yml'));
    await writeFile(
      path.join(service, 'serverless.cjs'),
      `module.exports = {
  service: 'ac-rest-api',
  provider: { name: 'aws', runtime: 'nodejs20.x' },
  package: { patterns: ['!**', 'package.json', 'src/**'], artifact: process.env.SERVICE_PIPELINES_PACKAGE_ARTIFACT },
  functions: { hello: { handler: 'src/handler.hello', events: [{ http: { method: 'get', path: 'hello' } }] } },
};
`,
    );
    try {
      expect((await step(['package', '--stage', 'dev@us-east-1'])).code).toBe(0);
      const run = await runCli(['step', 'deploy', '--stage', 'dev'], { cwd: service, env: cleanEnv({ SERVICE_PIPELINES_HOME: home, SERVICE_NAME: 'ac-rest-api', SERVICE_PIPELINES_TARGET: 'local' }) });
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/serverless-offline exited before it was ready \(release \d+ of ac-rest-api\/dev\): its serverless config does not list serverless-offline under plugins:/);
    } finally {
      await rm(path.join(service, 'serverless.cjs'));
      await writeFile(path.join(service, 'serverless.yml'), yml);
    }
  }, 120_000);

  it('GIVEN the installed example WHEN its devDependencies are listed THEN every package npm marked dev is excluded with its executables, and nothing else', async () => {
    const patterns = (await devDependencyExcludes(service))!;
    const lock = JSON.parse(await readFile(path.join(service, 'node_modules', '.package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    const dev = Object.entries(lock.packages).filter(([, p]) => p.dev).map(([location]) => `!${location}/**`);
    expect(patterns.filter((p) => p.endsWith('/**')).sort()).toEqual(dev.sort());
    expect(patterns).toEqual(expect.arrayContaining(['!node_modules/eslint/**', '!node_modules/.bin/eslint', '!node_modules/osls/**', '!node_modules/.bin/osls']));
  });
});

describe('the bundle size check', () => {
  it('GIVEN a bundle under the limit THEN it passes; GIVEN a smaller limit THEN the message lists packages of node_modules as folders, largest first', async () => {
    const root = await tempDir('bundle-size');
    try {
      const file = writeZip(path.join(root.dir, 'svc.zip'), {
        'src/handler.js': Buffer.alloc(1_000),
        'node_modules/@aws-sdk/client-s3/dist/index.js': Buffer.alloc(3_000_000),
        'node_modules/@aws-sdk/client-s3/package.json': Buffer.alloc(500),
        'node_modules/zod/index.js': Buffer.alloc(1_000_000),
        'package.json': Buffer.alloc(200),
      });
      const size = await measureBundle(file);
      expect(size).toEqual({
        files: 5,
        bytes: 4_001_700,
        largest: [
          { folder: 'node_modules/@aws-sdk/client-s3', bytes: 3_000_500 },
          { folder: 'node_modules/zod', bytes: 1_000_000 },
          { folder: 'src', bytes: 1_000 },
          { folder: '(top level)', bytes: 200 },
        ],
      });
      expect(() => checkBundleSize('svc.zip', size)).not.toThrow();
      expect(() => checkBundleSize('svc.zip', size, 2_000_000)).toThrow(/the largest folders: node_modules\/@aws-sdk\/client-s3 2\.9 MB, node_modules\/zod 1\.0 MB, src 0\.0 MB/);
    } finally {
      await root.remove();
    }
  });
});
