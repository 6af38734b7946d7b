import type { Command } from 'commander';
import type { CliContext } from '../context.js';

interface PlanOptions {
  config?: string;
  json?: boolean;
  pullRequest?: boolean;
  changed?: boolean;
  since?: string;
  until?: string;
}

export function registerPlan(program: Command, ctx: CliContext): void {
  program
    .command('plan')
    .description("print a service's pipeline plan: stages, actions, artifacts and environment, as a tree or JSON")
    .argument('[service]', 'the service (default: every service of the config)')
    .option('-c, --config <file>', 'the config file', 'pipelines.config.ts')
    .option('--json', 'print the plan as one JSON document (schema: schema/plan.schema.json)')
    .option('--pull-request', 'only the pull-request (test-only) pipelines')
    .option('--changed', 'list the services whose folder or dependsOn changed since their last successful run, and why (what `run --changed` runs)')
    .option('--since <ref>', 'with --changed: count changes since this commit, branch or tag instead')
    .option('--until <env>', 'with --changed: as `run --changed --until <env>` decides (a last successful run that went that far)')
    .action(async (service: string | undefined, options: PlanOptions) => {
      if (options.changed || options.since !== undefined || options.until !== undefined) {
        return planChanged(ctx, service, options);
      }
      const [{ loadConfig }, { buildPlans }, { formatPlanTree }] = await Promise.all([
        import('../../runtime/load-config.js'),
        import('../../model/plan.js'),
        import('../format-plan.js'),
      ]);
      const { config } = await loadConfig(options.config, ctx.cwd);
      const document = buildPlans(config, service === undefined ? {} : { service });
      const pipelines = document.pipelines.filter((p) => (options.pullRequest ? p.trigger === 'pull-request' : true));
      if (options.json) {
        ctx.stdout.write(`${JSON.stringify({ ...document, pipelines }, null, 2)}\n`);
      } else {
        ctx.stdout.write(pipelines.map((p) => formatPlanTree(p)).join('\n'));
      }
    });
}

/** `plan --changed`: what `run --changed` would run, and why. */
async function planChanged(ctx: CliContext, service: string | undefined, options: PlanOptions): Promise<void> {
  const { InputError } = await import('../../model/errors.js');
  if (!options.changed) {
    throw new InputError('--since and --until go with --changed', [{ where: '--since, --until', message: 'add --changed, or drop them' }]);
  }
  if (service !== undefined) {
    throw new InputError(`give a service or --changed, not both (${service})`, [{ where: '<service>, --changed', message: '`plan --changed` looks at every service' }]);
  }
  const { decideChanged, decisionDocument, formatDecision } = await import('./run-changed.js');
  const decision = await decideChanged(ctx, { ...options, config: options.config ?? 'pipelines.config.ts' });
  ctx.stdout.write(options.json ? `${JSON.stringify(decisionDocument(decision), null, 2)}\n` : formatDecision(decision));
}
