/**
 * Passing a large artifact through three stages: what the engine's content-addressed store costs,
 * against copying the artifact into each stage (what a copying engine does).
 *
 *   npm run build && node bench/local-artifacts.mjs [--mb 200] [--runs 3]
 *
 * 1. Through the engine (`runPipeline(plan, options)`, the plan written by hand, no config): an
 *    action writes a `--mb` MB output artifact; three later stages each read it as a secondary
 *    input. Each run reports, from the run's own history: the time storing it adds (the producing
 *    stage's duration minus the same command writing no output artifact) and each consuming
 *    stage's (its duration minus a stage whose action has no such input).
 * 2. The store alone, with the modes the engine uses: `put` (sha256 + hard link of the action's
 *    output), then `materialize(..., 'copy')` into three workspaces (a reflink where the file
 *    system has them, a copy elsewhere: no action reaches the stored blobs), against `cp -r` of
 *    the folder three times.
 * Medians over `--runs` runs are printed, with each run's figures.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cp } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ArtifactStore, removeReadOnly } from '../dist/local/artifact-store.js';
import { runPipeline } from '../dist/local/engine.js';
import { StateStore } from '../dist/local/state-store.js';
import { median, writable } from './support.mjs';

const { values } = parseArgs({ options: { mb: { type: 'string', default: '200' }, runs: { type: 'string', default: '3' } } });
const megabytes = Number(values.mb);
const runs = Number(values.runs);
const ms = (from) => performance.now() - from;
const fmt = (xs) => `${median(xs).toFixed(0).padStart(6)}  (${xs.map((x) => x.toFixed(0)).join(', ')})`;

/** A plan written by hand: a source, then one commands action per stage. */
function benchPlan(sourcePath) {
  const make = `mkdir -p .pipeline/Big && head -c ${megabytes * 1024 * 1024} /dev/urandom > .pipeline/Big/blob.bin`;
  const read = 'test -s "$CODEBUILD_SRC_DIR_Big/blob.bin"';
  const stage = (name, inputs, commands, outputs = []) => ({
    name,
    onFailure: 'FAIL',
    actions: [{ kind: 'commands', name: 'Action', runOrder: 1, inputs, outputs, privilege: 'read', setup: [], commands, env: {}, timeoutMinutes: 30 }],
  });
  return {
    schemaVersion: 2,
    pipelineName: 'bench',
    service: 'bench',
    serverlessService: 'bench',
    trigger: 'pull-request',
    flavor: 'custom',
    source: { branch: 'main', path: sourcePath, directory: '.', triggerPaths: [] },
    cicd: { account: '111111111111', region: 'us-east-1' },
    executionMode: 'SUPERSEDED',
    environments: [],
    artifacts: [
      { name: 'Source', producedBy: 'Source.Source', description: 'the service folder' },
      { name: 'Big', producedBy: 'Make.Action', description: 'the large artifact' },
    ],
    stages: [
      { name: 'Source', onFailure: 'FAIL', actions: [{ kind: 'source', name: 'Source', runOrder: 1, inputs: [], outputs: ['Source'] }] },
      stage('Make', ['Source'], [make], ['Big']),
      stage('MakeWithoutArtifact', ['Source'], [make.replaceAll('.pipeline/Big', 'scratch')]),
      stage('Stage1', ['Source', 'Big'], [read]),
      stage('Stage2', ['Source', 'Big'], [read]),
      stage('Stage3', ['Source', 'Big'], [read]),
      stage('Baseline', ['Source'], ['true']),
    ],
    notifications: { email: [] },
    deployPermissions: { kind: 'default' },
    acknowledgeWildcards: {},
  };
}

const work = mkdtempSync(path.join(tmpdir(), 'sp-bench-artifacts-'));
try {
  const source = path.join(work, 'svc');
  mkdirSync(source);
  writeFileSync(path.join(source, 'README.md'), 'bench\n');
  const plan = benchPlan('./svc');
  const engine = { store: [], Stage1: [], Stage2: [], Stage3: [] };
  const alone = { put: [], handOff: [], copies: [], copiesFlushed: [] };
  const loads = [loadavg()[0]];
  for (let run = 0; run < runs; run++) {
    // 1. Through the engine, a history of its own each run (no artifact is there already).
    const home = path.join(work, `home-${run}`);
    const result = await runPipeline(plan, { home, baseDir: work, definitionFile: 'bench plan' });
    if (result.status !== 'SUCCEEDED') throw new Error(`the bench pipeline failed: ${result.reason}`);
    const history = StateStore.open(home, { readOnly: true });
    const took = Object.fromEntries(history.stages(result.executionId).map((s) => [s.name, s.finishedAt - s.startedAt]));
    history.close();
    engine.store.push(took.Make - took.MakeWithoutArtifact);
    for (const name of ['Stage1', 'Stage2', 'Stage3']) engine[name].push(took[name] - took.Baseline);
    writable(home);
    rmSync(home, { recursive: true, force: true });

    // 2. The store alone, against copying.
    const folder = path.join(work, 'artifact');
    mkdirSync(folder);
    execFileSync('sh', ['-c', `head -c ${megabytes * 1024 * 1024} /dev/urandom > ${JSON.stringify(path.join(folder, 'blob.bin'))}`]);
    const artifacts = new ArtifactStore(path.join(work, 'store'));
    execFileSync('sync');
    let started = performance.now();
    const stored = await artifacts.put(folder, { mode: 'link' });
    alone.put.push(ms(started));
    started = performance.now();
    for (let i = 1; i <= 3; i++) await artifacts.materialize(stored.digest, path.join(work, `workspace-${i}`), 'copy');
    alone.handOff.push(ms(started));
    execFileSync('sync');
    started = performance.now();
    for (let i = 1; i <= 3; i++) await cp(folder, path.join(work, `copy-${i}`), { recursive: true });
    alone.copies.push(ms(started));
    // The copies' bytes still have to reach the disk: count the flush too.
    execFileSync('sync');
    alone.copiesFlushed.push(ms(started));
    for (const name of ['artifact', 'store', 'workspace-1', 'workspace-2', 'workspace-3', 'copy-1', 'copy-2', 'copy-3']) await removeReadOnly(path.join(work, name));
    loads.push(loadavg()[0]);
  }

  console.log(`${megabytes} MB artifact; runs: ${runs}; load average (1 min) ${Math.min(...loads).toFixed(1)} to ${Math.max(...loads).toFixed(1)}; medians (each run) in ms`);
  console.log('through the engine (runPipeline, stage durations from the history):');
  console.log(`  storing it (Make minus the same command with no output artifact):  ${fmt(engine.store)}`);
  for (const name of ['Stage1', 'Stage2', 'Stage3']) console.log(`  ${name}, reading it as a secondary input, minus a stage without it: ${fmt(engine[name])}`);
  console.log('the store alone, as the engine uses it:');
  console.log(`  put (sha256 + hard link), once:                                     ${fmt(alone.put)}`);
  console.log(`  hand it to 3 workspaces (materialize 'copy': reflink or copy):      ${fmt(alone.handOff)}`);
  console.log(`  against cp -r into 3 stages:                                        ${fmt(alone.copies)}`);
  console.log(`  against cp -r into 3 stages, with the flush to disk:                ${fmt(alone.copiesFlushed)}`);
} finally {
  writable(work);
  rmSync(work, { recursive: true, force: true });
}
