import type { Command } from 'commander';
import { Option } from 'commander';
import type { TemplateValidation } from '../../aws/template-validation.js';
import type { CliContext } from '../context.js';
import { println } from '../context.js';

interface SynthOptions {
  target: string;
  config: string;
  plan?: string;
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
    .addOption(
      new Option('--plan <file>', 'build from a plans document (pipelines.plan.json, or `plan --json`) instead of a config; its paths are relative to its folder').conflicts(
        'config',
      ),
    )
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
      // aws-cdk-lib wraps every fs and child_process function to profile them unless told not to.
      ctx.env['CDK_NO_PERF_BUILTINS'] ??= '1';
      process.env['CDK_NO_PERF_BUILTINS'] ??= ctx.env['CDK_NO_PERF_BUILTINS'];
      const { TemplateValidation: Validation } = await import('../../aws/template-validation.js');
      // The validation engine is built in a thread of its own while the rest loads and synthesizes.
      const validation = options.validate && ctx.env['CDK_VALIDATION'] !== 'false' ? Validation.start({ threads: 1 }) : undefined;
      try {
        await synth(options, ctx, validation);
      } finally {
        await validation?.close();
      }
    });
}

async function synth(options: SynthOptions, ctx: CliContext, validation: TemplateValidation | undefined): Promise<void> {
  const [path, { synthesizeCicd }, { resolveDeployPolicies }, { DEFAULT_PREFIX }, { ToolSource }, { packTool }, { nodeProcesses }, { systemClock }, roleQuota] = await Promise.all([
    import('node:path'),
    import('../../aws/synthesize.js'),
    import('../../aws/resolve-deploy-policies.js'),
    import('../../aws/names.js'),
    import('../../aws/tool-source.js'),
    import('../../runtime/pack-tool.js'),
    import('../../runtime/process.js'),
    import('../../runtime/clock.js'),
    import('../../aws/role-quota.js'),
  ]);
  const { plans, baseDir } = options.plan ? await plansFromFile(path.resolve(ctx.cwd, options.plan)) : await plansFromConfig(options.config, ctx.cwd);
  const deployPolicies = await resolveDeployPolicies(plans, { baseDir, ...(options.schemas ? { schemas: options.schemas } : {}), cwd: ctx.cwd, env: ctx.env });
  // The tool the actions install: the plans' toolSource, else this very service-pipelines, packed.
  const tool = await ToolSource.fromPlans(plans, () => packTool({ processes: nodeProcesses, clock: systemClock, env: ctx.env }));
  const result = synthesizeCicd(plans, {
    outdir: path.resolve(ctx.cwd, options.out),
    deployPolicies: deployPolicies.policies,
    tool,
    validateTemplates: validation ?? false,
    ...(options.prefix ? { prefix: options.prefix } : {}),
  });
  const quotaWarnings = result.rolesPerAccount
    .filter((a) => a.overDefaultQuota)
    .map(
      (a) =>
        `the stacks create ${a.roles.toLocaleString('en-US')} IAM roles in account ${a.account}, more than IAM's default quota of ${roleQuota.IAM_ROLES_QUOTA.toLocaleString('en-US')} roles per account: ` +
        `raise "${roleQuota.IAM_ROLES_QUOTA_NAME}" for that account in Service Quotas before deploying, or give some services a CICD account of their own`,
    );
  if (options.json) {
    ctx.stdout.write(
      `${JSON.stringify(
        {
          outdir: result.outdir,
          plansFile: result.plansFile,
          tool: { version: tool.version, source: tool.source.kind === 'packed' ? { kind: 'packed', sha256: tool.source.tool.sha256 } : { kind: 'registry', package: tool.source.package } },
          stacks: result.stacks,
          rolesPerAccount: result.rolesPerAccount,
          warnings: [...deployPolicies.warnings, ...quotaWarnings],
        },
        null,
        2,
      )}\n`,
    );
    return;
  }
  for (const warning of [...deployPolicies.warnings, ...quotaWarnings]) println(ctx.stderr, `warning: ${warning}`);
  println(ctx.stdout, `Wrote ${result.stacks.length} stacks to ${path.relative(ctx.cwd, result.outdir) || '.'}:`);
  const width = Math.max(...result.stacks.map((s) => s.stackName.length));
  for (const stack of result.stacks) {
    println(
      ctx.stdout,
      `  ${stack.stackName.padEnd(width)}  ${stack.account}/${stack.region}  ${String(stack.resources).padStart(3)} resources  ${(stack.bytes / 1024).toFixed(0).padStart(4)} KB`,
    );
  }
  println(ctx.stdout, `and ${path.relative(ctx.cwd, result.plansFile)} (${result.plans.pipelines.length} pipeline plans).`);
  println(
    ctx.stdout,
    `IAM roles per account (IAM allows ${roleQuota.IAM_ROLES_QUOTA.toLocaleString('en-US')} by default): ${[...result.rolesPerAccount]
      // The CICD account first: it holds most of them.
      .sort((a, b) => Number(b.account === plans.cicd.account) - Number(a.account === plans.cicd.account))
      .map((a) => `${a.account} ${a.roles}${a.account === plans.cicd.account ? ' (CICD)' : ''}`)
      .join(', ')}.`,
  );
  println(
    ctx.stdout,
    tool.source.kind === 'packed'
      ? `The actions install service-pipelines ${tool.version}, packed into the assembly (sha256 ${tool.source.tool.sha256}).`
      : `The actions install ${tool.source.package} from ${tool.source.registry ?? "the registry of their npm configuration"}, checked against its integrity.`,
  );
  // The aws-cdk CLI is not a dependency of this package: npx fetches it (major 2, as aws-cdk-lib).
  const app = path.relative(ctx.cwd, result.outdir) || '.';
  const selfUpdate = plans.selfUpdate ? result.stacks.find((s) => s.stackName === `${options.prefix ?? DEFAULT_PREFIX}-self-update`) : undefined;
  println(
    ctx.stdout,
    selfUpdate
      ? `Deploy with: npx aws-cdk@2 deploy --app ${app} ${selfUpdate.displayName}  (its pipeline deploys the other stacks and keeps them up to date)`
      : `Deploy with: npx aws-cdk@2 deploy --app ${app} --all  (after \`npx aws-cdk@2 bootstrap\` of each account: see the README, "Deploying to AWS")`,
  );
}

/** The plans of a config, and the folder its relative paths start from. */
async function plansFromConfig(configFile: string, cwd: string) {
  const [{ loadConfig }, { buildPlans }] = await Promise.all([import('../../runtime/load-config.js'), import('../../model/plan.js')]);
  const { config, baseDir } = await loadConfig(configFile, cwd);
  return { plans: buildPlans(config), baseDir };
}

/**
 * A plans document written by `synth` or `plan --json`; its relative paths start from its folder.
 *
 * @throws InputError when it cannot be read or is not a plans document of this version
 */
async function plansFromFile(file: string) {
  const [{ readFile }, path, { parsePlansDocument }, { InputError }] = await Promise.all([
    import('node:fs/promises'),
    import('node:path'),
    import('../../model/plan.js'),
    import('../../model/errors.js'),
  ]);
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new InputError(`cannot read the plans document ${file}`, [{ where: '--plan', message: error instanceof Error ? error.message : String(error) }], { cause: error });
  }
  return { plans: parsePlansDocument(value, file), baseDir: path.dirname(file) };
}
