import type { Command } from 'commander';
import { stepNames } from '../../model/step-names.js';
import type { CliContext } from '../context.js';

interface StepOptions {
  stage?: string[];
  region?: string;
  flavor: string;
  command?: string[];
  package?: string;
  permissionsBoundary?: string[];
}

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

export function registerStep(program: Command, ctx: CliContext): void {
  program
    .command('step')
    .description("run one step of the service in the current folder, as CodeBuild runs it (the article's build.sh)")
    .argument('<name>', `the step: ${stepNames.join(', ')}`)
    .option('-s, --stage <stage>', 'the environment; for package: <name>@<region>, once per environment in promotion order', collect)
    .option('-r, --region <region>', 'the target region (default: TARGET_REGION)')
    .option('--flavor <flavor>', 'serverless (npm scripts and osls) or custom (--command only)', 'serverless')
    .option('--command <line>', "a shell line replacing the step's default command (repeatable, run in order)", collect)
    .option('--package <dir>', 'deploy/rollback: the Package artifact folder (default: CODEBUILD_SRC_DIR_Package, else .pipeline/Package)')
    .option('--permissions-boundary <env=arn>', "package: the permissions boundary of an environment's roles (repeatable)", collect)
    .addHelpText(
      'after',
      '\nEnvironment: STAGE, TARGET_REGION, SERVICE_NAME, DEPLOYER_ROLE_ARN, CODEBUILD_SRC_DIR_<artifact>;\n' +
        'deploy: PERMISSIONS_BOUNDARY_ARN (every role of the template must carry it), PACKAGE_SHA256 (the digest\n' +
        'package wrote to .pipeline/Package.sha256) and PACKAGE_MANIFEST_SHA256 (manifest.json\'s): a package with another is refused;\n' +
        'SERVICE_PIPELINES_TARGET=local deploys to a local stage (SERVICE_PIPELINES_HOME), else to AWS.',
    )
    .action(async (name: string, options: StepOptions) => {
      const [{ runStep }, { stepRequestOf }, { sdkAws }, { nodeProcesses }, { systemClock }] = await Promise.all([
        import('../../steps/run-step.js'),
        import('../../steps/step-arguments.js'),
        import('../../steps/aws.js'),
        import('../../runtime/process.js'),
        import('../../runtime/clock.js'),
      ]);
      await runStep(stepRequestOf(name, options, ctx.env), {
        cwd: ctx.cwd,
        env: ctx.env,
        output: { stdout: ctx.stdout, stderr: ctx.stderr },
        processes: nodeProcesses,
        clock: systemClock,
        aws: sdkAws,
        // Loaded only by a local deploy or rollback: the AWS actions never load the history's database.
        localDeployments: async (home) => (await import('../../local/deployment-records.js')).openDeploymentRecords(home),
      });
    });
}
