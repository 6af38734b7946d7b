/**
 * `service-pipelines synth`: the cloud assembly of a config (the `cdk.out` layout that
 * `cdk deploy --app cdk.out` reads) and `pipelines.plan.json`, written whole or not at all.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type * as cxapi from 'aws-cdk-lib/cx-api';
import { FailureError, InputError, ServicePipelinesError, type InputProblem } from '../model/errors.js';
import type { PlansDocument } from '../model/plan-schema.js';
import { createCicdApp, type CicdAppOptions } from './cicd-app.js';
import { rolesPerAccount, type AccountRoles } from './role-quota.js';

/** The file, next to the templates, that holds every plan the pipelines were built from. */
export const PLANS_FILE = 'pipelines.plan.json';

/** CloudFormation's limits on one stack. */
export const CLOUDFORMATION_LIMITS = {
  /** Resources per stack. */
  resources: 500,
  /** Bytes of a template uploaded through S3 (as CDK deploys templates over 51,200 bytes). */
  templateBytes: 1_000_000,
} as const;

/** Options of `synthesizeCicd`. */
export interface SynthesizeOptions extends Omit<CicdAppOptions, 'outdir'> {
  /** Where to write the cloud assembly; replaced as a whole when synthesis succeeds. */
  readonly outdir: string;
}

/** One synthesized stack. */
export interface SynthesizedStack {
  /** The CloudFormation stack name. */
  readonly stackName: string;
  /** The artifact id `cdk deploy` selects it by (with its stage path, e.g. `Cicd/...`). */
  readonly displayName: string;
  readonly account: string;
  readonly region: string;
  /** The template file, relative to the output folder. */
  readonly templateFile: string;
  /** How many resources it holds. */
  readonly resources: number;
  /** How many of them are IAM roles. */
  readonly roles: number;
  /** The template's size in bytes. */
  readonly bytes: number;
}

/** What `synthesizeCicd` wrote. */
export interface SynthesizeResult {
  /** The output folder (absolute). */
  readonly outdir: string;
  /** The plans file (absolute). */
  readonly plansFile: string;
  /** Every stack, the self-update pipeline's stage included. */
  readonly stacks: SynthesizedStack[];
  /** The plans. */
  readonly plans: PlansDocument;
  /** The IAM roles the stacks create in each account, against IAM's quota. */
  readonly rolesPerAccount: AccountRoles[];
}

/**
 * Synthesize the app of a plans document into `options.outdir`, with the plans beside the
 * templates (`pipelines.plan.json`). The assembly is first written next to it and checked against
 * CloudFormation's limits; only then does it replace the folder.
 *
 * @throws InputError when the output folder is not a cloud assembly, or a stack exceeds a limit
 * @throws FailureError when synthesis fails (a template validation finding, for one)
 */
export function synthesizeCicd(plans: PlansDocument, options: SynthesizeOptions): SynthesizeResult {
  const outdir = path.resolve(options.outdir);
  checkOutdir(outdir);
  const staging = `${outdir}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  try {
    const { app } = createCicdApp(plans, { ...options, outdir: staging });
    let assembly: cxapi.CloudAssembly;
    try {
      assembly = app.synth();
    } catch (error) {
      if (error instanceof ServicePipelinesError) throw error;
      throw new FailureError(`synthesis failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    const stacks = assembly.stacksRecursively.map((stack) => summarize(stack, staging));
    checkLimits(stacks);
    writeFileSync(path.join(staging, PLANS_FILE), `${JSON.stringify(plans, null, 2)}\n`);
    rmSync(outdir, { recursive: true, force: true });
    mkdirSync(path.dirname(outdir), { recursive: true });
    renameSync(staging, outdir);
    return { outdir, plansFile: path.join(outdir, PLANS_FILE), stacks, plans, rolesPerAccount: rolesPerAccount(stacks) };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Refuse to replace a folder that holds something other than a cloud assembly. */
function checkOutdir(outdir: string): void {
  if (!existsSync(outdir)) return;
  if (!statSync(outdir).isDirectory()) {
    throw new InputError(`cannot write the cloud assembly to ${outdir}`, [{ where: '--out', message: 'is a file; give a folder' }]);
  }
  const entries = readdirSync(outdir);
  if (entries.length > 0 && !entries.includes('manifest.json')) {
    throw new InputError(`will not replace ${outdir}`, [
      { where: '--out', message: 'the folder is not empty and holds no cloud assembly (no manifest.json); give an empty or new folder' },
    ]);
  }
}

function summarize(stack: cxapi.CloudFormationStackArtifact, root: string): SynthesizedStack {
  const file = path.join(stack.assembly.directory, stack.templateFile);
  const template = stack.template as { Resources?: Record<string, { Type?: string }> };
  return {
    stackName: stack.stackName,
    displayName: stack.hierarchicalId,
    account: stack.environment.account,
    region: stack.environment.region,
    templateFile: path.relative(root, file),
    resources: Object.keys(template.Resources ?? {}).length,
    roles: Object.values(template.Resources ?? {}).filter((r) => r.Type === 'AWS::IAM::Role').length,
    bytes: statSync(file).size,
  };
}

function checkLimits(stacks: readonly SynthesizedStack[]): void {
  const problems: InputProblem[] = [];
  for (const stack of stacks) {
    if (stack.resources > CLOUDFORMATION_LIMITS.resources) {
      problems.push({ where: `stack ${stack.stackName}`, message: `${stack.resources} resources; CloudFormation allows ${CLOUDFORMATION_LIMITS.resources} (lower servicesPerStack)` });
    }
    if (stack.bytes > CLOUDFORMATION_LIMITS.templateBytes) {
      problems.push({ where: `stack ${stack.stackName}`, message: `a template of ${stack.bytes} bytes; CloudFormation allows ${CLOUDFORMATION_LIMITS.templateBytes} (lower servicesPerStack)` });
    }
  }
  if (problems.length > 0) {
    throw new InputError('the synthesized stacks exceed CloudFormation limits; nothing was written', problems);
  }
}
