/**
 * `kill -9` of a real `run` in the middle of its actions, over and over: nothing the run started
 * may outlive it, and the next run's deploy may never overlap a deploy of the killed one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runPipeline } from '../../src/local/engine.js';
import { listExecutions } from '../../src/local/history.js';
import { StateStore } from '../../src/local/state-store.js';
import { customConfig, gitRepository, killProcessesCarrying, processesCarrying, shellPlan, tempFolder, writeArtifact } from './helpers.js';

const linux = existsSync('/proc/self/environ');

let work: { dir: string; cleanup: () => void };
let source: string;
let home: string;
let deployLog: string;
const killed: string[] = [];

beforeEach(() => {
  work = tempFolder('sp-kill-');
  source = path.join(work.dir, 'svc');
  home = path.join(work.dir, '.service-pipelines');
  deployLog = path.join(work.dir, 'deploys.log');
  gitRepository(source, { 'README.md': '# svc\n' });
});
afterEach(() => {
  // Whatever the outcome, no process of these runs is left behind on the machine.
  killed.splice(0).forEach(killProcessesCarrying);
  work.cleanup();
});

/**
 * A deploy that takes a while and says so, every 100 ms, in a log shared by every run; it starts a
 * server detached in a session of its own (as a local stage's serverless-offline is), which the
 * run's end does not reach: it must end with the run when the run is killed before it is recorded.
 */
function deployCommands(log: string): string[] {
  const mark = (what: string) => `echo "${what} $SERVICE_PIPELINES_EXECUTION_ID $(date +%s%3N)" >> ${log}`;
  return [mark('start'), 'setsid sleep 120 </dev/null >/dev/null 2>&1 &', `for i in $(seq 120); do sleep 0.1; ${mark('tick')}; done`, mark('end'), writeArtifact('Outputs_dev', 'stack-outputs.json', '{}')];
}

function plan(config: ReturnType<typeof customConfig>, tests: 'quick' | 'slow' | 'stubborn') {
  const slow = { quick: 'true', slow: 'sleep 120 & sleep 120; wait', stubborn: 'sh -c \'trap "" TERM; sleep 120\' & sleep 120; wait' };
  return shellPlan(config, {
    // A test runner with children of its own (one of which ignores SIGTERM, once).
    'Build.UnitTests': [slow[tests]],
    'Build.Package': [writeArtifact('Package', 'bundle.txt', 'v1')],
    'Deploy-dev.Deploy': deployCommands(deployLog),
  });
}

/** Start a run in a process of its own; resolves with the process and the execution id once recorded. */
async function startRun(config: ReturnType<typeof customConfig>, tests: 'quick' | 'slow' | 'stubborn'): Promise<{ child: ChildProcess; executionId: string }> {
  const child = spawn(process.execPath, ['--import', 'jiti/register', path.join(import.meta.dirname, 'fixtures', 'run-plan.ts')], {
    env: { ...process.env, RUN_PLAN_OPTIONS: JSON.stringify({ plan: plan(config, tests), home, baseDir: work.dir }) },
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  const executionId = await new Promise<string>((resolve, reject) => {
    child.stdout!.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
    child.once('exit', (code) => reject(new Error(`the run exited (${code}) before recording its execution`)));
  });
  killed.push(executionId);
  return { child, executionId };
}

async function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

function actionStatus(executionId: string, action: string): string | undefined {
  const store = StateStore.open(home);
  try {
    return store.actions(executionId).find((a) => a.name === action)?.status;
  } finally {
    store.close();
  }
}

/** [start, end] of each run's deploy, from the shared log (end = its last line). */
function deployIntervals(): Map<string, [number, number]> {
  const intervals = new Map<string, [number, number]>();
  for (const line of readFileSync(deployLog, 'utf8').trim().split('\n')) {
    const [, id, at] = line.split(' ');
    const interval = intervals.get(id!);
    intervals.set(id!, interval ? [interval[0], Number(at)] : [Number(at), Number(at)]);
  }
  return intervals;
}

describe.skipIf(!linux)('a run killed with SIGKILL in the middle of an action', () => {
  it('GIVEN 10 runs each killed during its test or deploy action WHEN nothing else runs THEN every process of their actions ends, and no two deploys overlap', async () => {
    const config = customConfig(source);
    const kills = 10;
    const orphaned: string[] = [];
    let previous: { executionId: string; target: string; killedAt: number } | undefined;
    const checkGone = async (run: { executionId: string; target: string; killedAt: number }) => {
      // TERM at once, and KILL after the grace period for the one that ignores TERM.
      if (!(await until(() => processesCarrying(run.executionId).length === 0, run.killedAt + 10_000 - Date.now()))) {
        orphaned.push(`${run.executionId} (${run.target}): ${processesCarrying(run.executionId).join(', ')}`);
      }
    };
    for (let i = 0; i < kills; i++) {
      // Mostly deploys: the run after a killed deploy starts at once, and deploys soon after.
      const target = i % 3 === 2 ? 'UnitTests' : 'Deploy';
      const { child, executionId } = await startRun(config, target === 'Deploy' ? 'quick' : i === 2 ? 'stubborn' : 'slow');
      if (previous) await checkGone(previous);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      expect(await until(() => actionStatus(executionId, target) === 'IN_PROGRESS', 30_000)).toBe(true);
      // Somewhere in the action: at once, or once its children run.
      await new Promise((resolve) => setTimeout(resolve, (i * 97) % 400));
      process.kill(child.pid!, 'SIGKILL');
      await exited;
      previous = { executionId, target, killedAt: Date.now() };
      if (target === 'UnitTests') {
        // No other command runs: the action's processes must notice on their own.
        await checkGone(previous);
        previous = undefined;
      }
    }
    // The next run finds the last killed one, marks it failed, and deploys alone.
    const next = runPipeline(plan(config, 'quick'), { definitionFile: 'pipelines.config.json', baseDir: work.dir, home, until: 'dev', pollMs: 50 });
    if (previous) await checkGone(previous);
    const finished = await next;
    killed.push(finished.executionId);
    expect(finished.status).toBe('SUCCEEDED');
    const history = await listExecutions({ home });
    expect(history.filter((e) => e.status === 'FAILED')).toHaveLength(kills);
    const intervals = [...deployIntervals().entries()].sort((a, b) => a[1][0] - b[1][0]);
    const overlaps = intervals.slice(1).flatMap(([id, [start]], i) => {
      const [previous, [, previousEnd]] = intervals[i]!;
      return start <= previousEnd ? [`${id} started ${previousEnd - start} ms before ${previous} ended`] : [];
    });
    expect({ orphaned, overlaps }, `${orphaned.length} of ${kills} killed runs left processes; ${overlaps.length} deploys overlapped`).toEqual({ orphaned: [], overlaps: [] });
  }, 300_000);
});
