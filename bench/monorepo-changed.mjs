/**
 * `run --changed` on a repository of 50 services (and a library they share), one of which
 * changed: how long deciding what runs takes (goal: under 1 s), and the whole `run --changed`
 * against `run <that service>` alone. Whole processes, as a user runs them, in a git repository
 * whose history holds a successful run of every service.
 *
 *   node bench/monorepo-changed.mjs [--services 50] [--rounds 5]
 *
 * Build first (`npm run build`): the CLI runs from dist/.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { median, writable } from './support.mjs';

const { values } = parseArgs({ options: { services: { type: 'string', default: '50' }, rounds: { type: 'string', default: '5' } } });
const count = Number(values.services);
const rounds = Number(values.rounds);
const root = path.resolve(import.meta.dirname, '..');
const cli = path.join(root, 'bin/service-pipelines.js');
const work = mkdtempSync(path.join(tmpdir(), 'sp-bench-monorepo-'));
const repository = path.join(work, 'shop');
const names = Array.from({ length: count }, (_, i) => `svc-${String(i).padStart(2, '0')}`);
/** The service that changes. */
const target = names[Math.min(17, count - 1)];

function git(...args) {
  const run = spawnSync('git', ['-c', 'user.name=Bench', '-c', 'user.email=bench@example.com', '-c', 'init.defaultBranch=main', ...args], { cwd: repository, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`git ${args.join(' ')}: ${run.stderr}`);
  return run.stdout.trim();
}

function write(file, content) {
  mkdirSync(path.dirname(path.join(repository, file)), { recursive: true });
  writeFileSync(path.join(repository, file), content);
}

/** Run the CLI in the repository; returns its wall time in ms and what it printed. */
function timed(...args) {
  const started = performance.now();
  const run = spawnSync(process.execPath, [cli, ...args], { cwd: repository, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const ms = performance.now() - started;
  if (run.status !== 0) throw new Error(`service-pipelines ${args.join(' ')} exited ${run.status}:\n${run.stderr.slice(-2000)}`);
  return { ms, stdout: run.stdout, stderr: run.stderr };
}

/** A change to one service, committed. */
let edits = 0;
function changeService(name) {
  edits += 1;
  write(`services/${name}/src/handler.js`, `export const version = ${edits};\n`);
  git('add', '-A');
  git('commit', '-q', '-m', `${name}: ${edits}`);
}

try {
  // The repository: 50 custom-flavor services with quick commands, one environment, a shared library.
  const quick = {
    lint: 'true',
    testUnit: 'true',
    testIntegration: 'true',
    package: 'mkdir -p .pipeline/Package && cp -R src .pipeline/Package/',
    deploy: 'true',
    testAcceptance: 'true',
  };
  const services = names.map((name) => ({
    name,
    flavor: 'custom',
    source: { github: { owner: 'example-org', repo: 'shop', connectionArn: 'arn:aws:codeconnections:us-east-1:111111111111:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789' }, directory: `services/${name}`, path: `./services/${name}`, dependsOn: ['libs/shared/'] },
    commands: quick,
  }));
  write(
    'pipelines.config.ts',
    `import { defineConfig } from 'service-pipelines';\n\nexport default defineConfig(${JSON.stringify({ cicd: { account: '111111111111', region: 'us-east-1' }, environments: [{ name: 'dev', account: '222222222222', region: 'us-east-1' }], services }, null, 2)});\n`,
  );
  write('libs/shared/index.js', 'export const shared = 1;\n');
  write('README.md', '# shop\n');
  write('.gitignore', 'node_modules/\n.service-pipelines/\n');
  for (const name of names) write(`services/${name}/src/handler.js`, 'export const version = 0;\n');
  mkdirSync(path.join(repository, 'node_modules'));
  symlinkSync(root, path.join(repository, 'node_modules/service-pipelines'), 'dir');
  git('init', '-q');
  git('add', '-A');
  git('commit', '-q', '-m', 'the shop');

  // A successful run of every service: the history `--changed` counts from.
  const seed = timed('run', '--changed', '--concurrency', '4');
  console.log(`setup: the first run --changed ran all ${count} pipelines in ${(seed.ms / 1000).toFixed(1)} s (load average ${loadavg()[0].toFixed(1)})`);

  // Deciding: one service changed.
  changeService(target);
  const decisions = [];
  const decidedIn = [];
  const plans = [];
  for (let round = 0; round < rounds; round++) {
    const decision = timed('plan', '--changed', '--json');
    const document = JSON.parse(decision.stdout);
    const running = document.services.filter((s) => s.runs).map((s) => s.service);
    if (running.join() !== target) throw new Error(`expected ${target} alone to run, got ${running.join(', ')}`);
    decisions.push(decision.ms);
    decidedIn.push(document.decidedInMs);
    plans.push(timed('plan', target, '--json').ms);
  }

  // Running: `run --changed` (one of 50 changed) against `run <that service>` alone, in turn.
  const changed = [];
  const alone = [];
  for (let round = 0; round < rounds; round++) {
    changeService(target);
    const run = timed('run', '--changed');
    if (!run.stderr.includes(`1 of ${count} services changed`)) throw new Error(`expected one service to run:\n${run.stderr.slice(0, 500)}`);
    changed.push(run.ms);
    changeService(target);
    alone.push(timed('run', target).ms);
  }

  const ms = (values) => `${Math.round(median(values))} ms`;
  console.log(`\n${count} services, one changed; medians of ${rounds} (load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}):`);
  console.log(`  plan --changed, whole command          ${ms(decisions)}  (deciding itself: ${ms(decidedIn)}; goal < 1 s)`);
  console.log(`  plan <service> --json, whole command   ${ms(plans)}  (loading the config and planning: the floor of any command)`);
  console.log(`  run --changed, whole command           ${ms(changed)}`);
  console.log(`  run <service> alone, whole command     ${ms(alone)}`);
  console.log(`  run --changed / run alone              ${(median(changed.map((c, i) => c / alone[i]))).toFixed(2)}x (pair by pair)`);
} finally {
  writable(work);
  rmSync(work, { recursive: true, force: true });
}
