/**
 * Where a template comes from: a template file, or a package folder (the Serverless
 * Framework's `osls package` output, or a CDK `cdk.out` with one stack), with what the
 * folder tells about the stack (its name, region and deployment bucket).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../model/errors.js';
import { isRecord } from './template.js';

/** The Serverless Framework's packaged template. */
export const SERVERLESS_TEMPLATE_FILE = 'cloudformation-template-update-stack.json';
/** The Serverless Framework's record of the packaged service. */
export const SERVERLESS_STATE_FILE = 'serverless-state.json';

/** A template read from disk, and what its folder says about the stack. */
export interface TemplateInput {
  /** The template file read. */
  readonly file: string;
  /** The template, parsed as JSON (its shape is checked by inference). */
  readonly template: unknown;
  /** The stack name the package was made for (`<service>-<stage>` or `provider.stackName`), when known. */
  readonly stackName?: string;
  /** The region the package was made for, when known. */
  readonly region?: string;
  /** The deployment bucket the package names (`provider.deploymentBucket`), when it names one. */
  readonly deploymentBucket?: string;
  /** The service name the package was made for (serverless.yml `service:`), when known. */
  readonly service?: string;
  /** The stage the package was made for, when known: with `service`, what `retargetStage` needs. */
  readonly stage?: string;
}

/**
 * Read a template file, or the template of a package folder.
 *
 * @throws InputError when the path does not exist, is not JSON, or the folder holds no (or several) templates.
 */
export async function readTemplateInput(path: string): Promise<TemplateInput> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new InputError(`the template was not found: ${path}`, [{ where: path, message: 'no such file or folder' }]);
  if (!info.isDirectory()) {
    const template = await readJson(path);
    // A packaged template named directly: its folder still tells the stack.
    const state = join(dirname(path), SERVERLESS_STATE_FILE);
    return basename(path) === SERVERLESS_TEMPLATE_FILE && (await isFile(state)) ? { file: path, template, ...serverlessStack(await readJson(state)) } : { file: path, template };
  }

  const serverlessTemplate = join(path, SERVERLESS_TEMPLATE_FILE);
  if (await isFile(serverlessTemplate)) {
    const state = (await isFile(join(path, SERVERLESS_STATE_FILE))) ? await readJson(join(path, SERVERLESS_STATE_FILE)) : undefined;
    return { file: serverlessTemplate, template: await readJson(serverlessTemplate), ...serverlessStack(state) };
  }
  const cdkTemplates = (await readdir(path)).filter((name) => name.endsWith('.template.json')).sort();
  if (cdkTemplates.length === 1) {
    const file = join(path, cdkTemplates[0]!);
    return { file, template: await readJson(file), stackName: cdkTemplates[0]!.slice(0, -'.template.json'.length) };
  }
  throw new InputError(`no single CloudFormation template in ${path}`, [
    {
      where: path,
      message: cdkTemplates.length
        ? `several templates (${cdkTemplates.join(', ')}); give the one to infer from`
        : `expected ${SERVERLESS_TEMPLATE_FILE} (osls package output) or one *.template.json (cdk synth output)`,
    },
  ]);
}

/** The stack name, region and deployment bucket recorded in `serverless-state.json`. */
function serverlessStack(state: unknown): Pick<TemplateInput, 'stackName' | 'region' | 'deploymentBucket' | 'service' | 'stage'> {
  const service = isRecord(state) && isRecord(state['service']) ? state['service'] : undefined;
  const provider = service && isRecord(service['provider']) ? service['provider'] : undefined;
  const name = typeof service?.['service'] === 'string' ? service['service'] : isRecord(service?.['service']) ? service['service']['name'] : undefined;
  const stage = provider?.['stage'];
  const bucket = provider?.['deploymentBucket'];
  const bucketName = typeof bucket === 'string' ? bucket : isRecord(bucket) && typeof bucket['name'] === 'string' ? bucket['name'] : undefined;
  const stackName = typeof provider?.['stackName'] === 'string' ? provider['stackName'] : typeof name === 'string' && typeof stage === 'string' ? `${name}-${stage}` : undefined;
  return {
    ...(stackName ? { stackName } : {}),
    ...(typeof provider?.['region'] === 'string' ? { region: provider['region'] } : {}),
    ...(bucketName ? { deploymentBucket: bucketName } : {}),
    ...(typeof name === 'string' ? { service: name } : {}),
    ...(typeof stage === 'string' ? { stage } : {}),
  };
}

async function readJson(file: string): Promise<unknown> {
  const text = await readFile(file, 'utf8');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InputError(`${file} is not JSON`, [{ where: file, message: `${(error as Error).message} (a template must be JSON; convert YAML templates first)` }]);
  }
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() ?? false;
}

/** Options of `retargetStage`. */
export interface RetargetStageOptions {
  /** The service name (serverless.yml `service:`). */
  readonly service: string;
  /** The stage the template was packaged for. */
  readonly from: string;
  /** The stage to infer the policy of. */
  readonly to: string;
}

/**
 * A Serverless Framework template packaged for one stage, as it would be for another: the
 * framework bakes the stage into names (`<service>-<stage>-<function>`, `<stage>-<service>`
 * for the API, `StageName: <stage>`), so one packaged template serves every environment's policy.
 */
export function retargetStage(template: unknown, options: RetargetStageOptions): unknown {
  const { service, from, to } = options;
  if (from === to) return template;
  const patterns: [string, string][] = [
    [`${service}-${from}`, `${service}-${to}`],
    [`${from}-${service}`, `${to}-${service}`],
  ];
  const rewrite = (value: unknown): unknown => {
    if (typeof value === 'string') {
      if (value === from) return to;
      return patterns.reduce((text, [a, b]) => text.split(a).join(b), value);
    }
    if (Array.isArray(value)) return value.map(rewrite);
    if (isRecord(value)) return Object.fromEntries(Object.entries(value).map(([key, child]) => [key, rewrite(child)]));
    return value;
  };
  return rewrite(template);
}
