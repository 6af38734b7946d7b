// The code bundle `step package` builds where the local engine runs it (an action workspace whose
// path holds the run's UUID), against the one `osls package` builds by hand in the service's
// folder: bytes zipped and extracted, files, and how long packaging one environment takes.
//
//   npm run build && node bench/steps-bundle.mjs [--runs N] [--cli PATH] [--patch-framework-version]
//
// --cli measures another build of the tool (e.g. an older one: its bin/service-pipelines.js).
// --patch-framework-version gives the copies `frameworkVersion: '3 || 4'` (a build that cannot run
// the published '3' needs it; the by-hand run always gets it, as osls 4 refuses '3').
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { median, writable } from './support.mjs';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '3' }, cli: { type: 'string' }, 'patch-framework-version': { type: 'boolean', default: false } },
});
const runs = Number(values.runs);
const repo = fileURLToPath(new URL('..', import.meta.url));
const cli = values.cli ? path.resolve(values.cli) : path.join(repo, 'bin', 'service-pipelines.js');
const { listZip } = await import(path.join(repo, 'dist', 'steps', 'unzip.js'));
const scratch = mkdtempSync(path.join(os.tmpdir(), 'sp-bench-bundle-'));
const home = path.join(scratch, 'home');
const env = { ...process.env, SERVICE_PIPELINES_HOME: home, SLS_TELEMETRY_DISABLED: '1' };

function timed(command, args, cwd) {
  const started = process.hrtime.bigint();
  const run = spawnSync(command, args, { cwd, env, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${run.status}):\n${run.stdout}\n${run.stderr}`);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

function copyService(name, into, patch) {
  cpSync(path.join(repo, 'examples', name), into, { recursive: true, filter: (s) => !['node_modules', '.serverless', '.pipeline'].includes(path.basename(s)) });
  if (patch) {
    const file = path.join(into, 'serverless.yml');
    writeFileSync(file, readFileSync(file, 'utf8').replace("frameworkVersion: '3'", "frameworkVersion: '3 || 4'"));
  }
}

async function measure(zip) {
  const entries = await listZip(zip);
  return { zipped: statSync(zip).size, unzipped: entries.reduce((sum, e) => sum + e.bytes, 0), files: entries.length };
}

const size = (bytes) => (bytes >= 1_048_576 ? `${(bytes / 1_048_576).toFixed(1)} MB` : `${(bytes / 1024).toFixed(0)} KB`);
const rows = [];
try {
  for (const name of ['ac-rest-api', 'order-events']) {
    // As the engine lays out an action: .service-pipelines/runs/<execution id>/work/<stage>/<action>/src
    const workspace = path.join(scratch, 'runs', randomUUID(), 'work', 'Build', 'Package', 'src');
    copyService(name, workspace, values['patch-framework-version']);
    timed(process.execPath, [cli, 'step', 'install'], workspace);
    const engine = [];
    for (let i = 0; i < runs; i += 1) engine.push(timed(process.execPath, [cli, 'step', 'package', '--stage', 'dev@us-east-1'], workspace));
    const manifest = JSON.parse(readFileSync(path.join(workspace, '.pipeline', 'Package', 'manifest.json'), 'utf8'));
    const engineSize = await measure(path.join(workspace, '.pipeline', 'Package', manifest.bundle.file));

    const byHand = path.join(scratch, 'by-hand', name);
    copyService(name, byHand, true);
    symlinkSync(readlinkSync(path.join(workspace, 'node_modules')), path.join(byHand, 'node_modules'), 'dir');
    const hand = [];
    const out = path.join(scratch, 'by-hand-out', name);
    for (let i = 0; i < runs; i += 1) {
      rmSync(out, { recursive: true, force: true });
      hand.push(timed(path.join(byHand, 'node_modules', '.bin', 'osls'), ['package', '--stage', 'dev', '--package', out], byHand));
    }
    const state = JSON.parse(readFileSync(path.join(out, 'serverless-state.json'), 'utf8'));
    const zip = path.join(out, `${state.service.service}.zip`);
    rows.push({ name, engine: { ...engineSize, ms: median(engine) }, hand: { ...(await measure(zip)), ms: median(hand) } });
  }
  console.log(`node ${process.version}, ${os.cpus().length} CPUs, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; ${runs} runs each, medians; cli ${cli}`);
  console.log('| service | step package, UUID workspace: zipped / extracted / files / time | osls package by hand: zipped / extracted / files / time |');
  console.log('| --- | --- | --- |');
  for (const { name, engine, hand } of rows) {
    const cell = (m) => `${size(m.zipped)} / ${size(m.unzipped)} / ${m.files} / ${(m.ms / 1000).toFixed(1)} s`;
    console.log(`| ${name} | ${cell(engine)} | ${cell(hand)} |`);
  }
} finally {
  writable(scratch);
  rmSync(scratch, { recursive: true, force: true });
}
