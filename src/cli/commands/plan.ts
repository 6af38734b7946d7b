import type { Command } from 'commander';
import type { CliContext } from '../context.js';

interface PlanOptions {
  config?: string;
  json?: boolean;
  pullRequest?: boolean;
}

export function registerPlan(program: Command, ctx: CliContext): void {
  program
    .command('plan')
    .description("print a service's pipeline plan: stages, actions, artifacts and environment, as a tree or JSON")
    .argument('[service]', 'the service (default: every service of the config)')
    .option('-c, --config <file>', 'the config file', 'pipelines.config.ts')
    .option('--json', 'print the plan as one JSON document (schema: schema/plan.schema.json)')
    .option('--pull-request', 'only the pull-request (test-only) pipelines')
    .action(async (service: string | undefined, options: PlanOptions) => {
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
