/**
 * `service-pipelines synth --target github-actions`: the workflows and the OIDC deployer stacks.
 */
import path from 'node:path';
import type { Command } from 'commander';
import type { GitHubToolSource } from '../../github/index.js';
import { InputError } from '../../model/errors.js';
import type { CliContext } from '../context.js';
import { println } from '../context.js';
import { EXIT_FAILURE } from '../main.js';

interface GitHubSynthOptions {
  target: string;
  config: string;
  out: string;
  prefix?: string;
  schemas?: string;
  validate: boolean;
  json?: boolean;
  check?: boolean;
  cdkOut?: string;
  importOidcProvider?: string[];
}

/** The target's default output folder (`--out` is `cdk.out` for the AWS target). */
export const DEFAULT_WORKFLOWS_DIR = '.github/workflows';
export const DEFAULT_GITHUB_CDK_OUT = 'cdk.out.github';

export async function synthGitHubActions(command: Command, ctx: CliContext): Promise<void> {
  const options = command.opts<GitHubSynthOptions>();
  if (options.target !== 'github-actions') {
    throw new InputError(
      options.target === 'aws' ? '--check, --cdk-out and --import-oidc-provider are for --target github-actions' : `unknown target "${options.target}"`,
      [{ where: '--target', message: 'aws (CodePipeline, the default) or github-actions' }],
    );
  }
  for (const account of options.importOidcProvider ?? []) {
    if (account !== 'all' && !/^\d{12}$/.test(account)) {
      throw new InputError(`"${account}" is not an AWS account`, [{ where: '--import-oidc-provider', message: 'a 12-digit account id, or all' }]);
    }
  }
  const [{ loadConfig }, { buildPlans }, github, { resolveDeployPolicies }, { packTool }, { nodeProcesses }, { systemClock }] = await Promise.all([
    import('../../runtime/load-config.js'),
    import('../../model/plan.js'),
    import('../../github/index.js'),
    import('../../aws/resolve-deploy-policies.js'),
    import('../../runtime/pack-tool.js'),
    import('../../runtime/process.js'),
    import('../../runtime/clock.js'),
  ]);
  const { config, baseDir } = await loadConfig(options.config, ctx.cwd);
  const plans = buildPlans(config);
  const out = path.resolve(ctx.cwd, command.getOptionValueSource('out') === 'default' ? DEFAULT_WORKFLOWS_DIR : options.out);
  const cdkOut = path.resolve(ctx.cwd, options.cdkOut ?? DEFAULT_GITHUB_CDK_OUT);

  // The tool the runners install: the config's registry package, or the tarball of this tool.
  let tarball: string | undefined;
  let tool: GitHubToolSource;
  if (plans.toolSource) {
    tool = github.registryToolSource(plans.toolSource);
  } else {
    const packed = await packTool({ processes: nodeProcesses, clock: systemClock, env: ctx.env });
    tarball = packed.file;
    tool = github.releaseAssetToolSource(packed);
  }
  // Relative to where synth runs: the heading is committed, and names no folder of this machine.
  const configShown = path.relative(ctx.cwd, path.resolve(ctx.cwd, options.config)).split(path.sep).join('/');
  const regenerate = ['npx service-pipelines synth --target github-actions', ...(configShown === 'pipelines.config.ts' ? [] : ['--config', configShown]), ...(command.getOptionValueSource('out') === 'default' ? [] : ['--out', options.out])].join(' ');
  const rendered = github.renderGitHubWorkflows(plans, { tool, regenerate });
  const shown = (file: string) => path.relative(ctx.cwd, file) || '.';

  if (options.check) {
    const drift = github.workflowDrift(rendered.texts, out);
    const differs = drift.missing.length + drift.changed.length + drift.stale.length > 0;
    if (options.json) {
      ctx.stdout.write(`${JSON.stringify({ out, upToDate: !differs, ...drift }, null, 2)}\n`);
    } else if (differs) {
      println(ctx.stderr, `The workflows in ${shown(out)} are not what the config gives:`);
      for (const name of drift.missing) println(ctx.stderr, `  missing: ${name}`);
      for (const name of drift.changed) println(ctx.stderr, `  changed: ${name}`);
      for (const name of drift.stale) println(ctx.stderr, `  no longer generated: ${name}`);
      println(ctx.stderr, `Regenerate them with: ${regenerate}`);
    } else {
      println(ctx.stdout, `The ${rendered.texts.size} workflows in ${shown(out)} are up to date.`);
    }
    if (differs) ctx.exitCode = EXIT_FAILURE;
    return;
  }

  const deployPolicies = await resolveDeployPolicies(plans, { baseDir, ...(options.schemas ? { schemas: options.schemas } : {}), cwd: ctx.cwd, env: ctx.env });
  // The stacks first: when they fail, no workflow is written that would deploy through roles that do not exist.
  const stacks = github.synthesizeDeployerStacks(plans, cdkOut, {
    deployPolicies: deployPolicies.policies,
    validateTemplates: options.validate,
    ...(options.prefix ? { prefix: options.prefix } : {}),
    ...(options.importOidcProvider?.length ? { importOidcProvider: options.importOidcProvider.includes('all') ? 'all' : options.importOidcProvider } : {}),
  });
  const written = github.writeWorkflows(rendered.texts, out);
  const setup = github.repositorySetup(rendered, tool, tarball);
  if (options.json) {
    ctx.stdout.write(`${JSON.stringify({ out, written: written.written, removed: written.removed, cdkOut, stacks, setup, warnings: [...deployPolicies.warnings, ...rendered.warnings] }, null, 2)}\n`);
    return;
  }
  for (const warning of [...deployPolicies.warnings, ...rendered.warnings]) println(ctx.stderr, `warning: ${warning}`);
  println(ctx.stdout, `Wrote ${written.written.length} workflows to ${shown(out)}: ${written.written.join(', ')}${written.removed.length ? ` (removed ${written.removed.join(', ')})` : ''}.`);
  println(ctx.stdout, `Wrote ${stacks.length} deployer stacks to ${shown(cdkOut)}: ${stacks.map((s) => `${s.stackName} (${s.account}/${s.region})`).join(', ')}.`);
  for (const repository of setup) {
    println(ctx.stdout, '');
    println(ctx.stdout, `In ${repository.repository} (Settings → Environments, Secrets; restrict each environment's deployment branches to ${repository.branch}):`);
    println(ctx.stdout, `  commit: ${repository.workflows.map((f) => `.github/workflows/${f}`).join(', ')}`);
    for (const environment of repository.environments) {
      println(ctx.stdout, `  environment ${environment.name}: ${environment.reviewers ? 'required reviewers (the approval)' : 'no reviewers'}${environment.rollbackOf ? ` (rolls ${environment.rollbackOf} back; its deployer trusts it)` : ''}`);
    }
    for (const secret of repository.secrets) println(ctx.stdout, `  secret ${secret.name}: ${secret.purpose}`);
    for (const line of repository.toolCommands) println(ctx.stdout, `  tool: ${line}`);
  }
  println(ctx.stdout, '');
  println(ctx.stdout, `Deploy the deployer stacks with: npx aws-cdk@2 deploy --app ${shown(cdkOut)} --all  (after \`npx aws-cdk@2 bootstrap\` of each environment account)`);
}
