/**
 * The arguments of `service-pipelines step <name>`, checked and turned into a `StepRequest`: the
 * same code for the command line (`step`) and for the local engine, which runs a plan's step
 * calls in its own process.
 */
import { InputError } from '../model/errors.js';
import type { StepCall } from '../model/plan-schema.js';
import { stepNames } from '../model/step-names.js';
import type { StepRequest } from './step-types.js';

/** The options of `step <name>`, as the command line gives them. */
export interface StepOptions {
  readonly stage?: readonly string[];
  readonly region?: string;
  readonly flavor: string;
  readonly command?: readonly string[];
  readonly package?: string;
  readonly permissionsBoundary?: readonly string[];
}

const STAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const REGION_NAME = /^[a-z]{2}(-[a-z]+)+-\d+$/;

/**
 * Check a step's name and options and make its request.
 *
 * @param env - the step's environment (`TARGET_REGION` is the default region)
 * @throws InputError naming the option that is wrong
 */
export function stepRequestOf(name: string, options: StepOptions, env: NodeJS.ProcessEnv): StepRequest {
  if (!(stepNames as readonly string[]).includes(name)) {
    throw new InputError(`unknown step "${name}"`, [{ where: 'step <name>', message: `valid steps: ${stepNames.join(', ')}` }]);
  }
  const step = name as StepRequest['step'];
  if (options.flavor !== 'serverless' && options.flavor !== 'custom') {
    throw new InputError(`unknown flavor "${options.flavor}"`, [{ where: '--flavor', message: 'serverless or custom' }]);
  }
  if (options.region !== undefined && !REGION_NAME.test(options.region)) {
    throw new InputError(`"${options.region}" is not an AWS region`, [{ where: '--region', message: 'e.g. us-east-1' }]);
  }
  const region = options.region ?? env.TARGET_REGION;
  const stages = (options.stage ?? []).map((value) => parseStage(value, region));
  if (step !== 'package' && stages.length > 1) {
    throw new InputError(`step ${step} acts on one environment`, [{ where: '--stage', message: `given ${stages.length} times` }]);
  }
  if (step === 'package') {
    const missing = stages.find((s) => s.region === undefined);
    if (missing) {
      throw new InputError(`no region for stage "${missing.name}"`, [{ where: '--stage', message: `give --stage ${missing.name}@<region>, --region, or TARGET_REGION` }]);
    }
  }
  const boundaries = parseBoundaries(options.permissionsBoundary ?? [], stages.map((s) => s.name));
  const stageRegion = stages[0]?.region;
  return {
    step,
    flavor: options.flavor,
    ...(stages[0] ? { stage: stages[0].name } : {}),
    ...((options.region ?? stageRegion) ? { region: options.region ?? stageRegion } : {}),
    ...(step === 'package'
      ? { packageStages: stages.map((s) => ({ name: s.name, region: s.region!, ...(boundaries.has(s.name) ? { permissionsBoundary: boundaries.get(s.name)! } : {}) })) }
      : {}),
    ...(options.command?.length ? { commands: options.command } : {}),
    ...(options.package ? { packageDir: options.package } : {}),
  };
}

/**
 * The options of a plan's step call, read from its arguments as the command line reads them; or
 * undefined when they hold anything but the options of `step` written plainly (`--stage dev`):
 * such a call is left to the command line, which says what is wrong with it.
 */
export function stepOptionsOfCall(call: StepCall): StepOptions | undefined {
  if (call.args.length % 2 !== 0) {
    return undefined;
  }
  const values: Record<string, string[]> = {};
  for (let i = 0; i < call.args.length; i += 2) {
    const [flag, value] = [call.args[i]!, call.args[i + 1]!];
    if (!/^--(stage|region|package|permissions-boundary)$/.test(flag) || value.startsWith('-')) {
      return undefined;
    }
    (values[flag] ??= []).push(value);
  }
  // As the command line reads them: the last of an option given once, every one of a repeatable one.
  const last = (flag: string) => values[flag]?.at(-1);
  return {
    flavor: call.flavor,
    ...(values['--stage'] ? { stage: values['--stage'] } : {}),
    ...(last('--region') !== undefined ? { region: last('--region')! } : {}),
    ...(last('--package') !== undefined ? { package: last('--package')! } : {}),
    ...(values['--permissions-boundary'] ? { permissionsBoundary: values['--permissions-boundary'] } : {}),
    ...(call.commands.length ? { command: call.commands } : {}),
  };
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
