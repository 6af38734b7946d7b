/**
 * Where a template comes from: a template file, or a package folder (the Serverless
 * Framework's `osls package` output, or a CDK `cdk.out` with one stack), with what the
 * folder tells about the stack (its name, region and deployment bucket).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
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
  /** The stack name the package was made for (`<service>-<stage>`, `provider.stackName`, or the cloud assembly's), when known. */
  readonly stackName?: string;
  /** The region the package was made for, when known. */
  readonly region?: string;
  /** The account the stack is for (a cloud assembly's environment), when known. */
  readonly account?: string;
  /** The deployment bucket the package names (`provider.deploymentBucket`), when it names one. */
  readonly deploymentBucket?: string;
  /** The service name the package was made for (serverless.yml `service:`), when known. */
  readonly service?: string;
  /** The stage the package was made for, when known: with `service`, what `retargetStage` needs. */
  readonly stage?: string;
}

/** Options of `readTemplateInput`. */
export interface ReadTemplateInputOptions {
  /**
   * The environment to read, in a Package of several (`service-pipelines step package` output,
   * `stages/<env>/` under a `manifest.json`).
   *
   * @default - the Package's only environment
   */
  readonly stage?: string;
}

/** The manifest of a Package, as far as reading its templates needs. */
const PACKAGE_MANIFEST = 'manifest.json';
/** A cloud assembly's manifest (cdk synth output). */
const ASSEMBLY_MANIFEST = 'manifest.json';

/**
 * Read a template file, or the template of a package folder: `osls package` output, a Package
 * (`step package` output: one `stages/<env>/` per environment), or a cloud assembly (`cdk.out`).
 *
 * @throws InputError when the path does not exist, is not JSON, or the folder holds no (or several) templates.
 */
export async function readTemplateInput(path: string, options: ReadTemplateInputOptions = {}): Promise<TemplateInput> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new InputError(`the template was not found: ${path}`, [{ where: path, message: 'no such file or folder' }]);
  if (!info.isDirectory()) {
    const template = await readJson(path);
    // A packaged template named directly: its folder still tells the stack.
    const state = join(dirname(path), SERVERLESS_STATE_FILE);
    if (basename(path) === SERVERLESS_TEMPLATE_FILE && (await isFile(state))) return { file: path, template, ...serverlessStack(await readJson(state)) };
    const assembly = await assemblyStacks(dirname(path));
    const stack = assembly.find((s) => s.file === path);
    return { file: path, template, ...(stack ? stackOfAssembly(stack) : {}) };
  }

  const serverlessTemplate = join(path, SERVERLESS_TEMPLATE_FILE);
  if (await isFile(serverlessTemplate)) {
    const state = (await isFile(join(path, SERVERLESS_STATE_FILE))) ? await readJson(join(path, SERVERLESS_STATE_FILE)) : undefined;
    const template = await readJson(serverlessTemplate);
    return { file: serverlessTemplate, template, ...serverlessStack(state) };
  }
  const packaged = await packageStages(path);
  if (packaged) return readPackageStage(path, packaged, options.stage);

  const assembly = await assemblyStacks(path);
  if (assembly.length === 1) return { file: assembly[0]!.file, template: await readJson(assembly[0]!.file), ...stackOfAssembly(assembly[0]!) };
  const cdkTemplates = assembly.length ? assembly.map((s) => relative(path, s.file)) : (await readdir(path)).filter((name) => name.endsWith('.template.json')).sort();
  if (cdkTemplates.length === 1) {
    const file = join(path, cdkTemplates[0]!);
    return { file, template: await readJson(file), stackName: cdkTemplates[0]!.slice(0, -'.template.json'.length) };
  }
  throw new InputError(`no single CloudFormation template in ${path}`, [
    {
      where: path,
      message: cdkTemplates.length
        ? `several templates (${cdkTemplates.join(', ')}); give the one to infer from`
        : `expected ${SERVERLESS_TEMPLATE_FILE} (osls package output), ${PACKAGE_MANIFEST} with stages/<env>/ (step package output) or one *.template.json (cdk synth output)`,
    },
  ]);
}

/** The environments of a Package (`step package` output), or `undefined` for a folder that is not one. */
async function packageStages(folder: string): Promise<{ name: string; directory: string; stackName?: string; region?: string }[] | undefined> {
  const file = join(folder, PACKAGE_MANIFEST);
  if (!(await isFile(file))) return undefined;
  const manifest = await readJson(file);
  const stages = isRecord(manifest) && Array.isArray(manifest['stages']) ? manifest['stages'] : undefined;
  if (!stages) return undefined;
  return stages.filter(isRecord).flatMap((stage) =>
    typeof stage['name'] === 'string' && typeof stage['directory'] === 'string'
      ? [
          {
            name: stage['name'],
            directory: stage['directory'],
            ...(typeof stage['stackName'] === 'string' ? { stackName: stage['stackName'] } : {}),
            ...(typeof stage['region'] === 'string' ? { region: stage['region'] } : {}),
          },
        ]
      : [],
  );
}

/** One environment's template of a Package: the one asked for, else the only one. */
async function readPackageStage(folder: string, stages: { name: string; directory: string; stackName?: string; region?: string }[], wanted: string | undefined): Promise<TemplateInput> {
  const where = join(folder, PACKAGE_MANIFEST);
  const folders = stages.map((s) => join(folder, s.directory)).join(', ');
  const stage = wanted === undefined ? (stages.length === 1 ? stages[0] : undefined) : stages.find((s) => s.name === wanted);
  if (!stage) {
    throw new InputError(
      wanted === undefined ? `${folder} holds the package of ${stages.length} environments (${stages.map((s) => s.name).join(', ')})` : `${folder} holds no package for the environment "${wanted}"`,
      [{ where, message: stages.length ? `give the environment (--stage ${stages[0]!.name}) or its folder: ${folders}` : 'the manifest lists no environment: run `service-pipelines step package` again' }],
    );
  }
  const input = await readTemplateInput(join(folder, stage.directory));
  // The Package records what it was made for: the environment's name, stack and region.
  return { ...input, stage: stage.name, ...(stage.stackName ? { stackName: stage.stackName } : {}), ...(stage.region ? { region: stage.region } : {}) };
}

/** A stack of a cloud assembly. */
interface AssemblyStack {
  readonly file: string;
  readonly stackName: string;
  readonly environment?: string;
}

/** The stacks of a cloud assembly (and of its nested assemblies, the CDK's stages), from its manifest. */
async function assemblyStacks(folder: string): Promise<AssemblyStack[]> {
  const file = join(folder, ASSEMBLY_MANIFEST);
  if (!(await isFile(file))) return [];
  const manifest = await readJson(file);
  const artifacts = isRecord(manifest) && isRecord(manifest['artifacts']) ? manifest['artifacts'] : {};
  const stacks: AssemblyStack[] = [];
  for (const [id, artifact] of Object.entries(artifacts)) {
    if (!isRecord(artifact) || !isRecord(artifact['properties'])) continue;
    const properties = artifact['properties'];
    if (artifact['type'] === 'aws:cloudformation:stack' && typeof properties['templateFile'] === 'string') {
      stacks.push({
        file: join(folder, properties['templateFile']),
        stackName: typeof properties['stackName'] === 'string' ? properties['stackName'] : id,
        ...(typeof artifact['environment'] === 'string' ? { environment: artifact['environment'] } : {}),
      });
    } else if (artifact['type'] === 'cdk:cloud-assembly' && typeof properties['directoryName'] === 'string') {
      stacks.push(...(await assemblyStacks(join(folder, properties['directoryName']))));
    }
  }
  return stacks;
}

/** The stack name, account and region of a cloud assembly's stack (`aws://<account>/<region>`, unless left unknown). */
function stackOfAssembly(stack: AssemblyStack): Pick<TemplateInput, 'stackName' | 'account' | 'region'> {
  const [, account, region] = /^aws:\/\/([^/]+)\/(.+)$/.exec(stack.environment ?? '') ?? [];
  return {
    stackName: stack.stackName,
    ...(account && /^\d{12}$/.test(account) ? { account } : {}),
    ...(region && !region.startsWith('unknown-') ? { region } : {}),
  };
}

/**
 * The stack name, stage, region and deployment bucket of an osls package. The stage comes from
 * where osls puts the package in the bucket (`serverless/<service>/<stage>/...`): osls records
 * `provider.stage: dev` when serverless.yml sets none, whatever `--stage` it was given.
 */
function serverlessStack(state: unknown): Pick<TemplateInput, 'stackName' | 'region' | 'deploymentBucket' | 'service' | 'stage'> {
  const service = isRecord(state) && isRecord(state['service']) ? state['service'] : undefined;
  const provider = service && isRecord(service['provider']) ? service['provider'] : undefined;
  const name = typeof service?.['service'] === 'string' ? service['service'] : isRecord(service?.['service']) ? service['service']['name'] : undefined;
  const packaged = isRecord(state) && isRecord(state['package']) ? state['package']['artifactDirectoryName'] : undefined;
  const stage = (typeof name === 'string' && typeof packaged === 'string' ? stageOfArtifactDirectory(packaged, name) : undefined) ?? provider?.['stage'];
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

/** The stage in osls's `package.artifactDirectoryName` (`[<prefix>/]serverless/<service>/<stage>/<time>`). */
function stageOfArtifactDirectory(directory: string, service: string): string | undefined {
  const parts = directory.split('/');
  const at = parts.lastIndexOf(service);
  return at >= 0 && at + 2 < parts.length ? parts[at + 1] : undefined;
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
