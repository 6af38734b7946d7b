/**
 * Engine overhead per action: a pipeline of 30 actions that each run `true`, one after another,
 * against the buildspec executor running the same buildspec alone (what any engine pays).
 *
 *   npm run build && node bench/local-overhead.mjs [--actions 30] [--rounds 3]
 *
 * Prints the median, per action, of: the wall time the engine spends on it (from the end of the
 * previous action to the end of this one: scheduling, workspace, history writes, the build),
 * the executor alone, and their difference (the engine's overhead). Target: overhead <= 20 ms.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runPipeline } from '../dist/local/engine.js';
import { StateStore } from '../dist/local/state-store.js';
import { runBuildspec } from '../dist/local/executor/index.js';
import { buildPipelinePlan } from '../dist/model/plan.js';
import { validateConfig } from '../dist/model/validate.js';
import { median, writable } from './support.mjs';

const { values } = parseArgs({ options: { actions: { type: 'string', default: '30' }, rounds: { type: 'string', default: '3' } } });
const count = Number(values.actions);
const rounds = Number(values.rounds);



const work = mkdtempSync(path.join(tmpdir(), 'sp-bench-overhead-'));
try {
  const source = path.join(work, 'svc');
  mkdirSync(source);
  for (let i = 0; i < 20; i++) writeFileSync(path.join(source, `file-${i}.txt`), `content ${i}\n`.repeat(50));
  execFileSync('git', ['init', '-q'], { cwd: source });
  execFileSync('git', ['-c', 'user.name=b', '-c', 'user.email=b@example.com', 'add', '-A'], { cwd: source });
  execFileSync('git', ['-c', 'user.name=b', '-c', 'user.email=b@example.com', 'commit', '-qm', 'bench'], { cwd: source });
  const config = validateConfig({
    cicd: { account: '111111111111', region: 'us-east-1' },
    environments: [{ name: 'dev', account: '222222222222', region: 'us-east-1' }],
    services: [{ name: 'svc', flavor: 'custom', source: { path: source }, commands: { package: 'true', deploy: 'true' } }],
  });
  const base = buildPipelinePlan(config, 'svc', 'pull-request');
  const template = base.stages[1].actions[0];
  const plan = {
    ...base,
    stages: [
      base.stages[0],
      {
        name: 'Work',
        onFailure: 'FAIL',
        actions: Array.from({ length: count }, (_, i) => ({ ...template, name: `True${i + 1}`, runOrder: i + 1, outputs: [], commands: ['true'] })),
      },
    ],
  };

  const engineGaps = [];
  const engineActionTimes = [];
  for (let round = 0; round < rounds; round++) {
    const home = path.join(work, `home-${round}`);
    const result = await runPipeline({ config, plan, configFile: 'bench', baseDir: work, service: 'svc', home, localStages: { stopStagesStartedBy: async () => [] } });
    if (result.status !== 'SUCCEEDED') throw new Error(`the bench pipeline failed: ${result.reason}`);
    const store = StateStore.open(home);
    const actions = store.actions(result.executionId).filter((a) => a.stage === 'Work');
    let previousEnd = store.stages(result.executionId).find((s) => s.name === 'Work').startedAt;
    for (const action of actions) {
      engineGaps.push(action.finishedAt - previousEnd);
      engineActionTimes.push(action.finishedAt - action.startedAt);
      previousEnd = action.finishedAt;
    }
    store.close();
  }

  const executorTimes = [];
  const scratch = path.join(work, 'executor');
  mkdirSync(scratch);
  for (let i = 0; i < count * rounds; i++) {
    const started = performance.now();
    const result = await runBuildspec({ buildspec: { file: 'bench', document: { version: 0.2, env: { variables: template.env }, phases: { build: { commands: ['true'] } } } }, srcDir: scratch });
    if (result.status !== 'SUCCEEDED') throw new Error('executor failed');
    executorTimes.push(performance.now() - started);
  }

  const perAction = median(engineGaps);
  const executor = median(executorTimes);
  console.log(`actions: ${count} x ${rounds} rounds`);
  console.log(`engine, per action (end to end, sequential):  median ${perAction.toFixed(1)} ms`);
  console.log(`  of which recorded as the action's duration:  median ${median(engineActionTimes).toFixed(1)} ms`);
  console.log(`executor alone, same buildspec:                median ${executor.toFixed(1)} ms`);
  console.log(`engine overhead per action:                    median ${(perAction - executor).toFixed(1)} ms (target <= 20 ms)`);
} finally {
  writable(work);
  rmSync(work, { recursive: true, force: true });
}
