import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunPipelineResult } from '../../src/local/engine.js';
import { listExecutions, showExecution } from '../../src/local/history.js';
import { StateStore } from '../../src/local/state-store.js';
import { customConfig, gitRepository, shellPlan, tempFolder, writeArtifact, runPlanned, type PlannedRun } from './helpers.js';

let work: { dir: string; cleanup: () => void };
let source: string;
let home: string;

beforeEach(() => {
  work = tempFolder();
  source = path.join(work.dir, 'svc');
  home = path.join(work.dir, '.service-pipelines');
  gitRepository(source, { 'README.md': '# svc\n' });
});
afterEach(() => work.cleanup());

const commands = (buildSeconds: number) => ({
  'Build.UnitTests': [`sleep ${buildSeconds}`],
  'Build.Package': [writeArtifact('Package', 'bundle.txt', 'v1')],
  'Deploy-dev.Deploy': [writeArtifact('Outputs_dev', 'stack-outputs.json', '{}')],
});

function options(mode: 'SUPERSEDED' | 'QUEUED' | 'PARALLEL', extra: Partial<PlannedRun> = {}): PlannedRun {
  const config = customConfig(source, { executionMode: mode });
  return {
    definitionFile: 'pipelines.config.json',
    baseDir: work.dir,
    home,
    plan: shellPlan(config, commands(1.2)),
    until: 'dev',
    pollMs: 25,
    ...extra,
  };
}

/** A runs; B starts once A is in Build; C starts once B waits for Build. */
async function threeRuns(mode: 'SUPERSEDED' | 'QUEUED'): Promise<[RunPipelineResult, RunPipelineResult, RunPipelineResult]> {
  let b: Promise<RunPipelineResult> | undefined;
  let c: Promise<RunPipelineResult> | undefined;
  const a = runPlanned(
    options(mode, {
      onEvent: (event) => {
        if (event.type === 'stage-started' && event.stage === 'Build' && !b) {
          b = runPlanned(
            options(mode, {
              onEvent: (eventOfB) => {
                if (eventOfB.type === 'stage-waiting' && eventOfB.stage === 'Build' && !c) {
                  c = runPlanned(options(mode));
                }
              },
            }),
          );
        }
      },
    }),
  );
  const first = await a;
  const second = await b!;
  const third = await c!;
  return [first, second, third];
}

describe('executions of one pipeline at the same time', () => {
  it('GIVEN SUPERSEDED (the default) WHEN a third execution queues behind a waiting second one THEN the second is superseded and the others succeed', async () => {
    const [a, b, c] = await threeRuns('SUPERSEDED');

    expect([a.status, b.status, c.status]).toEqual(['SUCCEEDED', 'SUPERSEDED', 'SUCCEEDED']);
    expect(b.reason).toContain(`superseded by execution ${c.executionId} while waiting to enter Build`);
    const superseded = await showExecution({ home, executionId: b.executionId });
    expect(superseded.stages.map((s) => s.status)).toEqual(['SUCCEEDED', 'SUPERSEDED', 'SKIPPED', 'SKIPPED', 'SKIPPED']);
    // One execution at a time in Build: C entered only after A left.
    const buildOf = async (id: string) => (await showExecution({ home, executionId: id })).stages[1]!;
    const [buildA, buildC] = [await buildOf(a.executionId), await buildOf(c.executionId)];
    expect(Date.parse(buildC.startedAt!)).toBeGreaterThanOrEqual(Date.parse(buildA.startedAt!) + buildA.durationMs!);
  });

  it('GIVEN QUEUED WHEN three executions overlap THEN all succeed, entering Build in the order they started', async () => {
    const [a, b, c] = await threeRuns('QUEUED');

    expect([a.status, b.status, c.status]).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
    const started = async (id: string) => Date.parse((await showExecution({ home, executionId: id })).stages[1]!.startedAt!);
    expect(await started(a.executionId)).toBeLessThan(await started(b.executionId));
    expect(await started(b.executionId)).toBeLessThan(await started(c.executionId));
  });

  it('GIVEN PARALLEL WHEN two executions start together THEN they run side by side, each in its own workspace', async () => {
    const begin = Date.now();
    const [a, b] = await Promise.all([runPlanned(options('PARALLEL')), runPlanned(options('PARALLEL'))]);

    expect([a.status, b.status]).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    const builds = await Promise.all([a, b].map(async (r) => (await showExecution({ home, executionId: r.executionId })).stages[1]!));
    // Overlapping Build stages: the second started before the first ended.
    const [first, second] = builds.sort((x, y) => Date.parse(x.startedAt!) - Date.parse(y.startedAt!));
    expect(Date.parse(second!.startedAt!)).toBeLessThan(Date.parse(first!.startedAt!) + first!.durationMs!);
    expect(Date.now() - begin).toBeLessThan(2 * 1200 + 2500);
  });

  it('GIVEN a run killed in the middle of an action WHEN the next command looks THEN the run is marked failed and the next run gets the stage', async () => {
    const config = customConfig(source);
    const plan = shellPlan(config, commands(30));
    const child = spawn(process.execPath, ['--import', 'jiti/register', path.join(import.meta.dirname, 'fixtures', 'run-plan.ts')], {
      env: { ...process.env, RUN_PLAN_OPTIONS: JSON.stringify({ config, plan, home, baseDir: work.dir }) },
      stdio: ['ignore', 'pipe', 'inherit'],
      detached: true,
    });
    const executionId = await new Promise<string>((resolve) => child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().trim())));
    const store = StateStore.open(home);
    try {
      for (let i = 0; i < 200 && store.actions(executionId).find((a) => a.name === 'UnitTests')?.status !== 'IN_PROGRESS'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(store.execution(executionId)?.status).toBe('IN_PROGRESS');
    } finally {
      store.close();
    }
    process.kill(-child.pid!, 'SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));

    const [killed] = await listExecutions({ home });
    expect(killed).toMatchObject({ id: executionId, status: 'FAILED' });
    expect(killed!.statusReason).toMatch(/process \(pid \d+\) is gone/);
    const document = await showExecution({ home, executionId });
    expect(document.stages[1]).toMatchObject({ name: 'Build', status: 'FAILED' });
    expect(document.stages[1]!.actions.find((a) => a.name === 'UnitTests')).toMatchObject({ status: 'ABANDONED' });

    const next = await runPlanned(options('SUPERSEDED', { plan: shellPlan(config, commands(0)) }));
    expect(next.status).toBe('SUCCEEDED');
  });
});
