/**
 * Passing a 200 MB artifact through three stages: what the engine's content-addressed store
 * costs, against copying the artifact into each stage (what a copying engine would do).
 *
 *   npm run build && node bench/local-artifacts.mjs [--mb 200]
 *
 * 1. A pipeline: an action writes a 200 MB output artifact; three later stages each read it as a
 *    secondary input. Reported: the time the engine adds to storing it (the producing action's
 *    duration minus the command's own) and to each consuming stage (its duration minus the same
 *    action with no such input).
 * 2. The store alone: putting the folder (hash + hard link) and handing it to three stages,
 *    against `cp -r` of it three times.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ArtifactStore } from '../dist/local/artifact-store.js';
import { runPipeline } from '../dist/local/engine.js';
import { StateStore } from '../dist/local/state-store.js';
import { buildPipelinePlan } from '../dist/model/plan.js';
import { validateConfig } from '../dist/model/validate.js';
import { writable } from './support.mjs';

const { values } = parseArgs({ options: { mb: { type: 'string', default: '200' } } });
const megabytes = Number(values.mb);

const ms = (from) => performance.now() - from;

const work = mkdtempSync(path.join(tmpdir(), 'sp-bench-artifacts-'));
try {
  // 1. Through the engine.
  const source = path.join(work, 'svc');
  mkdirSync(source);
  writeFileSync(path.join(source, 'README.md'), 'bench\n');
  const config = validateConfig({
    cicd: { account: '111111111111', region: 'us-east-1' },
    environments: [{ name: 'dev', account: '222222222222', region: 'us-east-1' }],
    services: [{ name: 'svc', flavor: 'custom', source: { path: source }, commands: { package: 'true', deploy: 'true' } }],
  });
  const base = buildPipelinePlan(config, 'svc', 'pull-request');
  const template = base.stages[1].actions[0];
  const make = `mkdir -p .pipeline/Big && head -c ${megabytes * 1024 * 1024} /dev/urandom > .pipeline/Big/blob.bin`;
  const read = 'test -s "$CODEBUILD_SRC_DIR_Big/blob.bin"';
  const stage = (name, inputs, commands, outputs = []) => ({ name, onFailure: 'FAIL', actions: [{ ...template, name: 'Action', inputs, outputs, commands }] });
  const plan = {
    ...base,
    stages: [
      base.stages[0],
      stage('Make', ['Source'], [make], ['Big']),
      stage('MakeWithoutArtifact', ['Source'], [make.replace('.pipeline/Big', 'scratch').replace('.pipeline/Big', 'scratch')]),
      stage('Stage1', ['Source', 'Big'], [read]),
      stage('Stage2', ['Source', 'Big'], [read]),
      stage('Stage3', ['Source', 'Big'], [read]),
      stage('Baseline', ['Source'], ['true']),
    ],
  };
  const home = path.join(work, 'home');
  const result = await runPipeline({ config, plan, configFile: 'bench', baseDir: work, service: 'svc', home, localStages: { stopStagesStartedBy: async () => [] } });
  if (result.status !== 'SUCCEEDED') throw new Error(`the bench pipeline failed: ${result.reason}`);
  const store = StateStore.open(home);
  const took = Object.fromEntries(store.stages(result.executionId).map((s) => [s.name, s.finishedAt - s.startedAt]));
  store.close();
  console.log(`${megabytes} MB artifact through the engine (ms):`);
  console.log(`  storing it (Make minus the same command with no output artifact): ${took.Make - took.MakeWithoutArtifact}`);
  for (const name of ['Stage1', 'Stage2', 'Stage3']) {
    console.log(`  ${name}, reading it as an input, minus an action without it:   ${took[name] - took.Baseline}`);
  }

  // 2. The store alone, against copying.
  const folder = path.join(work, 'artifact');
  mkdirSync(folder);
  execFileSync('sh', ['-c', `head -c ${megabytes * 1024 * 1024} /dev/urandom > ${JSON.stringify(path.join(folder, 'blob.bin'))}`]);
  const artifacts = new ArtifactStore(path.join(work, 'store'));
  let started = performance.now();
  const stored = await artifacts.put(folder, { mode: 'link' });
  const put = ms(started);
  started = performance.now();
  for (let i = 1; i <= 3; i++) {
    await artifacts.materialize(stored.digest, path.join(work, `linked-${i}`), 'link');
  }
  const linked = ms(started);
  execFileSync('sync');
  started = performance.now();
  for (let i = 1; i <= 3; i++) {
    await cp(folder, path.join(work, `copy-${i}`), { recursive: true });
  }
  const copied = ms(started);
  // The copies' bytes still have to reach the disk: count the flush too.
  execFileSync('sync');
  const copiedAndFlushed = ms(started);
  console.log(`${megabytes} MB, the store alone (ms):`);
  console.log(`  put (sha256 + hard link), once:                 ${put.toFixed(0)}`);
  console.log(`  hand to 3 stages as secondary inputs (a path):  0`);
  console.log(`  hand to 3 stages as primary inputs (hard links): ${linked.toFixed(1)}`);
  console.log(`  copy into 3 stages (cp -r x3):                   ${copied.toFixed(0)} (${copiedAndFlushed.toFixed(0)} with the flush to disk)`);
  console.log(`  engine total (put + 3 hand-offs) vs copying:     ${(put + linked).toFixed(0)} vs ${copied.toFixed(0)}-${copiedAndFlushed.toFixed(0)}`);
  console.log(`  extra disk: store 0 MB (hard links to the action's output), copies ${3 * megabytes} MB`);
} finally {
  writable(work);
  rmSync(work, { recursive: true, force: true });
}
