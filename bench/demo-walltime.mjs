/**
 * The demo's wall time (`service-pipelines run ac-rest-api --approve`, the example's whole
 * pipeline to prod) against a plain shell script that runs the same commands one after another
 * in one folder (what the article's author did by hand with build.sh).
 *
 *   npm run build && node bench/demo-walltime.mjs [--rounds 1]
 *
 * Both run warm: a first, untimed engine run fills the install cache both then use. The script
 * is generated from the plan (`plan --json`): every commands action's lines, with its variables,
 * in plan order; the approval is skipped. Target: engine / script <= 1.0.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { stopStagesStartedBy } from '../dist/steps/local-stages.js';
import { writable } from './support.mjs';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '1' } } });
const root = path.resolve(import.meta.dirname, '..');
const cli = path.join(root, 'bin', 'service-pipelines.js');
const config = path.join(root, 'examples', 'pipelines.config.ts');
const quote = (word) => `'${String(word).replace(/'/g, `'\\''`)}'`;


function timed(command, args, options) {
  const started = performance.now();
  const result = spawnSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', ...options });
  const seconds = (performance.now() - started) / 1000;
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited with ${result.status}:\n${result.stderr.slice(-3000)}`);
  }
  return seconds;
}

const work = mkdtempSync(path.join(tmpdir(), 'sp-bench-demo-'));
try {
  const home = path.join(work, '.service-pipelines');
  const run = () => timed(process.execPath, [cli, 'run', 'ac-rest-api', '--config', config, '--approve'], { cwd: work });
  process.stderr.write('warming the install cache (one untimed engine run)...\n');
  run();

  const plan = JSON.parse(execFileSync(process.execPath, [cli, 'plan', 'ac-rest-api', '--config', config, '--json'], { encoding: 'utf8' })).pipelines.find((p) => p.trigger === 'push');
  const source = path.join(work, 'script-src');
  const example = path.join(root, 'examples', 'ac-rest-api');
  const lines = ['#!/bin/sh', 'set -e', `cd ${quote(source)}`, 'export SERVICE_PIPELINES_TARGET=local', `export SERVICE_PIPELINES_HOME=${quote(home)}`, 'export SERVICE_PIPELINES_EXECUTION_ID=plain-script', `export CODEBUILD_SRC_DIR=${quote(source)}`, `export PATH=${quote(path.join(home, 'bin'))}:"$PATH"`];
  for (const stage of plan.stages) {
    for (const action of stage.actions.filter((a) => a.kind === 'commands')) {
      const variables = Object.entries(action.env).map(([k, v]) => `export ${k}=${quote(v)};`);
      const inputs = action.inputs.slice(1).map((name) => `export CODEBUILD_SRC_DIR_${name}=${quote(path.join(source, '.pipeline', name))};`);
      lines.push(`( ${[...variables, ...inputs].join(' ')} ${action.commands.join(' && ')} )`);
    }
  }
  const script = path.join(work, 'pipeline.sh');
  writeFileSync(script, `${lines.join('\n')}\n`, { mode: 0o755 });

  const engine = [];
  const plain = [];
  for (let round = 0; round < Number(values.rounds); round++) {
    engine.push(run());
    rmSync(source, { recursive: true, force: true });
    cpSync(example, source, { recursive: true, filter: (file) => !/(^|\/)(node_modules|\.serverless|\.pipeline)(\/|$)/.test(path.relative(example, file)) });
    try {
      plain.push(timed('sh', [script], { cwd: work }));
    } finally {
      await stopStagesStartedBy(home, 'plain-script');
    }
  }
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(`demo (engine, warm):             ${engine.map((s) => s.toFixed(1)).join(', ')} s`);
  console.log(`plain shell script, same commands: ${plain.map((s) => s.toFixed(1)).join(', ')} s`);
  console.log(`ratio engine / script:            ${(mean(engine) / mean(plain)).toFixed(2)}x (target <= 1.0x)`);
} finally {
  writable(work);
  rmSync(work, { recursive: true, force: true });
}
