import { Option, type Command } from 'commander';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { ApprovalDecision, ApprovalRequest } from '../../local/index.js';
import { InputError } from '../../model/errors.js';
import type { PipelinePlan } from '../../model/plan-schema.js';
import { raiseSignal } from '../../runtime/process.js';
import type { CliContext } from '../context.js';

interface RunOptions {
  config: string;
  plan?: string;
  service?: string;
  baseDir?: string;
  until?: string;
  approve?: boolean;
  reject?: boolean;
  pullRequest?: boolean;
  json?: boolean;
  keepStages?: boolean;
  revision?: string;
  queuedExecution?: string;
}

export function registerRun(program: Command, ctx: CliContext): void {
  program
    .command('run')
    .description("run a service's pipeline on this machine: source snapshot, build, local stages, approvals, rollback; history in .service-pipelines/")
    .argument('[service]', 'the service whose pipeline runs')
    .option('-c, --config <file>', 'the config file', 'pipelines.config.ts')
    .option('--plan <file>', 'run a plans document (`plan --json`, or `synth`\'s pipelines.plan.json) instead of the config\'s plan')
    .option('--service <service>', 'with --plan: the service whose pipeline runs (default: the document\'s only service)')
    .option('--base-dir <dir>', 'with --plan: the folder source.path is relative to (the config\'s folder)', '.')
    .option('--until <env>', "stop after this environment's deploy stage")
    .option('--approve', 'approve every manual approval (for scripts)')
    .option('--reject', 'reject the first manual approval (for scripts)')
    .option('--pull-request', 'run the test-only pull-request pipeline')
    .option('--keep-stages', 'keep the local stages this run started serving after it ends')
    .option('--revision <commit>', "run the service's folder as it is in this commit (fetched from the repository's remote when absent), not the working tree")
    .addOption(new Option('--queued-execution <id>', 'take over the execution `serve` recorded for this run').hideHelp())
    .option('--json', 'print one JSON document at the end (the execution, as `show --json` prints it, without logs)')
    .addHelpText(
      'after',
      '\nWithout a terminal and without --approve/--reject, a run waiting for approval waits until\n`service-pipelines approve <execution-id>` (or reject) is run from another shell.',
    )
    .action(async (service: string | undefined, options: RunOptions) => {
      if (options.approve && options.reject) {
        throw new InputError('--approve and --reject cannot both be given', [{ where: '--approve, --reject', message: 'give one of them, or neither to decide when asked' }]);
      }
      if (options.pullRequest && options.until) {
        throw new InputError('--until has no meaning with --pull-request', [{ where: '--until', message: 'the pull-request pipeline deploys nowhere: drop --until' }]);
      }
      const trigger = options.pullRequest ? 'pull-request' : 'push';
      const [target, local] = await Promise.all([pipelineToRun(service, trigger, options, ctx), import('../../local/index.js')]);
      const home = path.join(ctx.cwd, local.STATE_FOLDER);
      const view = options.json ? undefined : new local.ProgressView(ctx.stderr, { live: Boolean(ctx.stderr.isTTY), columns: ctx.stdout.columns ?? 100 });
      const interactive = !options.approve && !options.reject && Boolean(ctx.stdin.isTTY) && Boolean(ctx.stderr.isTTY);
      const controller = new AbortController();
      const stop = (signal: NodeJS.Signals) => controller.abort(new Error(`interrupted by ${signal}`));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        const result = await local.runPipeline(target.plan, {
          definitionFile: target.file,
          baseDir: target.baseDir,
          ...(target.sourceWhere ? { sourceWhere: target.sourceWhere } : {}),
          home,
          ...(options.until ? { until: options.until } : {}),
          ...(options.approve ? { approval: 'approve' as const } : options.reject ? { approval: 'reject' as const } : {}),
          ...(interactive ? { prompt: (request, signal) => promptApproval(ctx, request, signal) } : {}),
          keepStages: Boolean(options.keepStages),
          ...(options.revision ? { revision: options.revision } : {}),
          ...(options.queuedExecution ? { queuedExecutionId: options.queuedExecution } : {}),
          signal: controller.signal,
          ...(view ? { onEvent: (event) => view.handle(event) } : {}),
        });
        view?.close();
        if (options.json) {
          const document = await local.showExecution({ home, executionId: result.executionId, logs: false });
          ctx.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
        } else {
          ctx.stderr.write(`history: ${path.join(home, 'state.db')}  (service-pipelines show ${result.executionId})\n`);
        }
        ctx.exitCode = result.status === 'SUCCEEDED' ? 0 : 1;
      } finally {
        process.removeListener('SIGINT', stop);
        process.removeListener('SIGTERM', stop);
      }
    });
}

/** The pipeline a `run` runs: the config's plan of the service, or one of a plans document's. */
async function pipelineToRun(
  service: string | undefined,
  trigger: 'push' | 'pull-request',
  options: RunOptions,
  ctx: CliContext,
): Promise<{ plan: PipelinePlan; file: string; baseDir: string; sourceWhere?: string }> {
  if (options.plan === undefined) {
    if (options.service !== undefined || service === undefined) {
      throw new InputError(service === undefined ? 'which service? give its name' : '--service goes with --plan', [
        { where: service === undefined ? 'run <service>' : '--service', message: 'run <service> runs the config\'s pipeline of that service; --plan <file> --service <service> runs a plans document\'s' },
      ]);
    }
    const [{ loadConfig }, { buildPipelinePlan }] = await Promise.all([import('../../runtime/load-config.js'), import('../../model/plan.js')]);
    const loaded = await loadConfig(options.config, ctx.cwd);
    const plan = buildPipelinePlan(loaded.config, service, trigger);
    const index = loaded.config.services.findIndex((s) => s.name === service);
    return { plan, file: loaded.file, baseDir: loaded.baseDir, sourceWhere: `services[${index}].source.path` };
  }
  if (service !== undefined && options.service !== undefined && service !== options.service) {
    throw new InputError(`two services given: ${service} and --service ${options.service}`, [{ where: '--service', message: 'give the service once' }]);
  }
  const { readPlansFile, selectPipeline } = await import('../../local/plan-file.js');
  const file = path.resolve(ctx.cwd, options.plan);
  const document = await readPlansFile(file);
  return { plan: selectPipeline(document, options.service ?? service, trigger, options.plan), file, baseDir: path.resolve(ctx.cwd, options.baseDir ?? '.') };
}

/** Ask on the terminal; a decision made meanwhile from another shell aborts the question. */
function promptApproval(ctx: CliContext, request: ApprovalRequest, signal: AbortSignal): Promise<ApprovalDecision> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: ctx.stdin, output: ctx.stderr, terminal: true });
    // Settle first, close after: closing emits 'close', which must not turn an answer into a failure.
    const settle = (outcome: { decision: ApprovalDecision } | { error: Error }) => {
      if ('decision' in outcome) {
        resolve(outcome.decision);
      } else {
        reject(outcome.error);
      }
      rl.close();
    };
    const ask = () =>
      rl.question(`${request.comment}\n  approve (y), reject (n), or wait for \`service-pipelines approve|reject ${request.executionId}\`: `, { signal }, (answer) => {
        const word = answer.trim().toLowerCase();
        if (word === 'y' || word === 'yes') {
          settle({ decision: { status: 'APPROVED' } });
        } else if (word === 'n' || word === 'no') {
          settle({ decision: { status: 'REJECTED', summary: 'rejected on the terminal' } });
        } else {
          ask();
        }
      });
    signal.addEventListener('abort', () => settle({ error: new Error('decided elsewhere') }), { once: true });
    // In raw mode Ctrl-C reaches readline, not the process: pass it on, so that it stops the run.
    rl.on('SIGINT', () => raiseSignal('SIGINT'));
    rl.once('close', () => reject(new Error('the terminal closed')));
    ask();
  });
}
