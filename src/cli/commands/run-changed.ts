/**
 * `run --changed` and `plan --changed`: the pipelines of the services whose folder or
 * dependencies changed since their last successful run (or since `--since <ref>`), decided by
 * `src/local/changes.ts`; `run` runs them, at most `--concurrency` at a time, and ends with one
 * summary.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { ChangedServices, LastSuccess } from '../../local/changes.js';
import type { RunPipelineResult } from '../../local/index.js';
import { InputError } from '../../model/errors.js';
import { buildPipelinePlan } from '../../model/plan.js';
import type { PipelinePlan } from '../../model/plan-schema.js';
import type { ValidConfig } from '../../model/validate.js';
import type { CliContext } from '../context.js';

/** How many pipelines `run --changed` runs at once unless told. */
export const DEFAULT_CONCURRENCY = 4;

/** The options of `run` that `--changed` reads. */
export interface RunChangedOptions {
  readonly config: string;
  readonly since?: string;
  readonly concurrency?: string;
  readonly until?: string;
  readonly approve?: boolean;
  readonly reject?: boolean;
  readonly pullRequest?: boolean;
  readonly keepStages?: boolean;
  readonly revision?: string;
  readonly queuedExecution?: string;
  readonly plan?: string;
  readonly service?: string;
  readonly json?: boolean;
}

/** A decision, with what it took. */
export interface ChangedDecision {
  readonly config: ValidConfig;
  readonly configFile: string;
  readonly baseDir: string;
  readonly home: string;
  readonly changes: ChangedServices;
  /** How long deciding took, from the config loaded to the answer, in ms. */
  readonly decidedInMs: number;
}

/**
 * Load the config and decide which services changed: since `since`, or since each one's last
 * successful run in the history of this folder (one that went as far as `until`).
 */
export async function decideChanged(ctx: CliContext, options: { config: string; since?: string; until?: string; pullRequest?: boolean }): Promise<ChangedDecision> {
  // The state store alone, not the engine: deciding loads what it reads (plan --changed stays quick).
  const [{ loadConfig }, { changedServices, lastSuccessfulRun }, { StateStore }, { nodeProcesses }] = await Promise.all([
    import('../../runtime/load-config.js'),
    import('../../local/changes.js'),
    import('../../local/state-store.js'),
    import('../../runtime/process.js'),
  ]);
  const loaded = await loadConfig(options.config, ctx.cwd);
  const home = path.join(ctx.cwd, '.service-pipelines');
  const started = performance.now();
  // Read only: deciding writes nothing, and a history nobody ran yet is not created.
  const store = options.since === undefined && existsSync(path.join(home, 'state.db')) ? StateStore.open(home, { readOnly: true }) : undefined;
  try {
    const lastSuccess = store ? (plan: PipelinePlan): LastSuccess | undefined => lastSuccessfulRun(store, plan, options.until) : undefined;
    const changes = await changedServices({
      config: loaded.config,
      baseDir: loaded.baseDir,
      processes: nodeProcesses,
      trigger: options.pullRequest ? 'pull-request' : 'push',
      ...(options.since === undefined ? {} : { since: options.since }),
      ...(lastSuccess ? { lastSuccess } : {}),
    });
    return { config: loaded.config, configFile: loaded.file, baseDir: loaded.baseDir, home, changes, decidedInMs: Math.round(performance.now() - started) };
  } finally {
    store?.close();
  }
}

/** The decision for people: each service that runs and why, then those that do not. */
export function formatDecision(decision: ChangedDecision): string {
  const { services, skipped } = decision.changes;
  const running = services.filter((s) => s.runs);
  const lines = [`${running.length} of ${services.length} service${services.length === 1 ? '' : 's'} changed (decided in ${decision.decidedInMs} ms):`];
  for (const service of running) lines.push(`  run   ${service.service}: ${service.reason}`);
  for (const service of services.filter((s) => !s.runs)) lines.push(`  skip  ${service.service}: ${service.reason}`);
  for (const service of skipped) lines.push(`  skip  ${service.service}: ${service.reason}`);
  return `${lines.join('\n')}\n`;
}

/** The decision as JSON (`plan --changed --json`, and the head of `run --changed --json`). */
export function decisionDocument(decision: ChangedDecision): object {
  return {
    decidedInMs: decision.decidedInMs,
    services: decision.changes.services.map((s) => ({ service: s.service, runs: s.runs, reason: s.reason, ...(s.base ? { base: s.base } : {}), touched: s.touched })),
    skipped: decision.changes.skipped,
  };
}

/** `run --changed`. */
export async function runChanged(ctx: CliContext, service: string | undefined, options: RunChangedOptions): Promise<void> {
  refuseWithChanged(service, options);
  const concurrency = parseConcurrency(options.concurrency);
  const decision = await decideChanged(ctx, options);
  const local = await import('../../local/index.js');
  const running = decision.changes.services.filter((s) => s.runs);
  if (!options.json) {
    ctx.stderr.write(formatDecision(decision));
  }
  const controller = new AbortController();
  const stop = (signal: NodeJS.Signals) => controller.abort(new Error(`interrupted by ${signal}`));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const results: Array<{ service: string; result?: RunPipelineResult; error?: string; durationMs: number }> = [];
  try {
    await forEachAtMost(concurrency, running, async ({ service: name }) => {
      const started = performance.now();
      const prefix = `[${name}] `;
      const view = options.json ? undefined : new local.ProgressView(prefixedLines(ctx.stderr, prefix), { live: false });
      try {
        const index = decision.config.services.findIndex((s) => s.name === name);
        const result = await local.runPipeline(buildPipelinePlan(decision.config, name, options.pullRequest ? 'pull-request' : 'push'), {
          definitionFile: decision.configFile,
          baseDir: decision.baseDir,
          sourceWhere: `services[${index}].source.path`,
          home: decision.home,
          ...(options.until ? { until: options.until } : {}),
          ...(options.approve ? { approval: 'approve' as const } : options.reject ? { approval: 'reject' as const } : {}),
          keepStages: Boolean(options.keepStages),
          signal: controller.signal,
          ...(view ? { onEvent: (event) => view.handle(event) } : {}),
        });
        results.push({ service: name, result, durationMs: performance.now() - started });
      } catch (error) {
        // One service's bad input (its folder gone since the decision...) does not stop the others.
        results.push({ service: name, error: error instanceof Error ? error.message.split('\n')[0]! : String(error), durationMs: performance.now() - started });
      } finally {
        view?.close();
      }
    });
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
  }
  const ordered = running.map((s) => results.find((r) => r.service === s.service)!);
  if (options.json) {
    const runs = ordered.map((r) => ({
      service: r.service,
      status: r.result?.status ?? 'NOT_STARTED',
      ...(r.result ? { executionId: r.result.executionId } : {}),
      ...(r.result?.reason ? { reason: r.result.reason } : r.error ? { reason: r.error } : {}),
      durationMs: Math.round(r.durationMs),
    }));
    ctx.stdout.write(`${JSON.stringify({ ...decisionDocument(decision), runs }, null, 2)}\n`);
  } else if (ordered.length > 0) {
    ctx.stderr.write(formatSummary(ordered));
  }
  ctx.exitCode = ordered.every((r) => r.result?.status === 'SUCCEEDED') ? 0 : 1;
}

/** One line per run: service, status, duration, execution, and why it failed. */
function formatSummary(runs: ReadonlyArray<{ service: string; result?: RunPipelineResult; error?: string; durationMs: number }>): string {
  const width = Math.max(...runs.map((r) => r.service.length));
  const lines = runs.map((r) => {
    const status = r.result?.status ?? 'NOT_STARTED';
    const why = r.result?.reason ?? r.error;
    return `  ${r.service.padEnd(width)}  ${status.padEnd(11)}  ${(r.durationMs / 1000).toFixed(1).padStart(6)} s${r.result ? `  ${r.result.executionId}` : ''}${why && status !== 'SUCCEEDED' ? `  ${why}` : ''}`;
  });
  const failed = runs.filter((r) => r.result?.status !== 'SUCCEEDED').length;
  return `\n${runs.length} pipeline${runs.length === 1 ? '' : 's'} ran, ${failed === 0 ? 'all succeeded' : `${failed} did not succeed`}:\n${lines.join('\n')}\n`;
}

/** What makes no sense with `--changed`. */
function refuseWithChanged(service: string | undefined, options: RunChangedOptions): void {
  if (service !== undefined) {
    throw new InputError(`give a service or --changed, not both (${service})`, [{ where: '<service>, --changed', message: '`run <service>` runs one pipeline; `run --changed` picks the services whose files changed' }]);
  }
  if (options.plan !== undefined || options.service !== undefined) {
    throw new InputError('--plan and --service have no meaning with --changed', [{ where: '--plan, --service', message: '--changed decides from the config which services run: drop --plan and --service' }]);
  }
  if (options.revision !== undefined || options.queuedExecution !== undefined) {
    throw new InputError('--revision has no meaning with --changed', [{ where: '--revision', message: '--changed runs each service\'s working tree; run one commit of one service with `run <service> --revision <sha>`' }]);
  }
}

/** `--concurrency N`: how many pipelines at once, from 1 to 64. */
export function parseConcurrency(value: string | undefined): number {
  if (value === undefined) {
    return DEFAULT_CONCURRENCY;
  }
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isInteger(n) || n < 1 || n > 64) {
    throw new InputError(`--concurrency ${value}: not a number of pipelines`, [{ where: '--concurrency', message: 'give a whole number from 1 to 64' }]);
  }
  return n;
}

/** Run `task` for each item, at most `limit` at a time; resolves when every one has. */
async function forEachAtMost<T>(limit: number, items: readonly T[], task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await task(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** A writer that puts a prefix before every line (the runs of several services share one stream). */
function prefixedLines(stream: { write(text: string): unknown }, prefix: string): { write(text: string): void } {
  let pending = '';
  return {
    write(text: string) {
      const lines = (pending + text).split('\n');
      pending = lines.pop()!;
      if (lines.length) stream.write(lines.map((line) => `${prefix}${line}\n`).join(''));
    },
  };
}
