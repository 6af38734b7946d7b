// Benchmark of `service-pipelines step package` for three environments (the bundle built once,
// one template per environment referencing it) against the article's build.sh way: one
// `osls package` per environment, each zipping the code again.
//
//   npm run build && node bench/steps-package.mjs [--runs N]
//
// The example service is installed once through the install cache (a temp home) before timing.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { median } from './support.mjs';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' } } });
const runs = Number(values.runs);
const repo = fileURLToPath(new URL('..', import.meta.url));
const cli = path.join(repo, 'bin', 'service-pipelines.js');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'sp-bench-package-'));
const service = path.join(scratch, 'ac-rest-api');
const stages = [['dev', 'us-east-1'], ['staging', 'us-east-1'], ['prod', 'us-east-1']];

function run(command, args, env = {}) {
  const started = process.hrtime.bigint();
  const result = spawnSync(command, args, { cwd: service, env: { ...process.env, ...env }, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
  return Number(process.hrtime.bigint() - started) / 1e6;
}
const sha = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');

try {
  cpSync(path.join(repo, 'examples', 'ac-rest-api'), service, { recursive: true, filter: (s) => !['node_modules', '.serverless', '.pipeline'].includes(path.basename(s)) });
  const home = path.join(scratch, 'home');
  mkdirSync(home);
  run(process.execPath, [cli, 'step', 'install'], { SERVICE_PIPELINES_HOME: home });

  const once = [];
  const perStage = [];
  let onceDigests = [];
  let perStageDigests = [];
  for (let i = 0; i < runs; i += 1) {
    once.push(run(process.execPath, [cli, 'step', 'package', ...stages.flatMap(([s, r]) => ['--stage', `${s}@${r}`])]));
    const manifest = JSON.parse(readFileSync(path.join(service, '.pipeline', 'Package', 'manifest.json'), 'utf8'));
    onceDigests = stages.map(() => manifest.bundle.sha256);
    let ms = 0;
    perStageDigests = [];
    for (const [s, r] of stages) {
      const out = path.join(scratch, 'dist', s);
      rmSync(out, { recursive: true, force: true });
      ms += run(path.join(service, 'node_modules', '.bin', 'osls'), ['package', '--stage', s, '--region', r, '--package', out]);
      perStageDigests.push(sha(path.join(out, 'ac-rest-api.zip')));
    }
    perStage.push(ms);
  }
  const f = (ms) => (ms / 1000).toFixed(2);
  console.log(`node ${process.version}, ${os.cpus().length} CPUs, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log('| three environments | runs | median (s) | min (s) | max (s) | distinct bundles |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  console.log(`| step package (bundle once) | ${runs} | ${f(median(once))} | ${f(Math.min(...once))} | ${f(Math.max(...once))} | ${new Set(onceDigests).size} |`);
  console.log(`| osls package per environment (build.sh) | ${runs} | ${f(median(perStage))} | ${f(Math.min(...perStage))} | ${f(Math.max(...perStage))} | ${new Set(perStageDigests).size} |`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
