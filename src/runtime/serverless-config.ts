/**
 * Reading a service's own serverless config (serverless.yml): the name it deploys under, read once
 * where the pipelines config is loaded, so that `plan`, `synth` and `run` see the real stack names
 * without the user repeating them in `pipelines.config.ts`.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import { InputError, type InputProblem } from '../model/errors.js';
import type { ValidConfig } from '../model/validate.js';

/** The config file names osls looks for, in its order. */
export const SERVERLESS_CONFIG_FILES = ['serverless.yml', 'serverless.yaml', 'serverless.json', 'serverless.js', 'serverless.cjs', 'serverless.mjs', 'serverless.ts'] as const;

/** The config file names this tool can read without running code (YAML and JSON). */
const READABLE = new Set(['.yml', '.yaml', '.json']);

/** A service's serverless config, parsed with the positions of its nodes. */
export interface ServerlessConfigDocument {
  /** The config file's absolute path. */
  readonly file: string;
  readonly document: Document.Parsed;
  readonly lines: LineCounter;
}

/**
 * The serverless config file of a folder, if it has one.
 *
 * @returns the file's absolute path, or undefined
 */
export async function findServerlessConfigFile(serviceDir: string): Promise<string | undefined> {
  for (const name of SERVERLESS_CONFIG_FILES) {
    const candidate = path.join(serviceDir, name);
    if (await readFile(candidate).then(() => true, () => false)) {
      return candidate;
    }
  }
  return undefined;
}

/**
 * Parse a YAML or JSON serverless config (CloudFormation tags such as `!Ref` are kept as they are).
 *
 * @returns undefined for a JS/TS config, which only osls can evaluate
 * @throws InputError when the file does not parse, naming its line and column
 */
export async function parseServerlessConfig(file: string): Promise<ServerlessConfigDocument | undefined> {
  if (!READABLE.has(path.extname(file))) {
    return undefined;
  }
  const lines = new LineCounter();
  const document = parseDocument(await readFile(file, 'utf8'), { lineCounter: lines, prettyErrors: true });
  if (document.errors.length > 0) {
    const error = document.errors[0]!;
    const [line, column] = error.linePos?.[0] ? [error.linePos[0].line, error.linePos[0].col] : [1, 1];
    throw new InputError(`the serverless config ${file} does not parse`, [{ where: `${file}:${line}:${column}`, message: error.message.split('\n')[0]! }]);
  }
  return { file, document, lines };
}

/** `file:line` of a node of the config (the key's line when the node has none), for messages. */
export function whereIn(config: ServerlessConfigDocument, keyPath: readonly (string | number)[]): string {
  let node: unknown = config.document.contents;
  let offset: number | undefined;
  for (const key of keyPath) {
    if (!isMap(node)) break;
    const pair = node.items.find((item) => isScalar(item.key) && item.key.value === key);
    if (!pair) break;
    offset = (pair.key as { range?: [number, number, number] }).range?.[0] ?? offset;
    node = pair.value;
  }
  return offset === undefined ? config.file : `${config.file}:${config.lines.linePos(offset).line}`;
}

/** A `${...}` variable that only osls resolves (`${opt:stage}`, `${env:NAME}`, `${self:...}`). */
function hasVariable(value: string): boolean {
  return value.includes('${');
}

/** serverless.yml's `service:` rules (the Serverless Framework's schema), and CloudFormation's limit of a stack name. */
const SERVICE_NAME = /^[a-zA-Z][a-zA-Z0-9-]*$/;

/** What `serverlessServiceOfConfig` found. */
export type ServiceNameReading = { readonly name: string } | { readonly problem: InputProblem };

/**
 * The name a serverless config deploys under: `service:` when it is a plain string (or the older
 * `service: { name }`), checked against what the pipelines can deploy.
 *
 * @param configKey the pipelines config key that can give the name instead (`services[0].serverlessService`)
 */
export function serverlessServiceOfConfig(config: ServerlessConfigDocument, configKey: string): ServiceNameReading {
  const raw: unknown = config.document.get('service');
  const value = isMap(raw) ? raw.get('name') : raw;
  const where = whereIn(config, ['service']);
  if (typeof value !== 'string' || value === '') {
    return { problem: { where, message: `\`service:\` is not a plain name: set ${configKey} in the pipelines config to the name it deploys under` } };
  }
  if (hasVariable(value)) {
    return {
      problem: {
        where,
        message: `\`service: ${value}\` is resolved by osls only: set ${configKey} in the pipelines config to the name it resolves to`,
      },
    };
  }
  if (!SERVICE_NAME.test(value) || value.length > 128) {
    return { problem: { where, message: `\`service: ${value}\` must start with a letter, hold only letters, digits and dashes, and be at most 128 characters` } };
  }
  const stackName: unknown = config.document.getIn(['provider', 'stackName']);
  if (stackName !== undefined && !isDefaultStackName(stackName, value)) {
    return {
      problem: {
        where: whereIn(config, ['provider', 'stackName']),
        message:
          `provider.stackName (${JSON.stringify(stackName)}) is not supported: the pipelines deploy each environment as the stack ` +
          `<service>-<environment> (${value}-<environment>), which the deployer roles are scoped to; remove provider.stackName`,
      },
    };
  }
  return { name: value };
}

/** Whether a `provider.stackName` is the Serverless Framework's own default, written out. */
function isDefaultStackName(stackName: unknown, service: string): boolean {
  if (typeof stackName !== 'string') return false;
  const stage = '\u0000stage\u0000';
  const resolved = stackName
    .replace(/\$\{self:service\}/g, service)
    .replace(/\$\{(sls:stage|self:provider\.stage|opt:stage(, *[^}]*)?)\}/g, stage);
  return resolved === `${service}-${stage}`;
}

/**
 * Complete a loaded config with the names its serverless services deploy under, read from each
 * service's serverless config at `source.path` (when it is at hand and readable). A
 * `serverlessService` given in the config wins; services of the `custom` flavor are left alone.
 *
 * @throws InputError when a service's name cannot be read (a variable, a custom stack name), naming the file and line
 */
export async function withServerlessServiceNames(config: ValidConfig, baseDir: string): Promise<ValidConfig> {
  const problems: InputProblem[] = [];
  const services = await Promise.all(
    config.services.map(async (service, index) => {
      if (service.serverlessService !== undefined || (service.flavor ?? 'serverless') !== 'serverless' || service.source.path === undefined) {
        return service;
      }
      const file = await findServerlessConfigFile(path.resolve(baseDir, service.source.path));
      const parsed = file ? await parseServerlessConfig(file) : undefined;
      if (!parsed) {
        return service;
      }
      const reading = serverlessServiceOfConfig(parsed, `services[${index}].serverlessService`);
      if ('problem' in reading) {
        problems.push(reading.problem);
        return service;
      }
      return reading.name === service.name ? service : { ...service, serverlessService: reading.name };
    }),
  );
  if (problems.length > 0) {
    throw new InputError(`the name a service deploys under cannot be read from its serverless config`, problems);
  }
  return { ...config, services };
}
