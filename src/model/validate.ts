/**
 * Validation of a loaded configuration: every problem at once, each with its path.
 */
import nodePath from 'node:path';
import type { z } from 'zod';
import { configSchema, crossFieldProblems } from './config.js';
import { InputError, type InputProblem } from './errors.js';
import { repositoryFolderOf } from './plan.js';
import { isPattern } from './trigger-paths.js';

/** A configuration that passed validation. */
export type ValidConfig = z.output<typeof configSchema>;

/** What is at a path on this machine. */
export type PathKind = 'folder' | 'file' | undefined;

/** Options of `validateConfig`. */
export interface ValidateConfigOptions {
  /** The folder the config's relative paths are resolved against (the config file's). @default - no check of the folders */
  readonly baseDir?: string;
  /**
   * What is at an absolute path: with `baseDir`, the folders a monorepo service names
   * (`source.path`, `dependsOn`) are checked against the clone on this machine.
   *
   * @default - no check of the folders
   */
  readonly pathKind?: (absolute: string) => PathKind;
}

/**
 * Validate a configuration object.
 *
 * @param value what the config file exported
 * @param origin where it came from, for the error's summary (a file path)
 * @throws InputError listing every problem by path (`environments[1].account: required ...`)
 */
export function validateConfig(value: unknown, origin = 'config', options: ValidateConfigOptions = {}): ValidConfig {
  const result = configSchema.safeParse(value);
  const crossField = crossFieldProblems(value).map((p) => ({ where: formatPath(p.path), message: p.message }));
  const local = result.success && options.baseDir !== undefined && options.pathKind ? localSourceProblems(result.data, options.baseDir, options.pathKind) : [];
  if (result.success && crossField.length === 0 && local.length === 0) {
    return result.data;
  }
  const problems = [...(result.success ? [] : result.error.issues.flatMap((issue) => describeIssue(issue, value))), ...crossField, ...local];
  throw new InputError(`${origin}: ${problems.length} problem${problems.length === 1 ? '' : 's'} in the configuration`, problems);
}

/**
 * The folders a service of a monorepo names, against the clone on this machine: `source.path` is
 * the repository's `source.directory` there, and each `dependsOn` path exists in that clone (a
 * typo would leave the pipeline deaf to the changes it was meant to follow). Where the clone is
 * not on this machine (the CI of another repository synthesizing), there is nothing to check.
 */
function localSourceProblems(config: ValidConfig, baseDir: string, pathKind: (absolute: string) => PathKind): InputProblem[] {
  const problems: InputProblem[] = [];
  config.services.forEach((service, index) => {
    const { path: local, directory = '.', dependsOn = [] } = service.source;
    if (local === undefined || directory === '.') {
      return;
    }
    const where = `services[${index}].source`;
    const folder = nodePath.resolve(baseDir, local);
    const root = repositoryFolderOf(folder, directory);
    if (root === undefined) {
      problems.push({
        where: `${where}.path`,
        message: `${folder} is not the folder ${directory} of a clone: with source.directory, source.path names the service's folder in a clone of the repository (…/${directory})`,
      });
      return;
    }
    if (pathKind(root) !== 'folder') {
      // The clone is not on this machine (a synth in the CI of another repository): nothing to check against.
      return;
    }
    if (pathKind(folder) !== 'folder') {
      problems.push({ where: `${where}.directory`, message: `no folder ${directory} in the clone at ${root} (source.path ${local}): check the directory's spelling` });
      return;
    }
    dependsOn.forEach((entry, entryIndex) => {
      const problem = dependencyOnDisk(root, entry, pathKind);
      if (problem) problems.push({ where: `${where}.dependsOn[${entryIndex}]`, message: problem });
    });
  });
  return problems;
}

/** Whether a `dependsOn` entry names what is in the clone: a file, a folder with a trailing slash, or a pattern below a folder that is there. */
function dependencyOnDisk(root: string, entry: string, pathKind: (absolute: string) => PathKind): string | undefined {
  const folderEntry = entry.endsWith('/');
  const literal = isPattern(entry) ? entry.split('/').slice(0, entry.split('/').findIndex((s) => s.includes('*'))).join('/') : entry.replace(/\/$/, '');
  if (literal === '') {
    return undefined;
  }
  const kind = pathKind(nodePath.join(root, literal));
  if (kind === undefined) {
    return `nothing at ${literal} in the clone at ${root}: check its spelling`;
  }
  if (kind === 'folder' && !folderEntry && !isPattern(entry)) {
    return `${entry} is a folder: write "${entry}/" (or "${entry}/**") for the changes below it; a path without a slash names one file`;
  }
  if (kind === 'file' && (folderEntry || isPattern(entry))) {
    return `${literal} is a file, not a folder`;
  }
  return undefined;
}

/** Format a path the way a reader of the config writes it: `services[1].source.github`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') {
      out += `[${key}]`;
    } else {
      out += out ? `.${String(key)}` : String(key);
    }
  }
  return out || '(root)';
}

function describeIssue(issue: z.core.$ZodIssue, input: unknown): InputProblem[] {
  const where = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeysAt(issue.path);
    return issue.keys.map((key) => {
      const suggestion = closest(key, known);
      return {
        where: formatPath([...issue.path, key]),
        message: `unknown key${suggestion ? `; did you mean "${suggestion}"?` : known.length ? `; allowed here: ${known.join(', ')}` : ''}`,
      };
    });
  }
  if (issue.code === 'invalid_type' && valueAt(input, issue.path) === undefined) {
    return [{ where, message: issue.message.startsWith('required') ? issue.message : `required (${describeExpected(issue.expected)})` }];
  }
  if (issue.code === 'invalid_type') {
    return [{ where, message: `must be ${describeExpected(issue.expected)}, not ${describeValue(valueAt(input, issue.path))}` }];
  }
  if (issue.code === 'invalid_value') {
    return [{ where, message: `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}; got ${JSON.stringify(valueAt(input, issue.path))}` }];
  }
  if (issue.code === 'invalid_union') {
    return [{ where, message: `has the wrong shape (${describeValue(valueAt(input, issue.path))}); see the config reference for what it accepts` }];
  }
  return [{ where, message: issue.message }];
}

function describeExpected(expected: string): string {
  switch (expected) {
    case 'object':
      return 'an object';
    case 'array':
      return 'a list';
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'true or false';
    default:
      return expected;
  }
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = input;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** The keys the schema allows at a path, for "did you mean". */
function knownKeysAt(path: readonly PropertyKey[]): string[] {
  let schema: z.core.$ZodType | undefined = configSchema;
  for (const key of path) {
    schema = schema && unwrap(schema);
    if (!schema) return [];
    const def: z.core.$ZodTypeDef = schema._zod.def;
    if (def.type === 'array' && typeof key === 'number') {
      schema = (def as z.core.$ZodArrayDef).element;
    } else if (def.type === 'object' && typeof key === 'string') {
      schema = (def as z.core.$ZodObjectDef).shape[key];
    } else {
      return [];
    }
  }
  schema = schema && unwrap(schema);
  if (schema?._zod.def.type === 'object') {
    return Object.keys((schema._zod.def as z.core.$ZodObjectDef).shape);
  }
  return [];
}

/** Look through optional, refinements and unions of an object with other shapes. */
function unwrap(schema: z.core.$ZodType): z.core.$ZodType | undefined {
  let current: z.core.$ZodType | undefined = schema;
  for (let depth = 0; current && depth < 10; depth++) {
    const def: z.core.$ZodTypeDef = current._zod.def;
    if (def.type === 'optional' || def.type === 'nullable' || def.type === 'default') {
      current = (def as z.core.$ZodOptionalDef).innerType;
    } else if (def.type === 'pipe') {
      current = (def as z.core.$ZodPipeDef).in;
    } else if (def.type === 'union') {
      current = (def as z.core.$ZodUnionDef).options.find((o) => o._zod.def.type === 'object' || o._zod.def.type === 'array');
    } else {
      return current;
    }
  }
  return current;
}

/** The known key nearest to a misspelled one, if it is near enough to be a typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const tolerance = Math.max(2, Math.floor(word.length / 3));
  return bestDistance <= tolerance ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = previous[0]!;
    previous[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = previous[j]!;
      previous[j] = Math.min(above + 1, previous[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return previous[b.length]!;
}
