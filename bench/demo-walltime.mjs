/**
 * The demo's wall time (`service-pipelines run ac-rest-api --approve`, the example's whole
 * pipeline to prod) against a plain shell script that runs the same commands with the same
 * parallelism.
 *
 *   npm run build && node bench/demo-walltime.mjs [--rounds 3]
 *
 * Both run warm: a first, untimed engine run fills the install cache both then use. The script
 * is generated from the plan (`plan --json`): every commands action's lines as AWS runs them
 * (`actionCommandLines`: its setup, then its step, each a `service-pipelines step ...` command),
 * with its variables, each action in a copy of the service's folder of its own (as the engine and
 * CodeBuild give each action), its secondary inputs (`CODEBUILD_SRC_DIR_<name>`) the folders the
 * actions that made them wrote; the actions of a stage with the same runOrder side by side (`&`,
 * then `wait`), the stages one after another; the approval is skipped. Rounds alternate the
 * engine and the script; medians are printed. Target: engine / script <= 1.0.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { artifactOutputDirectory } from '../dist/model/contract.js';
import { actionCommandLines } from '../dist/model/plan.js';
import { systemClock } from '../dist/runtime/clock.js';
import { nodeProcessTable } from '../dist/runtime/process.js';
import { stopServersStartedBy } from '../dist/steps/local-deployments.js';
import { median, writable } from './support.mjs';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' } } });
const root = path.resolve(import.meta.dirname, '..');
const cli = path.join(root, 'bin', 'service-pipelines.js');
const config = path.join(root, 'examples', 'pipelines.config.ts');
const example = path.join(root, 'examples', 'ac-rest-api');
const quote = (word) => `'${String(word).replace(/'/g, `'\\''`)}'`;
const SCRIPT_EXECUTION = 'plain-script';

function timed(command, args, options) {
  const started = performance.now();
  const result = spawnSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', ...options });
  const seconds = (performance.now() - started) / 1000;
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited with ${result.status}:\n${result.stderr.slice(-3000)}`);
  }
  return seconds;
}

/** The plan as a shell script: the same commands, the same parallelism, a folder per action. */
function scriptOf(plan, home, actionsDir) {
  const lines = [
    '#!/bin/sh',
    'set -e',
    'export SERVICE_PIPELINES_TARGET=local',
    `export SERVICE_PIPELINES_HOME=${quote(home)}`,
    `export SERVICE_PIPELINES_EXECUTION_ID=${SCRIPT_EXECUTION}`,
    `export PATH=${quote(path.join(home, 'bin'))}:"$PATH"`,
    `rm -rf ${quote(actionsDir)}`,
  ];
  // Where each artifact is, once the action that writes it has run.
  const artifacts = new Map([['Source', example]]);
  const copyOf = (from, to) => `mkdir -p ${quote(to)} && tar -C ${quote(from)} --exclude=./node_modules --exclude=./.serverless --exclude=./.pipeline -cf - . | tar -C ${quote(to)} -xf -`;
  for (const stage of plan.stages) {
    const orders = [...new Set(stage.actions.map((a) => a.runOrder))].sort((a, b) => a - b);
    for (const order of orders) {
      const group = stage.actions.filter((a) => a.kind === 'commands' && a.runOrder === order);
      for (const action of group) {
        const dir = path.join(actionsDir, stage.name, action.name);
        const [primary, ...secondary] = action.inputs;
        const variables = [
          ...Object.entries(action.env).map(([k, v]) => `export ${k}=${quote(v)}`),
          `export CODEBUILD_SRC_DIR=${quote(dir)}`,
          ...secondary.map((name) => `export CODEBUILD_SRC_DIR_${name}=${quote(artifacts.get(name))}`),
        ];
        const body = [copyOf(artifacts.get(primary), dir), `cd ${quote(dir)}`, ...variables, ...actionCommandLines(action)];
        lines.push(`( ${body.join(' && ')} )${group.length > 1 ? ' &' : ''}`);
      }
      if (group.length > 1) lines.push('wait');
      for (const action of group) {
        for (const output of action.outputs) artifacts.set(output, path.join(actionsDir, stage.name, action.name, artifactOutputDirectory(output)));
      }
    }
  }
  return `${lines.join('\n')}\n`;
}

const work = mkdtempSync(path.join(tmpdir(), 'sp-bench-demo-'));
try {
  const home = path.join(work, '.service-pipelines');
  const run = () => timed(process.execPath, [cli, 'run', 'ac-rest-api', '--config', config, '--approve'], { cwd: work });
  process.stderr.write('warming the install cache (one untimed engine run)...\n');
  run();

  const plan = JSON.parse(execFileSync(process.execPath, [cli, 'plan', 'ac-rest-api', '--config', config, '--json'], { encoding: 'utf8' })).pipelines.find((p) => p.trigger === 'push');
  const script = path.join(work, 'pipeline.sh');
  writeFileSync(script, scriptOf(plan, home, path.join(work, 'script-actions')), { mode: 0o755 });

  const engine = [];
  const plain = [];
  const loads = [loadavg()[0]];
  for (let round = 0; round < Number(values.rounds); round++) {
    engine.push(run());
    try {
      plain.push(timed('sh', [script], { cwd: work }));
    } finally {
      await stopServersStartedBy(home, SCRIPT_EXECUTION, { processTable: nodeProcessTable, clock: systemClock });
    }
    loads.push(loadavg()[0]);
    process.stderr.write(`round ${round + 1}: engine ${engine.at(-1).toFixed(1)} s, script ${plain.at(-1).toFixed(1)} s\n`);
  }
  console.log(`rounds: ${engine.length}; load average (1 min) ${Math.min(...loads).toFixed(1)} to ${Math.max(...loads).toFixed(1)}; medians`);
  console.log(`demo (engine, warm):                                 ${median(engine).toFixed(1)} s  (${engine.map((s) => s.toFixed(1)).join(', ')})`);
  console.log(`shell script, same commands, same parallelism:       ${median(plain).toFixed(1)} s  (${plain.map((s) => s.toFixed(1)).join(', ')})`);
  console.log(`ratio engine / script (medians):                     ${(median(engine) / median(plain)).toFixed(2)}x (target <= 1.0x)`);
} finally {
  writable(work);
  rmSync(work, { recursive: true, force: true });
}
