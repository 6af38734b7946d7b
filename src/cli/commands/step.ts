import type { Command } from 'commander';
import { InputError } from '../../model/errors.js';
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
const STAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const REGION_NAME = /^[a-z]{2}(-[a-z]+)+-\d+$/;

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
      const [{ runStep, isStepName }, { sdkAws }, { nodeProcesses }, { systemClock }] = await Promise.all([
        import('../../steps/run-step.js'),
        import('../../steps/aws.js'),
        import('../../runtime/process.js'),
        import('../../runtime/clock.js'),
      ]);
      if (!isStepName(name)) {
        throw new InputError(`unknown step "${name}"`, [{ where: 'step <name>', message: `valid steps: ${stepNames.join(', ')}` }]);
      }
      if (options.flavor !== 'serverless' && options.flavor !== 'custom') {
        throw new InputError(`unknown flavor "${options.flavor}"`, [{ where: '--flavor', message: 'serverless or custom' }]);
      }
      if (options.region !== undefined && !REGION_NAME.test(options.region)) {
        throw new InputError(`"${options.region}" is not an AWS region`, [{ where: '--region', message: 'e.g. us-east-1' }]);
      }
      const region = options.region ?? ctx.env.TARGET_REGION;
      const stages = (options.stage ?? []).map((value) => parseStage(value, region));
      if (name !== 'package' && stages.length > 1) {
        throw new InputError(`step ${name} acts on one environment`, [{ where: '--stage', message: `given ${stages.length} times` }]);
      }
      if (name === 'package') {
        const missing = stages.find((s) => s.region === undefined);
        if (missing) {
          throw new InputError(`no region for stage "${missing.name}"`, [{ where: '--stage', message: `give --stage ${missing.name}@<region>, --region, or TARGET_REGION` }]);
        }
      }
      const boundaries = parseBoundaries(options.permissionsBoundary ?? [], stages.map((s) => s.name));
      const stageRegion = stages[0]?.region;
      await runStep(
        {
          step: name,
          flavor: options.flavor,
          ...(stages[0] ? { stage: stages[0].name } : {}),
          ...(options.region ?? stageRegion ? { region: options.region ?? stageRegion } : {}),
          ...(name === 'package' ? { packageStages: stages.map((s) => ({ name: s.name, region: s.region!, ...(boundaries.has(s.name) ? { permissionsBoundary: boundaries.get(s.name)! } : {}) })) } : {}),
          ...(options.command?.length ? { commands: options.command } : {}),
          ...(options.package ? { packageDir: options.package } : {}),
        },
        {
          cwd: ctx.cwd,
          env: ctx.env,
          output: { stdout: ctx.stdout, stderr: ctx.stderr },
          processes: nodeProcesses,
          clock: systemClock,
          aws: sdkAws,
        },
      );
    });
}

/** `name` or `name@region`; the region of `name` alone is the default one, if any. */
function parseStage(value: string, defaultRegion: string | undefined): { name: string; region: string | undefined } {
  const at = value.indexOf('@');
  const name = at < 0 ? value : value.slice(0, at);
  const region = at < 0 ? defaultRegion : value.slice(at + 1);
  if (!STAGE_NAME.test(name)) {
    throw new InputError(`"${name}" is not a stage name`, [{ where: '--stage', message: 'letters, digits, dashes and underscores, e.g. dev' }]);
  }
  if (region !== undefined && !REGION_NAME.test(region)) {
    throw new InputError(`"${region}" is not an AWS region`, [{ where: `--stage ${value}`, message: 'e.g. dev@us-east-1' }]);
  }
  return { name, region };
}

/** `--permissions-boundary env=arn`, each naming an environment given with --stage. */
function parseBoundaries(values: readonly string[], stages: readonly string[]): Map<string, string> {
  const boundaries = new Map<string, string>();
  for (const value of values) {
    const at = value.indexOf('=');
    const [name, arn] = at < 0 ? [value, ''] : [value.slice(0, at), value.slice(at + 1)];
    if (!stages.includes(name) || !/^arn:aws[a-z-]*:iam::\d{12}:policy\/\S+$/.test(arn) || boundaries.has(name)) {
      throw new InputError(`--permissions-boundary ${value}: expected <environment>=<IAM policy ARN>, once per environment given with --stage`, [
        { where: '--permissions-boundary', message: `e.g. dev=arn:aws:iam::222222222222:policy/svc-dev-boundary; environments: ${stages.join(', ') || 'none'}` },
      ]);
    }
    boundaries.set(name, arn);
  }
  return boundaries;
}
