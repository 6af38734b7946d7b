/**
 * Executions recorded through the local engine's own store API (`StateStore`), as a run
 * records them: for the tests of what the dashboard reads.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { markRunningHere } from '../../src/local/recovery.js';
import type { StateStore } from '../../src/local/state-store.js';
import { nodeProcessTable } from '../../src/runtime/process.js';
import { buildPipelinePlan } from '../../src/model/plan.js';
import type { ValidConfig } from '../../src/model/validate.js';

/** How far the recorded execution got. */
export type FixtureState = 'succeeded' | 'failed-in-build' | 'awaiting-approval' | 'building';

/**
 * Record an execution of `service`'s pipeline. Commands actions that ran get a log (in the
 * database once finished; in a log file while running, as the engine does).
 */
export function recordExecution(
  store: StateStore,
  config: ValidConfig,
  options: { id: string; service: string; trigger?: 'push' | 'pull-request'; state: FixtureState; startedAt: number; revision?: string; pid?: number },
): void {
  const plan = buildPipelinePlan(config, options.service, options.trigger ?? 'push');
  if (options.pid === undefined) {
    // Recorded as run by this (test) process, which is alive: not to be recovered as abandoned.
    markRunningHere(options.id);
  }
  store.createExecution({
    id: options.id,
    pipeline: plan.pipelineName,
    service: plan.service,
    trigger: plan.trigger,
    executionMode: plan.executionMode,
    process: options.pid === undefined ? (nodeProcessTable.identify(process.pid) ?? { pid: process.pid }) : { pid: options.pid },
    processScope: nodeProcessTable.scope(),
    configFile: '/config/pipelines.config.ts',
    sourcePath: '/src/svc',
    startedAt: options.startedAt,
    stages: plan.stages.map((s) => ({
      name: s.name,
      ...(s.environment ? { environment: s.environment } : {}),
      onFailure: s.onFailure,
      actions: s.actions.map((a) => ({ name: a.name, runOrder: a.runOrder, kind: a.kind, ...(a.kind === 'commands' && a.step ? { step: a.step.step } : {}) })),
    })),
  });
  store.setSource(options.id, options.revision ?? '0123456789abcdef0123456789abcdef01234567', false);
  let at = options.startedAt;
  for (const stage of plan.stages) {
    const stageStart = at;
    store.updateStage(options.id, stage.name, { status: 'IN_PROGRESS', startedAt: stageStart });
    for (const action of stage.actions) {
      const started = at;
      at += 1_000;
      if (action.kind === 'approval') {
        if (options.state === 'awaiting-approval') {
          store.requestApproval(options.id, stage.name, action.name, 'Promote to prod?', started);
          store.updateAction(options.id, stage.name, action.name, { status: 'AWAITING_APPROVAL', startedAt: started });
          return;
        }
        store.requestApproval(options.id, stage.name, action.name, 'Promote to prod?', started);
        store.decideApproval(options.id, stage.name, action.name, { status: 'APPROVED', by: 'fixture', at });
        store.updateAction(options.id, stage.name, action.name, { status: 'SUCCEEDED', startedAt: started, finishedAt: at });
        continue;
      }
      if (options.state === 'building' && stage.name === 'Build') {
        const logs = path.join(store.home, 'runs', options.id, 'logs');
        mkdirSync(logs, { recursive: true });
        const logFile = path.join(logs, `${stage.name}.${action.name}.log`);
        writeFileSync(logFile, `[Container] running ${action.name}\n`);
        store.updateAction(options.id, stage.name, action.name, { status: 'IN_PROGRESS', startedAt: started, logFile });
        continue;
      }
      const failed = options.state === 'failed-in-build' && stage.name === 'Build' && action.name === 'UnitTests';
      store.updateAction(options.id, stage.name, action.name, {
        status: failed ? 'FAILED' : 'SUCCEEDED',
        startedAt: started,
        finishedAt: at,
        ...(action.kind === 'commands' ? { log: `[Container] ${action.name} line 1\n${action.name} done`, exitCode: failed ? 1 : 0 } : {}),
        ...(failed ? { reason: 'npm test exited with 1' } : {}),
      });
    }
    if (options.state === 'building' && stage.name === 'Build') {
      return;
    }
    const failedHere = options.state === 'failed-in-build' && stage.name === 'Build';
    store.updateStage(options.id, stage.name, { status: failedHere ? 'FAILED' : 'SUCCEEDED', finishedAt: at });
    if (failedHere) {
      store.endExecution(options.id, 'FAILED', 'Build failed: UnitTests failed', at);
      return;
    }
  }
  store.setExecutionStatus(options.id, 'SUCCEEDED', { finishedAt: at });
}
