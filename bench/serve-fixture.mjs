/**
 * Shared by the serve benchmarks: a temp working folder with a custom-flavor config, and
 * executions recorded through the local engine's own store API (as runs record them).
 * Imports the compiled package: run `npm run build` first.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { StateStore } from '../dist/local/state-store.js';
import { buildPipelinePlan } from '../dist/model/plan.js';

/** The config of the benchmarks: one service, `svc`, dev and prod (prod behind an approval), plain shell commands. */
export const CONFIG = {
  cicd: { account: '111111111111', region: 'us-east-1' },
  environments: [
    { name: 'dev', account: '222222222222', region: 'us-east-1' },
    { name: 'prod', account: '444444444444', region: 'us-east-1', approval: true },
  ],
  services: [
    {
      name: 'svc',
      flavor: 'custom',
      source: { path: './svc', github: { owner: 'Codertocat', repo: 'Hello-World', branch: 'master', githubTokenSecret: 'github-token' } },
      commands: { install: 'true', lint: 'true', testUnit: 'true', testIntegration: 'true', package: 'mkdir -p .pipeline/Package && echo b > .pipeline/Package/b.txt', deploy: 'true', testAcceptance: 'true' },
    },
  ],
};

/** A working folder with the config and a git repository for the service. */
export function workFolder() {
  const dir = mkdtempSync(path.join(tmpdir(), 'sp-serve-bench-'));
  const source = path.join(dir, 'svc');
  mkdirSync(source);
  const git = (...args) => execFileSync('git', ['-c', 'user.name=Bench', '-c', 'user.email=bench@example.com', '-c', 'init.defaultBranch=main', ...args], { cwd: source });
  git('init', '-q');
  writeFileSync(path.join(source, 'README.md'), '# svc\n');
  git('add', '-A');
  git('commit', '-q', '-m', 'initial');
  writeFileSync(path.join(dir, 'pipelines.config.json'), JSON.stringify(CONFIG, null, 2));
  return { dir, home: path.join(dir, '.service-pipelines'), configFile: path.join(dir, 'pipelines.config.json') };
}

/**
 * Record `count` finished executions of the `svc` pipeline (every 10th failed in Build, one in
 * 20 a pull-request run), then, with `running`, one more still running (its Build actions
 * writing to log files). Returns the running execution's id, if any.
 */
export function recordHistory(home, config, count, { running = false } = {}) {
  const store = StateStore.open(home);
  try {
    const start = Date.now() - count * 60_000;
    for (let i = 0; i < count; i++) {
      store.transaction(() => recordOne(store, config, { id: `bench-${String(i).padStart(5, '0')}-${Math.random().toString(16).slice(2, 10)}`, trigger: i % 20 === 19 ? 'pull-request' : 'push', failed: i % 10 === 9, startedAt: start + i * 60_000 }));
    }
    if (!running) {
      return undefined;
    }
    const id = `bench-running-${Math.random().toString(16).slice(2, 10)}`;
    recordOne(store, config, { id, trigger: 'push', failed: false, startedAt: Date.now(), running: true });
    return id;
  } finally {
    store.close();
  }
}

function recordOne(store, config, { id, trigger, failed, startedAt, running = false }) {
  const plan = buildPipelinePlan(config, 'svc', trigger);
  store.createExecution({
    id,
    pipeline: plan.pipelineName,
    service: plan.service,
    trigger: plan.trigger,
    executionMode: plan.executionMode,
    pid: process.pid,
    configFile: '/bench/pipelines.config.json',
    sourcePath: '/bench/svc',
    startedAt,
    stages: plan.stages.map((s) => ({
      name: s.name,
      ...(s.environment ? { environment: s.environment } : {}),
      onFailure: s.onFailure,
      actions: s.actions.map((a) => ({ name: a.name, runOrder: a.runOrder, kind: a.kind, ...(a.kind === 'commands' ? { step: a.step } : {}) })),
    })),
  });
  store.setSource(id, '0123456789abcdef0123456789abcdef01234567', false);
  let at = startedAt;
  for (const stage of plan.stages) {
    store.updateStage(id, stage.name, { status: 'IN_PROGRESS', startedAt: at });
    for (const action of stage.actions) {
      const begun = at;
      at += 1_500;
      if (running && stage.name === 'Build') {
        const logs = path.join(store.home, 'runs', id, 'logs');
        mkdirSync(logs, { recursive: true });
        const logFile = path.join(logs, `${stage.name}.${action.name}.log`);
        writeFileSync(logFile, `[Container] running ${action.name}\n`);
        store.updateAction(id, stage.name, action.name, { status: 'IN_PROGRESS', startedAt: begun, logFile });
        continue;
      }
      if (action.kind === 'approval') {
        store.requestApproval(id, stage.name, action.name, 'Promote?', begun);
        store.decideApproval(id, stage.name, action.name, { status: 'APPROVED', by: 'bench', at });
        store.updateAction(id, stage.name, action.name, { status: 'SUCCEEDED', startedAt: begun, finishedAt: at });
        continue;
      }
      const failedHere = failed && stage.name === 'Build' && action.name === 'UnitTests';
      const log = Array.from({ length: 40 }, (_, n) => `[Container] ${action.name} line ${n}`).join('\n');
      store.updateAction(id, stage.name, action.name, { status: failedHere ? 'FAILED' : 'SUCCEEDED', startedAt: begun, finishedAt: at, ...(action.kind === 'commands' ? { log, exitCode: failedHere ? 1 : 0 } : {}) });
    }
    if (running && stage.name === 'Build') {
      return;
    }
    const failedHere = failed && stage.name === 'Build';
    store.updateStage(id, stage.name, { status: failedHere ? 'FAILED' : 'SUCCEEDED', finishedAt: at });
    if (failedHere) {
      store.endExecution(id, 'FAILED', 'Build failed', at);
      return;
    }
  }
  store.setExecutionStatus(id, 'SUCCEEDED', { finishedAt: at });
}

/** Median, and the 10th and 90th percentiles, of numbers. */
export function summary(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { n: sorted.length, median: sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2, p10: at(0.1), p90: at(0.9) };
}

/** `12.3 ms` */
export function ms(value) {
  return `${value.toFixed(1)} ms`;
}
