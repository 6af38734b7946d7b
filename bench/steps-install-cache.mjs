// Benchmark of `service-pipelines step install` on the example service (examples/ac-rest-api):
// a plain `npm ci` (what an action without a cache does), the step with an empty install cache
// (cold: npm ci into the cache, then a link), and the step with the entry there (warm: a link).
//
//   npm run build && node bench/steps-install-cache.mjs [--runs N] [--cold-runs N] [--npm-cold]
//
// --npm-cold also empties npm's own download cache for the cold runs (everything comes from the
// registry), instead of the usual case of a machine that has installed these packages before.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { median } from './support.mjs';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '5' }, 'cold-runs': { type: 'string', default: '3' }, 'npm-cold': { type: 'boolean', default: false } },
});
const repo = fileURLToPath(new URL('..', import.meta.url));
const cli = path.join(repo, 'bin', 'service-pipelines.js');
const example = path.join(repo, 'examples', 'ac-rest-api');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'sp-bench-install-'));

function copyExample(name) {
  const dir = path.join(scratch, name);
  cpSync(example, dir, { recursive: true, filter: (s) => !['node_modules', '.serverless', '.pipeline'].includes(path.basename(s)) });
  return dir;
}

function timed(command, args, options) {
  const started = process.hrtime.bigint();
  const run = spawnSync(command, args, { ...options, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (run.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${run.status}):\n${run.stdout}\n${run.stderr}`);
  }
  return ms;
}

function env(extra = {}) {
  return { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', ...extra };
}


const results = { 'npm ci (no install cache)': [], 'step install, cold cache': [], 'step install, warm cache': [] };
const coldRuns = Number(values['cold-runs']);
const runs = Number(values.runs);
try {
  for (let i = 0; i < coldRuns; i += 1) {
    const npmCache = values['npm-cold'] ? path.join(scratch, `npm-cache-${i}`) : undefined;
    const extra = npmCache ? { npm_config_cache: npmCache } : {};
    results['npm ci (no install cache)'].push(timed('npm', ['ci', '--no-audit', '--no-fund'], { cwd: copyExample(`plain-${i}`), env: env(extra) }));
    if (npmCache) rmSync(npmCache, { recursive: true, force: true });
    const home = path.join(scratch, `home-cold-${i}`);
    mkdirSync(home);
    results['step install, cold cache'].push(timed(process.execPath, [cli, 'step', 'install'], { cwd: copyExample(`cold-${i}`), env: env({ ...extra, SERVICE_PIPELINES_HOME: home }) }));
  }
  const home = path.join(scratch, 'home-cold-0');
  for (let i = 0; i < runs; i += 1) {
    results['step install, warm cache'].push(timed(process.execPath, [cli, 'step', 'install'], { cwd: copyExample(`warm-${i}`), env: env({ SERVICE_PIPELINES_HOME: home }) }));
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

console.log(`node ${process.version}, ${os.cpus().length} CPUs${values['npm-cold'] ? ', npm download cache emptied for cold runs' : ', npm download cache as it is'}`);
console.log('| case | runs | median (s) | min (s) | max (s) |');
console.log('| --- | --- | --- | --- | --- |');
for (const [name, xs] of Object.entries(results)) {
  const f = (ms) => (ms / 1000).toFixed(2);
  console.log(`| ${name} | ${xs.length} | ${f(median(xs))} | ${f(Math.min(...xs))} | ${f(Math.max(...xs))} |`);
}
