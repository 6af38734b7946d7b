#!/usr/bin/env node
/**
 * Packing the running service-pipelines for the AWS actions, and installing it, against the
 * alternative of shipping a lockfile instead of the dependencies:
 *
 * - pack: `packTool` with an empty cache (npm pack of a staging folder, every dependency bundled),
 *   and again from the cache; the tarball's size, unpacked size and entries;
 * - install, as the actions do: download aside, check the sha256, `tar -xzf`, `--version`;
 * - install with npm into an empty folder, offline, with an empty cache: `--ignore-scripts`
 *   (nothing built), and with scripts (npm builds better-sqlite3 from its sources: `--with-scripts`);
 * - the alternative: the package without its dependencies plus an `npm-shrinkwrap.json` (the
 *   checkout's lockfile): its size, and `npm install --offline --ignore-scripts` of it from this
 *   machine's npm cache (a registry would serve the same files, over the network).
 *
 *   npm run build && node bench/tool-pack.mjs [--runs 3] [--with-scripts]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { systemClock } from '../dist/runtime/clock.js';
import { packTool, sha256Of, toolRoot } from '../dist/runtime/pack-tool.js';
import { nodeProcesses } from '../dist/runtime/process.js';
import { median } from './support.mjs';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, 'with-scripts': { type: 'boolean', default: false } } });
const runs = Number(values.runs);
const root = toolRoot();
const work = mkdtempSync(path.join(tmpdir(), 'sp-bench-tool-'));
const seconds = (started) => (performance.now() - started) / 1000;
const mb = (bytes) => Number((bytes / 1e6).toFixed(1));

function timed(command, args, options = {}) {
  const started = performance.now();
  const run = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
  if (run.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${run.status}:\n${run.stderr}`);
  return { seconds: seconds(started), stdout: run.stdout };
}

function emptyFolder(name) {
  const dir = path.join(work, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** `npm install --offline` of a tarball into an empty project; the time and what --version prints. */
function npmInstall(tarball, { scripts, cache }) {
  const project = emptyFolder('project');
  writeFileSync(path.join(project, 'package.json'), '{ "name": "bench", "private": true }\n');
  const install = timed('npm', ['install', '--offline', '--no-audit', '--no-fund', '--cache', cache, ...(scripts ? [] : ['--ignore-scripts']), tarball], { cwd: project });
  const printed = timed(path.join(project, 'node_modules/.bin/service-pipelines'), ['--version']).stdout.trim();
  return { seconds: install.seconds, printed };
}

const rows = [];
const figure = (what, measured, compared = '') => {
  rows.push({ what, measured, compared });
  console.log(`${what}: ${measured}${compared ? ` (${compared})` : ''}`);
};
console.log(`${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the start; ${runs} run(s) per figure`);

// Packing, cold and from the cache.
const cold = [];
let packed;
for (let run = 0; run < runs; run++) {
  const cacheDir = emptyFolder('tool-cache');
  const started = performance.now();
  packed = await packTool({ processes: nodeProcesses, clock: systemClock, cacheDir });
  cold.push(seconds(started));
}
const warmStarted = performance.now();
const warm = await packTool({ processes: nodeProcesses, clock: systemClock, cacheDir: path.join(work, 'tool-cache') });
const warmSeconds = seconds(warmStarted);
if (!warm.fromCache || warm.sha256 !== packed.sha256) throw new Error('the second pack did not come from the cache');
const tarball = path.join(work, 'service-pipelines.tgz');
copyFileSync(packed.file, tarball);
const listing = execFileSync('tar', ['-tvzf', tarball], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 }).split('\n').filter(Boolean);
const unpacked = listing.reduce((sum, line) => sum + Number(line.split(/\s+/)[2] ?? 0), 0);
figure('pack, empty cache (median)', `${median(cold).toFixed(1)} s`);
figure('pack, from the cache', `${warmSeconds.toFixed(2)} s`);
figure('tarball, dependencies bundled', `${mb(packed.bytes)} MB`, `${mb(unpacked)} MB unpacked, ${listing.length} entries`);

// Installing as the actions do.
const actionRuns = [];
for (let run = 0; run < runs; run++) {
  const dir = emptyFolder('action');
  const started = performance.now();
  copyFileSync(tarball, path.join(dir, 'tool.tgz'));
  if ((await sha256Of(path.join(dir, 'tool.tgz'))) !== packed.sha256) throw new Error('sha256 differs');
  execFileSync('tar', ['-xzf', path.join(dir, 'tool.tgz'), '-C', dir]);
  const printed = execFileSync(process.execPath, [path.join(dir, 'package/bin/service-pipelines.js'), '--version'], { encoding: 'utf8' }).trim();
  actionRuns.push(seconds(started));
  if (printed !== packed.version) throw new Error(`--version printed ${printed}`);
}
figure('install as the actions do (check sha256, tar -xzf, --version)', `${median(actionRuns).toFixed(1)} s`);

// Installing with npm, offline, nothing cached.
const npmRuns = [];
for (let run = 0; run < runs; run++) npmRuns.push(npmInstall(tarball, { scripts: false, cache: emptyFolder('npm-cache') }).seconds);
figure('npm install --offline --ignore-scripts, empty cache', `${median(npmRuns).toFixed(1)} s`);
if (values['with-scripts']) {
  const withScripts = [];
  for (let run = 0; run < runs; run++) withScripts.push(npmInstall(tarball, { scripts: true, cache: emptyFolder('npm-cache') }).seconds);
  figure('npm install --offline, empty cache, better-sqlite3 built from its sources', `${median(withScripts).toFixed(1)} s`);
}

// The alternative: no dependencies in the tarball, a shrinkwrap file instead.
const staging = emptyFolder('shrinkwrap/package');
const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
delete manifest.scripts?.prepare;
writeFileSync(path.join(staging, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
for (const entry of manifest.files) cpSync(path.join(root, entry), path.join(staging, entry), { recursive: true });
copyFileSync(path.join(root, 'package-lock.json'), path.join(staging, 'npm-shrinkwrap.json'));
const out = emptyFolder('shrinkwrap/out');
timed('npm', ['pack', staging, '--ignore-scripts', '--pack-destination', out, '--loglevel', 'error'], { cwd: staging });
const [shrinkwrapped] = execFileSync('ls', [out], { encoding: 'utf8' }).split('\n').filter(Boolean);
const shrinkwrapTarball = path.join(out, shrinkwrapped);
figure('tarball, npm-shrinkwrap.json instead', `${mb(readFileSync(shrinkwrapTarball).length)} MB`, 'every dependency fetched at install');
const userCache = timed('npm', ['config', 'get', 'cache']).stdout.trim();
const shrinkwrapRuns = [];
try {
  for (let run = 0; run < runs; run++) shrinkwrapRuns.push(npmInstall(shrinkwrapTarball, { scripts: false, cache: userCache }).seconds);
  figure('npm install --offline --ignore-scripts of it, from a warm npm cache', `${median(shrinkwrapRuns).toFixed(1)} s`, 'from a registry: the same, plus downloading ~the bundled size');
} catch (error) {
  figure('npm install --offline of it', 'failed', String(error.message).split('\n').find((l) => l.includes('npm error')) ?? 'not every dependency is in the npm cache');
}
console.table(rows);
console.log(`load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the end`);
rmSync(work, { recursive: true, force: true });
