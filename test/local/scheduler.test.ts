/**
 * The scheduler alone, with stub ports: no process, no file, no database. What runs when, and
 * what the run's outcome is, over the plan the config makes.
 */
import { describe, expect, it } from 'vitest';
import { runStages, type ActionOutcome, type SchedulerPorts, type StageEntry } from '../../src/local/scheduler.js';
import { buildPipelinePlan } from '../../src/model/plan.js';
import type { PlanAction, PlanStage } from '../../src/model/plan-schema.js';
import { validateConfig } from '../../src/model/validate.js';

const plan = buildPipelinePlan(
  validateConfig({
    cicd: { account: '111111111111', region: 'us-east-1' },
    environments: [
      { name: 'dev', account: '222222222222', region: 'us-east-1' },
      { name: 'prod', account: '444444444444', region: 'us-east-1', approval: true, rollbackOnFailure: true },
    ],
    services: [{ name: 'svc', flavor: 'custom', source: { path: './svc' }, commands: { package: 'true', deploy: 'true' } }],
  }),
  'svc',
  'push',
);

/** Stub ports: every call is logged; actions succeed unless `outcomes` says otherwise, each after the ticks it is given. */
function stubPorts(options: {
  outcomes?: Record<string, ActionOutcome>;
  ticks?: Record<string, number>;
  entries?: Record<string, StageEntry>;
  stopAfter?: string;
  rollbackRelease?: number;
} = {}): { ports: SchedulerPorts; calls: string[] } {
  const calls: string[] = [];
  let stopped: string | undefined;
  const ports: SchedulerPorts = {
    stopReason: () => stopped,
    enterStage: async (stage) => {
      calls.push(`enter ${stage.name}`);
      return options.entries?.[stage.name] ?? { entered: true };
    },
    stageStarted: (stage) => calls.push(`start ${stage.name}`),
    runAction: async (stage: PlanStage, action: PlanAction, rollback: boolean) => {
      const key = `${stage.name}.${action.name}`;
      calls.push(`run ${key}${rollback ? ' (rollback)' : ''}`);
      for (let tick = 0; tick < (options.ticks?.[key] ?? 1); tick++) await Promise.resolve();
      calls.push(`done ${key}`);
      if (options.stopAfter === key) stopped = 'stopped (interrupted by SIGINT)';
      return options.outcomes?.[key] ?? { ok: true };
    },
    skipActions: (stage, actions, reason) => calls.push(`skip ${actions.map((a) => `${stage.name}.${a.name}`).join(', ')}: ${reason}`),
    rollbackStarted: (stage, reason) => {
      calls.push(`rollback ${stage.name}: ${reason}`);
    },
    rollbackFinished: async (stage, outcome) => {
      calls.push(`rolled back ${stage.name}: ${outcome.ok ? 'ok' : outcome.failure}`);
      return { ...outcome, ...(outcome.ok && options.rollbackRelease !== undefined ? { release: options.rollbackRelease } : {}) };
    },
    stageFinished: (stage, outcome) => calls.push(`finish ${stage.name}: ${outcome.ok ? 'ok' : outcome.reason}`),
    deployStageSucceeded: async (stage) => {
      calls.push(`good ${stage.environment}`);
    },
  };
  return { ports, calls };
}

describe('the scheduler', () => {
  it('GIVEN the plan WHEN every action passes THEN stages run in order, the actions of a runOrder side by side, and each deploy stage is marked good', async () => {
    const { ports, calls } = stubPorts({ ticks: { 'Build.Lint': 5, 'Build.UnitTests': 1, 'Build.IntegrationTests': 3, 'Build.Package': 2 } });

    const outcome = await runStages(plan.stages, ports);

    expect(outcome).toEqual({ status: 'SUCCEEDED' });
    expect(calls.filter((c) => c.startsWith('enter '))).toEqual(plan.stages.map((s) => `enter ${s.name}`));
    // The four Build actions all start before any of them is done; the longest ends last.
    const build = calls.filter((c) => c.includes(' Build.'));
    expect(build.slice(0, 4)).toEqual(['run Build.Lint', 'run Build.UnitTests', 'run Build.IntegrationTests', 'run Build.Package']);
    expect(build.at(-1)).toBe('done Build.Lint');
    // Acceptance tests (runOrder 2) only once the deploy (runOrder 1) is done.
    expect(calls.indexOf('run Deploy-dev.AcceptanceTests')).toBeGreaterThan(calls.indexOf('done Deploy-dev.Deploy'));
    expect(calls.filter((c) => c.startsWith('good '))).toEqual(['good dev', 'good prod']);
    expect(calls.some((c) => c.startsWith('rollback'))).toBe(false);
  });

  it('GIVEN a failing action WHEN its stage runs THEN its parallel actions still finish, later ones are skipped, and no later stage is entered', async () => {
    const { ports, calls } = stubPorts({ outcomes: { 'Build.UnitTests': { ok: false, reason: 'command "npm test" exited with status 1' } }, ticks: { 'Build.Package': 4 } });

    const outcome = await runStages(plan.stages, ports);

    expect(outcome).toEqual({ status: 'FAILED', reason: 'Build failed: UnitTests: command "npm test" exited with status 1' });
    expect(calls).toContain('done Build.Package');
    expect(calls).toContain('finish Build: UnitTests: command "npm test" exited with status 1');
    expect(calls.some((c) => c.startsWith('enter Deploy-dev'))).toBe(false);
    expect(calls.some((c) => c.startsWith('skip'))).toBe(false);

    const later = stubPorts({ outcomes: { 'Deploy-dev.Deploy': { ok: false, reason: 'refused' } } });
    expect(await runStages(plan.stages, later.ports)).toEqual({ status: 'FAILED', reason: 'Deploy-dev failed: Deploy: refused' });
    expect(later.calls).toContain('skip Deploy-dev.AcceptanceTests: not run: Deploy failed');
    expect(later.calls.filter((c) => c.startsWith('good '))).toEqual([]);
  });

  it('GIVEN prod (onFailure: ROLLBACK) failing its acceptance tests WHEN it runs THEN its rollback actions run in order, and the run fails saying where it rolled back to', async () => {
    const { ports, calls } = stubPorts({ outcomes: { 'Deploy-prod.AcceptanceTests': { ok: false, reason: 'tests failed' } }, rollbackRelease: 3 });

    const outcome = await runStages(plan.stages, ports);

    expect(outcome).toEqual({ status: 'FAILED', reason: 'Deploy-prod failed: AcceptanceTests: tests failed; rolled back to release 3' });
    const prod = calls.slice(calls.indexOf('done Deploy-prod.AcceptanceTests'));
    expect(prod).toEqual([
      'done Deploy-prod.AcceptanceTests',
      'rollback Deploy-prod: AcceptanceTests: tests failed',
      'run Deploy-prod.Rollback (rollback)',
      'done Deploy-prod.Rollback',
      'run Deploy-prod.RollbackVerification (rollback)',
      'done Deploy-prod.RollbackVerification',
      'rolled back Deploy-prod: ok',
      'finish Deploy-prod: AcceptanceTests: tests failed',
    ]);
    expect(calls.filter((c) => c.startsWith('good '))).toEqual(['good dev']);
  });

  it('GIVEN a rollback whose first action fails WHEN prod fails THEN the verification does not run, and the run says the rollback failed too', async () => {
    const { ports, calls } = stubPorts({ outcomes: { 'Deploy-prod.Deploy': { ok: false, reason: 'boom' }, 'Deploy-prod.Rollback': { ok: false, reason: 'no last good release' } } });

    const outcome = await runStages(plan.stages, ports);

    expect(outcome).toEqual({ status: 'FAILED', reason: 'Deploy-prod failed: Deploy: boom; the rollback failed too (Rollback: no last good release)' });
    expect(calls).not.toContain('run Deploy-prod.RollbackVerification (rollback)');
    // A stage without ROLLBACK never rolls back.
    const dev = stubPorts({ outcomes: { 'Deploy-dev.Deploy': { ok: false, reason: 'boom' } } });
    await runStages(plan.stages, dev.ports);
    expect(dev.calls.some((c) => c.startsWith('rollback'))).toBe(false);
  });

  it('GIVEN a run stopped during an action WHEN the stage ends THEN the run is STOPPED, nothing is rolled back and no later stage entered', async () => {
    const { ports, calls } = stubPorts({ stopAfter: 'Deploy-prod.Deploy', outcomes: { 'Deploy-prod.Deploy': { ok: false, reason: 'killed' } } });

    const outcome = await runStages(plan.stages, ports);

    expect(outcome).toEqual({ status: 'STOPPED', reason: 'stopped (interrupted by SIGINT)' });
    expect(calls.some((c) => c.startsWith('rollback'))).toBe(false);
    expect(calls.at(-1)).toBe('finish Deploy-prod: Deploy: killed');

    const between = stubPorts({ stopAfter: 'Build.Package' });
    expect(await runStages(plan.stages, between.ports)).toEqual({ status: 'STOPPED', reason: 'stopped (interrupted by SIGINT)' });
    expect(between.calls.some((c) => c.startsWith('enter Deploy-dev'))).toBe(false);
  });

  it('GIVEN a stage another execution keeps WHEN it is not entered THEN the run ends as the entry says, running nothing of it', async () => {
    const { ports, calls } = stubPorts({ entries: { 'Deploy-dev': { entered: false, status: 'SUPERSEDED', reason: 'superseded by execution b while waiting to enter Deploy-dev' } } });

    const outcome = await runStages(plan.stages, ports);

    expect(outcome).toEqual({ status: 'SUPERSEDED', reason: 'superseded by execution b while waiting to enter Deploy-dev' });
    expect(calls.at(-1)).toBe('enter Deploy-dev');
    expect(calls).not.toContain('start Deploy-dev');
  });
});
