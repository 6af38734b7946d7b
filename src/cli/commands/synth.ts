import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { println } from '../context.js';

interface SynthOptions {
  target: string;
  config: string;
  out: string;
  prefix?: string;
  schemas?: string;
  validate: boolean;
  json?: boolean;
}

export function registerSynth(program: Command, ctx: CliContext): void {
  program
    .command('synth')
    .description('write the CloudFormation templates (CICD and deployer-role stacks, cdk.out layout) and pipelines.plan.json')
    .option('-c, --config <file>', 'the config file', 'pipelines.config.ts')
    .option('-o, --out <dir>', 'the output folder (replaced as a whole)', 'cdk.out')
    .option('--prefix <prefix>', 'the prefix of the stack names (default: service-pipelines)')
    .option('--schemas <dir|zip>', 'CloudFormation registry schemas, for services with deployPermissions: { infer }')
    .option('--no-validate', "skip aws-cdk-lib's CloudFormation template validation (faster; CI should keep it)")
    .option('--json', 'print what was written as one JSON document')
    .option('--target <engine>', 'aws (CodePipeline) or github-actions (workflows into --out, default .github/workflows)', 'aws')
    .option('--check', 'github-actions: write nothing; exit 1 when the workflows in --out differ from what the config gives')
    .option('--cdk-out <dir>', 'github-actions: where the OIDC deployer stacks go (default cdk.out.github)')
    .option('--import-oidc-provider <account>', "github-actions: an account that already has GitHub's OIDC provider, or `all` (repeatable)", (v: string, p: string[] = []) => [...p, v])
    .action(async (options: SynthOptions, command: Command) => {
      if (options.target !== 'aws' || ['check', 'cdkOut', 'importOidcProvider'].some((o) => command.getOptionValue(o) !== undefined)) {
        return (await import('./synth-github.js')).synthGitHubActions(command, ctx);
      }
      const [{ loadConfig }, { synthesizeCicd }, { resolveDeployPolicies }, { DEFAULT_PREFIX }] = await Promise.all([
        import('../../runtime/load-config.js'),
        import('../../aws/synthesize.js'),
        import('../../aws/resolve-deploy-policies.js'),
        import('../../aws/names.js'),
      ]);
      const { config, baseDir } = await loadConfig(options.config, ctx.cwd);
      const deployPolicies = await resolveDeployPolicies(config, { baseDir, ...(options.schemas ? { schemas: options.schemas } : {}), cwd: ctx.cwd });
      const path = await import('node:path');
      const result = synthesizeCicd(config, {
        outdir: path.resolve(ctx.cwd, options.out),
        deployPolicies: deployPolicies.policies,
        validateTemplates: options.validate,
        ...(options.prefix ? { prefix: options.prefix } : {}),
      });
      if (options.json) {
        ctx.stdout.write(
          `${JSON.stringify({ outdir: result.outdir, plansFile: result.plansFile, stacks: result.stacks, warnings: deployPolicies.warnings }, null, 2)}\n`,
        );
        return;
      }
      for (const warning of deployPolicies.warnings) println(ctx.stderr, `warning: ${warning}`);
      println(ctx.stdout, `Wrote ${result.stacks.length} stacks to ${path.relative(ctx.cwd, result.outdir) || '.'}:`);
      const width = Math.max(...result.stacks.map((s) => s.stackName.length));
      for (const stack of result.stacks) {
        println(
          ctx.stdout,
          `  ${stack.stackName.padEnd(width)}  ${stack.account}/${stack.region}  ${String(stack.resources).padStart(3)} resources  ${(stack.bytes / 1024).toFixed(0).padStart(4)} KB`,
        );
      }
      println(ctx.stdout, `and ${path.relative(ctx.cwd, result.plansFile)} (${result.plans.pipelines.length} pipeline plans).`);
      // The aws-cdk CLI is not a dependency of this package: npx fetches it (major 2, as aws-cdk-lib).
      const app = path.relative(ctx.cwd, result.outdir) || '.';
      const selfUpdate = config.selfUpdate ? result.stacks.find((s) => s.stackName === `${options.prefix ?? DEFAULT_PREFIX}-self-update`) : undefined;
      println(
        ctx.stdout,
        selfUpdate
          ? `Deploy with: npx aws-cdk@2 deploy --app ${app} ${selfUpdate.displayName}  (its pipeline deploys the other stacks and keeps them up to date)`
          : `Deploy with: npx aws-cdk@2 deploy --app ${app} --all  (after \`npx aws-cdk@2 bootstrap\` of each account: see the README, "Deploying to AWS")`,
      );
    });
}
