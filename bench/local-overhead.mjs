/**
 * What a local action costs: the engine's overhead per action, as the slope between a pipeline
 * with few environments and one with many, against a shell script that runs the same commands
 * with the same parallelism.
 *
 *   npm run build && node bench/local-overhead.mjs [--environments 1,11] [--rounds 3] [--cli bin/service-pipelines.js] [--command-path]
 *
 * The service is of the custom flavor and every command is `true` (Package writes one file, as a
 * package must): what is left is what the engine itself costs. Each round runs, whole and in turn,
 * `service-pipelines run svc` (what a user runs) and the script, for each count of environments.
 * Each environment adds two actions (Deploy, AcceptanceTests); the slope is the median time of the
 * largest pipeline minus the smallest's, divided by the actions between them. The script is made
 * from the plan (`plan --json`): each action's step commands, each in `sh -c` as the step runs
 * them, the actions of a stage with the same runOrder side by side (`&`, then `wait`).
 * Target: engine slope minus script slope <= 20 ms per action.
 *
 * With --command-path, each round also runs the same plan through the engine with its step calls
 * run as the commands the plan renders (`service-pipelines step ...`, a Node process each, as
 * before the steps ran in-process): a whole Node process that calls `runPipeline(plan, {
 * stepCalls: 'command' })` on the plan `plan --json` printed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { median, writable } from './support.mjs';

const { values } = parseArgs({
  options: {
    environments: { type: 'string', default: '1,11' },
    rounds: { type: 'string', default: '3' },
    cli: { type: 'string', default: path.resolve(import.meta.dirname, '..', 'bin', 'service-pipelines.js') },
    'command-path': { type: 'boolean', default: false },
  },
});
const counts = values.environments.split(',').map(Number);
const rounds = Number(values.rounds);
const cli = path.resolve(values.cli);
const commandPath = values['command-path'];
const engineModule = path.resolve(import.meta.dirname, '..', 'dist', 'local', 'engine.js');
/** A whole process that runs a plan file through the engine with its step calls as commands. */
const COMMAND_PATH_DRIVER = `
const [planFile, home, baseDir] = process.argv.slice(1);
const { runPipeline } = await import(${JSON.stringify(engineModule)});
const plan = JSON.parse((await import('node:fs')).readFileSync(planFile, 'utf8'));
const result = await runPipeline(plan, { home, baseDir, definitionFile: planFile, stepCalls: 'command' });
if (result.status !== 'SUCCEEDED') { console.error(result.reason); process.exitCode = 1; }
`;
const quote = (word) => `'${String(word).replace(/'/g, `'\\''`)}'`;

function timed(command, args, cwd) {
  const started = performance.now();
  const result = spawnSync(command, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const ms = performance.now() - started;
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited with ${result.status}:\n${result.stderr.slice(-3000)}`);
  }
  return ms;
}

/** A shell script of the plan's commands: the same lines, the same parallelism. */
function scriptOf(plan) {
  const lines = ['#!/bin/sh', 'set -e'];
  const commandsOf = (call) => call.commands.map((line) => `sh -c ${quote(line)}`);
  for (const stage of plan.stages) {
    const orders = [...new Set(stage.actions.map((a) => a.runOrder))].sort((a, b) => a - b);
    for (const order of orders) {
      const group = stage.actions.filter((a) => a.kind === 'commands' && a.runOrder === order);
      for (const action of group) {
        const body = [...action.setup.flatMap(commandsOf), ...(action.step ? commandsOf(action.step) : action.commands.map((l) => `sh -c ${quote(l)}`))];
        lines.push(`( ${body.join(' && ')} )${group.length > 1 ? ' &' : ''}`);
      }
      if (group.length > 1) lines.push('wait');
    }
  }
  return `${lines.join('\n')}\n`;
}

const work = mkdtempSync(path.join(tmpdir(), 'sp-bench-overhead-'));
try {
  const source = path.join(work, 'svc');
  mkdirSync(source);
  writeFileSync(path.join(source, 'README.md'), '# svc\n');
  const git = (...args) => execFileSync('git', ['-c', 'user.name=b', '-c', 'user.email=b@example.com', '-c', 'init.defaultBranch=main', ...args], { cwd: source });
  git('init', '-q');
  git('add', '-A');
  git('commit', '-qm', 'bench');

  const cases = counts.map((count) => {
    const folder = path.join(work, `envs-${count}`);
    mkdirSync(folder);
    const config = path.join(folder, 'pipelines.config.json');
    writeFileSync(
      config,
      JSON.stringify({
        cicd: { account: '111111111111', region: 'us-east-1' },
        environments: Array.from({ length: count }, (_, i) => ({ name: `env${i + 1}`, account: '222222222222', region: 'us-east-1' })),
        services: [
          {
            name: 'svc',
            flavor: 'custom',
            pullRequests: false,
            source: { path: '../svc' },
            commands: {
              install: 'true',
              lint: 'true',
              testUnit: 'true',
              testIntegration: 'true',
              package: 'mkdir -p .pipeline/Package && echo bundle > .pipeline/Package/bundle.txt',
              deploy: 'true',
              testAcceptance: 'true',
            },
          },
        ],
      }),
    );
    const plan = JSON.parse(execFileSync(process.execPath, [cli, 'plan', 'svc', '--config', config, '--json'], { encoding: 'utf8' })).pipelines[0];
    const actions = plan.stages.flatMap((s) => s.actions).filter((a) => a.kind === 'commands').length;
    // The script runs where an action would: in a copy of the source.
    const scratch = path.join(folder, 'script-src');
    mkdirSync(scratch);
    const script = path.join(folder, 'pipeline.sh');
    writeFileSync(script, scriptOf(plan), { mode: 0o755 });
    const planFile = path.join(folder, 'plan.json');
    writeFileSync(planFile, JSON.stringify(plan));
    return { count, actions, folder, config, scratch, script, planFile, engine: [], plain: [], commands: [] };
  });

  // One untimed run of each: the state folder, the shim and the file cache are warm.
  const viaCommands = (c) => timed(process.execPath, ['--input-type=module', '-e', COMMAND_PATH_DRIVER, c.planFile, path.join(c.folder, '.service-pipelines-commands'), c.folder], c.folder);
  for (const c of cases) {
    timed(process.execPath, [cli, 'run', 'svc', '--config', c.config], c.folder);
    if (commandPath) viaCommands(c);
  }
  const loads = [loadavg()[0]];
  for (let round = 0; round < rounds; round++) {
    for (const c of cases) {
      c.engine.push(timed(process.execPath, [cli, 'run', 'svc', '--config', c.config], c.folder));
      c.plain.push(timed('sh', [c.script], c.scratch));
      if (commandPath) c.commands.push(viaCommands(c));
    }
    loads.push(loadavg()[0]);
  }

  console.log(`rounds: ${rounds}; load average (1 min) ${Math.min(...loads).toFixed(1)} to ${Math.max(...loads).toFixed(1)}; medians`);
  console.log(`${'environments'.padEnd(14)}${'actions'.padStart(8)}${'engine (run)'.padStart(16)}${'script'.padStart(12)}${commandPath ? 'steps as commands'.padStart(20) : ''}`);
  for (const c of cases) {
    console.log(
      `${String(c.count).padEnd(14)}${String(c.actions).padStart(8)}${`${median(c.engine).toFixed(0)} ms`.padStart(16)}${`${median(c.plain).toFixed(0)} ms`.padStart(12)}${commandPath ? `${median(c.commands).toFixed(0)} ms`.padStart(20) : ''}`,
    );
  }
  const [first, last] = [cases[0], cases.at(-1)];
  const between = last.actions - first.actions;
  const engineSlope = (median(last.engine) - median(first.engine)) / between;
  const scriptSlope = (median(last.plain) - median(first.plain)) / between;
  console.log(`per extra action (slope over ${between} actions): engine ${engineSlope.toFixed(1)} ms, script ${scriptSlope.toFixed(1)} ms`);
  console.log(`engine overhead per action: ${(engineSlope - scriptSlope).toFixed(1)} ms (target <= 20 ms)`);
  if (commandPath) {
    const commandSlope = (median(last.commands) - median(first.commands)) / between;
    console.log(`with the step calls as commands (a Node process each): ${commandSlope.toFixed(1)} ms per extra action, overhead ${(commandSlope - scriptSlope).toFixed(1)} ms`);
  }
} finally {
  writable(work);
  rmSync(work, { recursive: true, force: true });
}
