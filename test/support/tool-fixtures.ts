/**
 * Packages to pack and install in tests: a small built package with dependencies installed
 * inside it (packs in about a second), and the running service-pipelines itself, packed once
 * into a cache that every test file shares (packing it takes half a minute or more).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { systemClock } from '../../src/runtime/clock.js';
import { defaultToolCacheDir, packTool, type PackedTool } from '../../src/runtime/pack-tool.js';
import { nodeProcesses } from '../../src/runtime/process.js';

/** Options of `writeFixturePackage`. */
export interface FixturePackageOptions {
  /** @default 'fixture-tool' */
  readonly name?: string;
  /** @default '1.0.0' */
  readonly version?: string;
}

/**
 * A built package in `dir`, shaped as service-pipelines is: `bin/service-pipelines.js` (prints
 * the version for `--version`, else what its dependencies return), `dist/`, sources that are not
 * published, a `prepare` script, a dependency with a dependency of its own, and a devDependency,
 * all installed in `node_modules/`.
 */
export function writeFixturePackage(dir: string, options: FixturePackageOptions = {}): string {
  const write = (file: string, text: string) => {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  };
  const manifest = (name: string, extra: object = {}) => `${JSON.stringify({ name, version: '1.0.0', main: 'index.js', ...extra }, null, 2)}\n`;
  write(
    'package.json',
    `${JSON.stringify(
      {
        name: options.name ?? 'fixture-tool',
        version: options.version ?? '1.0.0',
        main: 'dist/index.js',
        bin: { 'service-pipelines': 'bin/service-pipelines.js' },
        files: ['bin', 'dist'],
        dependencies: { 'fixture-dep-a': '1.0.0' },
        devDependencies: { 'fixture-dev': '1.0.0' },
        scripts: { prepare: 'echo building', test: 'echo testing' },
      },
      null,
      2,
    )}\n`,
  );
  write(
    'bin/service-pipelines.js',
    "#!/usr/bin/env node\nif (process.argv[2] === '--version') console.log(require('../package.json').version);\nelse console.log(require('../dist/index.js')());\n",
  );
  write('dist/index.js', "module.exports = () => `tool+${require('fixture-dep-a')()}`;\n");
  write('src/index.ts', 'export {};\n');
  write('node_modules/fixture-dep-a/package.json', manifest('fixture-dep-a', { dependencies: { 'fixture-dep-b': '1.0.0' } }));
  write('node_modules/fixture-dep-a/index.js', "module.exports = () => `a+${require('fixture-dep-b')()}`;\n");
  write('node_modules/fixture-dep-b/package.json', manifest('fixture-dep-b'));
  write('node_modules/fixture-dep-b/index.js', "module.exports = () => 'b';\n");
  write('node_modules/fixture-dev/package.json', manifest('fixture-dev'));
  write('node_modules/fixture-dev/index.js', 'module.exports = {};\n');
  return dir;
}

/**
 * The cache home (`XDG_CACHE_HOME`) of the tests: the running tool is packed once per change into
 * its tool cache, by tests and by the `synth` commands they run alike.
 */
export const TEST_CACHE_HOME = path.join(tmpdir(), 'service-pipelines-test-cache');

/** The cache every test file packs the running tool into, so that it is packed once per change. */
export const SHARED_TOOL_CACHE = defaultToolCacheDir({ XDG_CACHE_HOME: TEST_CACHE_HOME });

/** The environment of a CLI run that packs the running tool (`synth`): the tests' cache home. */
export function packingEnv(): NodeJS.ProcessEnv {
  return { ...process.env, XDG_CACHE_HOME: TEST_CACHE_HOME };
}

/** How long a test that packs the running tool may take: packing it is CPU-bound, and the machine may be loaded. */
export const PACK_TIMEOUT_MS = 600_000;

/** The running service-pipelines (this checkout, with its dist/ built), packed. */
export function packRunningTool(): Promise<PackedTool> {
  return packTool({ processes: nodeProcesses, clock: systemClock, cacheDir: SHARED_TOOL_CACHE });
}
