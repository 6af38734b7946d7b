import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FailureError, InputError } from '../../src/model/errors.js';
import { systemClock } from '../../src/runtime/clock.js';
import { defaultToolCacheDir, packTool, sha256Of, toolRoot, TOOL_CACHE_ENTRIES, type PackToolOptions } from '../../src/runtime/pack-tool.js';
import { nodeProcesses, type Processes } from '../../src/runtime/process.js';
import { PACK_TIMEOUT_MS, packRunningTool, writeFixturePackage } from '../support/tool-fixtures.js';

const folders: string[] = [];
function tempFolder(prefix = 'sp-pack-'): string {
  const folder = mkdtempSync(path.join(tmpdir(), prefix));
  folders.push(folder);
  return folder;
}
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

/** Real processes, counting each `npm` started. */
function countingProcesses(): Processes & { npmRuns: number } {
  const counter = {
    npmRuns: 0,
    spawn: (...args: Parameters<Processes['spawn']>) => {
      if (args[0] === 'npm') counter.npmRuns += 1;
      return nodeProcesses.spawn(...args);
    },
  };
  return counter;
}

function pack(root: string, cacheDir: string, extra: Partial<PackToolOptions> = {}) {
  return packTool({ processes: nodeProcesses, clock: systemClock, root, cacheDir, ...extra });
}

/** The entries of a tarball, without the `package/` every npm tarball starts with. */
function entriesOf(tarball: string): string[] {
  return execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
    .split('\n')
    .filter(Boolean)
    .map((entry) => entry.replace(/^package\//, ''));
}

describe('packTool', () => {
  it('GIVEN a built package with its dependencies installed inside WHEN packed THEN the tarball holds its published files and every dependency, transitively, and no sources or devDependencies', async () => {
    const root = writeFixturePackage(tempFolder());
    const packed = await pack(root, tempFolder());
    const entries = entriesOf(packed.file);
    expect(entries).toEqual(
      expect.arrayContaining([
        'package.json',
        'bin/service-pipelines.js',
        'dist/index.js',
        'node_modules/fixture-dep-a/index.js',
        'node_modules/fixture-dep-b/index.js',
      ]),
    );
    expect(entries.filter((e) => e.startsWith('src/') || e.includes('fixture-dev'))).toEqual([]);
    expect(packed).toMatchObject({ name: 'fixture-tool', version: '1.0.0', fromCache: false, sha256: await sha256Of(packed.file) });
    expect(packed.bytes).toBe(readFileSync(packed.file).length);
  });

  it('GIVEN a tarball WHEN unpacked into an empty folder THEN the tool runs from it with nothing else installed', async () => {
    const packed = await pack(writeFixturePackage(tempFolder()), tempFolder());
    const target = tempFolder();
    execFileSync('tar', ['-xzf', packed.file, '-C', target]);
    expect(execFileSync(process.execPath, [path.join(target, 'package/bin/service-pipelines.js')], { encoding: 'utf8' }).trim()).toBe('tool+a+b');
  });

  it('GIVEN the same files WHEN packed twice THEN the second comes from the cache, with the same digest, without running npm', async () => {
    const root = writeFixturePackage(tempFolder());
    const cacheDir = tempFolder();
    const processes = countingProcesses();
    const first = await pack(root, cacheDir, { processes });
    const second = await pack(root, cacheDir, { processes });
    expect(processes.npmRuns).toBe(1);
    expect(second).toEqual({ ...first, fromCache: true });
  });

  it('GIVEN a built file rewritten with the same size WHEN packed again THEN it is packed anew and the digest changes', async () => {
    const root = writeFixturePackage(tempFolder());
    const cacheDir = tempFolder();
    const first = await pack(root, cacheDir);
    writeFileSync(path.join(root, 'dist/index.js'), readFileSync(path.join(root, 'dist/index.js'), 'utf8').replace('tool+', 'TOOL+'));
    const second = await pack(root, cacheDir);
    expect(second.fromCache).toBe(false);
    expect(second.sha256).not.toBe(first.sha256);
  });

  it('GIVEN a bundled dependency reinstalled with other code WHEN packed again THEN the change is packed', async () => {
    const root = writeFixturePackage(tempFolder());
    const cacheDir = tempFolder();
    const first = await pack(root, cacheDir);
    writeFileSync(path.join(root, 'node_modules/fixture-dep-b/index.js'), "module.exports = () => 'B';\n");
    const second = await pack(root, cacheDir);
    expect(second.sha256).not.toBe(first.sha256);
    const target = tempFolder();
    execFileSync('tar', ['-xzf', second.file, '-C', target]);
    expect(readFileSync(path.join(target, 'package/node_modules/fixture-dep-b/index.js'), 'utf8')).toContain("'B'");
  });

  it('GIVEN one package WHEN packed into two caches THEN both tarballs are the same bytes', async () => {
    const root = writeFixturePackage(tempFolder());
    const [a, b] = [await pack(root, tempFolder()), await pack(root, tempFolder())];
    expect(a.sha256).toBe(b.sha256);
  });

  it('GIVEN an installed copy (no devDependencies, no lockfile) WHEN packed from there THEN it packs the same tarball as its source', async () => {
    const original = await pack(writeFixturePackage(tempFolder()), tempFolder());
    const project = tempFolder();
    const installed = path.join(project, 'node_modules', 'fixture-tool');
    mkdirSync(installed, { recursive: true });
    execFileSync('tar', ['-xzf', original.file, '-C', installed, '--strip-components', '1']);
    expect(existsSync(path.join(installed, 'node_modules/fixture-dev'))).toBe(false);
    const repacked = await pack(installed, tempFolder());
    expect(repacked.sha256).toBe(original.sha256);
  });

  it('GIVEN npm variables of an enclosing npm (npx, npm run) WHEN packed THEN they do not change the pack', async () => {
    const root = writeFixturePackage(tempFolder());
    // An enclosing `npm pack --dry-run` would pass npm_config_dry_run down: npm would then write nothing.
    const packed = await pack(root, tempFolder(), { env: { ...process.env, npm_config_dry_run: 'true', npm_config_pack_destination: tempFolder() } });
    expect(existsSync(packed.file)).toBe(true);
  });

  it('GIVEN two packs of the same files at once WHEN they run THEN npm runs once and both get its tarball', async () => {
    const root = writeFixturePackage(tempFolder());
    const cacheDir = tempFolder();
    const processes = countingProcesses();
    const [a, b] = await Promise.all([pack(root, cacheDir, { processes }), pack(root, cacheDir, { processes })]);
    expect(processes.npmRuns).toBe(1);
    expect(a.sha256).toBe(b.sha256);
    expect(a.file).toBe(b.file);
  });

  it('GIVEN a lock left by a packing process that was killed WHEN packed THEN the lock is taken over, not waited on for long', async () => {
    const root = writeFixturePackage(tempFolder());
    const cacheDir = tempFolder();
    const first = await pack(root, cacheDir);
    const key = path.basename(first.file, '.tgz');
    rmSync(first.file);
    rmSync(path.join(cacheDir, `${key}.json`));
    mkdirSync(path.join(cacheDir, `${key}.lock`));
    const longAgo = new Date(Date.now() - 3 * 60_000);
    utimesSync(path.join(cacheDir, `${key}.lock`), longAgo, longAgo);
    const started = Date.now();
    const second = await pack(root, cacheDir);
    expect(second.sha256).toBe(first.sha256);
    expect(Date.now() - started).toBeLessThan(60_000);
  });

  it(`GIVEN more than ${TOOL_CACHE_ENTRIES} packed trees WHEN packed THEN the cache keeps the ${TOOL_CACHE_ENTRIES} most recent`, async () => {
    const cacheDir = tempFolder();
    const root = writeFixturePackage(tempFolder());
    for (let i = 0; i <= TOOL_CACHE_ENTRIES; i++) {
      writeFileSync(path.join(root, 'dist/extra.js'), `// ${i}\n`);
      await pack(root, cacheDir);
    }
    const tarballs = execFileSync('ls', [cacheDir], { encoding: 'utf8' }).split('\n').filter((n) => n.endsWith('.tgz'));
    expect(tarballs).toHaveLength(TOOL_CACHE_ENTRIES);
  });

  it('GIVEN a damaged cached tarball WHEN packed THEN it is packed anew', async () => {
    const root = writeFixturePackage(tempFolder());
    const cacheDir = tempFolder();
    const first = await pack(root, cacheDir);
    const bytes = readFileSync(first.file);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1);
    writeFileSync(first.file, bytes);
    const second = await pack(root, cacheDir);
    expect(second).toEqual({ ...first, fromCache: false });
  });

  it('GIVEN a dependency not installed WHEN packed THEN the error names it and what needs it', async () => {
    const root = writeFixturePackage(tempFolder());
    rmSync(path.join(root, 'node_modules/fixture-dep-b'), { recursive: true });
    const error = await pack(root, tempFolder()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).message).toMatch(/fixture-dep-b \(needed by fixture-dep-a\)/);
  });

  it('GIVEN a checkout that is not built WHEN packed THEN the error says to build it', async () => {
    const root = writeFixturePackage(tempFolder());
    rmSync(path.join(root, 'dist'), { recursive: true });
    const error = await pack(root, tempFolder()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).message).toMatch(/not built[\s\S]*dist\/index\.js[\s\S]*npm run build/);
  });

  it('GIVEN a checkout whose package.json bundles nothing (npm ci would fail if it did) WHEN packed THEN the tarball\'s package.json bundles every dependency, drops prepare, and the checkout is unchanged', async () => {
    const root = writeFixturePackage(tempFolder());
    const before = readFileSync(path.join(root, 'package.json'), 'utf8');
    const packed = await pack(root, tempFolder());
    const target = tempFolder();
    execFileSync('tar', ['-xzf', packed.file, '-C', target]);
    const manifest = JSON.parse(readFileSync(path.join(target, 'package/package.json'), 'utf8')) as { bundleDependencies?: unknown; scripts?: Record<string, string> };
    expect(manifest.bundleDependencies).toBe(true);
    expect(manifest.scripts).toEqual({ test: 'echo testing' });
    expect(readFileSync(path.join(root, 'package.json'), 'utf8')).toBe(before);
  });

  it('GIVEN a package without a files list WHEN packed THEN npm packs its whole folder, and its package.json is left as it was', async () => {
    const root = writeFixturePackage(tempFolder());
    const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
    delete manifest['files'];
    writeFileSync(path.join(root, 'package.json'), JSON.stringify(manifest));
    const before = readFileSync(path.join(root, 'package.json'), 'utf8');
    const packed = await pack(root, tempFolder());
    expect(entriesOf(packed.file)).toEqual(expect.arrayContaining(['dist/index.js', 'src/index.ts', 'node_modules/fixture-dep-a/index.js']));
    expect(readFileSync(path.join(root, 'package.json'), 'utf8')).toBe(before);
  });

  it('GIVEN an installed copy whose dependencies npm hoisted next to it (a git dependency), two majors of one WHEN packed THEN they are bundled, each resolving as it did', async () => {
    const project = tempFolder();
    const source = writeFixturePackage(tempFolder());
    const installed = path.join(project, 'node_modules', 'fixture-tool');
    for (const entry of ['package.json', 'bin', 'dist']) cpSync(path.join(source, entry), path.join(installed, entry), { recursive: true });
    // The tool needs fixture-dep-b 2 (hoisted at the top); fixture-dep-a keeps its 1, nested.
    const manifest = JSON.parse(readFileSync(path.join(installed, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    writeFileSync(path.join(installed, 'package.json'), JSON.stringify({ ...manifest, dependencies: { ...manifest.dependencies, 'fixture-dep-b': '2.0.0' } }));
    writeFileSync(path.join(installed, 'dist/index.js'), "module.exports = () => `tool+${require('fixture-dep-a')()}+${require('fixture-dep-b')()}`;\n");
    cpSync(path.join(source, 'node_modules/fixture-dep-a'), path.join(project, 'node_modules/fixture-dep-a'), { recursive: true });
    cpSync(path.join(source, 'node_modules/fixture-dep-b'), path.join(project, 'node_modules/fixture-dep-a/node_modules/fixture-dep-b'), { recursive: true });
    mkdirSync(path.join(project, 'node_modules/fixture-dep-b'));
    writeFileSync(path.join(project, 'node_modules/fixture-dep-b/package.json'), JSON.stringify({ name: 'fixture-dep-b', version: '2.0.0', main: 'index.js' }));
    writeFileSync(path.join(project, 'node_modules/fixture-dep-b/index.js'), "module.exports = () => 'b2';\n");
    expect(execFileSync(process.execPath, [path.join(installed, 'bin/service-pipelines.js')], { encoding: 'utf8' }).trim()).toBe('tool+a+b+b2');
    const packed = await pack(installed, tempFolder());
    const target = tempFolder();
    execFileSync('tar', ['-xzf', packed.file, '-C', target]);
    expect(entriesOf(packed.file)).toEqual(expect.arrayContaining(['node_modules/fixture-dep-b/index.js', 'node_modules/fixture-dep-a/node_modules/fixture-dep-b/index.js']));
    expect(execFileSync(process.execPath, [path.join(target, 'package/bin/service-pipelines.js')], { encoding: 'utf8' }).trim()).toBe('tool+a+b+b2');
  });

  it('GIVEN no npm on PATH WHEN packed THEN it fails saying npm is needed', async () => {
    const error = await pack(writeFixturePackage(tempFolder()), tempFolder(), { env: { PATH: tempFolder() } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FailureError);
    expect((error as FailureError).message).toMatch(/npm did not start.*npm must be on PATH/);
  });

  it('GIVEN XDG_CACHE_HOME WHEN the default cache is asked for THEN it is below it, else below ~/.cache', () => {
    expect(defaultToolCacheDir({ XDG_CACHE_HOME: '/x/cache' }, '/home/u')).toBe('/x/cache/service-pipelines/tool');
    expect(defaultToolCacheDir({}, '/home/u')).toBe('/home/u/.cache/service-pipelines/tool');
  });

  it(
    'GIVEN the running service-pipelines WHEN packed THEN the tarball holds its build, its version and every dependency, and runs unpacked with nothing else installed',
    async () => {
      const packed = await packRunningTool();
      const manifest = JSON.parse(readFileSync(path.join(toolRoot(), 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string> };
      expect(packed.version).toBe(manifest.version);
      const entries = new Set(entriesOf(packed.file));
      for (const file of ['package.json', 'bin/service-pipelines.js', 'dist/cli/main.js', 'dist/aws/index.js', 'schema/config.schema.json']) {
        expect(entries.has(file), file).toBe(true);
      }
      for (const dependency of Object.keys(manifest.dependencies)) {
        expect(entries.has(`node_modules/${dependency}/package.json`), dependency).toBe(true);
      }
      expect([...entries].filter((e) => e.startsWith('src/') || e.startsWith('test/') || e.startsWith('node_modules/vitest/'))).toEqual([]);
      const target = tempFolder();
      execFileSync('tar', ['-xzf', packed.file, '-C', target]);
      const cli = path.join(target, 'package/bin/service-pipelines.js');
      expect(execFileSync(process.execPath, [cli, '--version'], { encoding: 'utf8' }).trim()).toBe(manifest.version);
    },
    PACK_TIMEOUT_MS,
  );
});
