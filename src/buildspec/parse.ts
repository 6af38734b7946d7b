/**
 * Parse and validate a buildspec, reporting every problem at once with its place:
 * `buildspec.yml:14:5` for YAML text, the key path for a document built in code.
 */
import { isMap, isNode, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import { InputError, type InputProblem } from '../model/errors.js';
import { BUILDSPEC_PHASES, type Buildspec } from './types.js';
import { closest } from '../model/validate.js';

type PathSegment = string | number;
type Path = readonly PathSegment[];

/** Where a path of the document is, for error messages: `file:line:column`, or the file alone. */
type Locator = (path: Path, part: 'key' | 'value') => string;

/**
 * The largest buildspec read, in bytes (1 MiB). Real buildspecs are a few kilobytes; checking one
 * of this size takes about a third of a second, while a 57 MB one took 22 s and 750 MB of memory.
 */
export const BUILDSPEC_MAX_BYTES = 1024 * 1024;

/** How many aliases a buildspec's YAML may expand (the `yaml` library's guard against alias bombs). */
const MAX_ALIAS_COUNT = 1000;

/**
 * The problem of a buildspec whose size passes `BUILDSPEC_MAX_BYTES`, or undefined.
 *
 * @param bytes its size in bytes
 * @param file the name used in error messages
 */
export function buildspecSizeProblem(bytes: number, file: string): InputProblem | undefined {
  if (bytes <= BUILDSPEC_MAX_BYTES) {
    return undefined;
  }
  return {
    where: file,
    message:
      `the buildspec is ${bytes.toLocaleString('en-US')} bytes; a buildspec is at most ${BUILDSPEC_MAX_BYTES / 1024 / 1024} MiB ` +
      `(${BUILDSPEC_MAX_BYTES.toLocaleString('en-US')} bytes): commands that long belong in a script the buildspec runs`,
  };
}

/**
 * Parse buildspec YAML text and validate it.
 *
 * @param text the YAML
 * @param file the name used in error messages (`buildspec.yml`)
 * @throws InputError with one problem per mistake, each at `file:line:column`; for a buildspec over
 *   `BUILDSPEC_MAX_BYTES`, or YAML whose aliases expand past a thousand values (an alias bomb)
 */
export function parseBuildspec(text: string, file: string): Buildspec {
  const tooLarge = buildspecSizeProblem(Buffer.byteLength(text, 'utf8'), file);
  if (tooLarge) {
    throw new InputError(`${file} is too large`, [tooLarge]);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((error) => {
      const position = lineCounter.linePos(error.pos[0]);
      return { where: `${file}:${position.line}:${position.col}`, message: `invalid YAML: ${firstLine(error.message)}` };
    });
    throw new InputError(`${file} is not valid YAML`, problems);
  }
  const locate: Locator = (path, part) => {
    const offset = offsetOf(doc, path, part);
    if (offset === undefined) {
      return file;
    }
    const position = lineCounter.linePos(offset);
    return `${file}:${position.line}:${position.col}`;
  };
  let document: unknown;
  try {
    document = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    if (!(error instanceof ReferenceError)) {
      throw error;
    }
    // The yaml library refuses to expand an alias bomb ("Excessive alias count"); the problem is
    // placed at the smallest part of the document whose aliases expand too far on their own.
    const culprit = aliasBombAt(doc, doc.contents);
    const position = lineCounter.linePos(culprit?.range?.[0] ?? 0);
    throw new InputError(`${file} is not a valid buildspec (1 problem)`, [
      {
        where: `${file}:${position.line}:${position.col}`,
        message: `its aliases expand to too many values (more than ${MAX_ALIAS_COUNT}: an alias bomb?); write the values out instead of nesting aliases`,
      },
    ]);
  }
  return validate(document, file, locate);
}

/** The deepest node of `node` whose own conversion to data expands too many aliases. */
function aliasBombAt(doc: Document, node: unknown): YamlNode | undefined {
  if (!isNode(node) || !expandsTooFar(doc, node)) {
    return undefined;
  }
  const children: unknown[] = isMap(node) ? node.items.map((pair) => pair.value) : isSeq(node) ? node.items : [];
  for (const child of children) {
    const deeper = aliasBombAt(doc, child);
    if (deeper) {
      return deeper;
    }
  }
  return node;
}

function expandsTooFar(doc: Document, node: YamlNode): boolean {
  try {
    node.toJS(doc, { maxAliasCount: MAX_ALIAS_COUNT });
    return false;
  } catch (error) {
    return error instanceof ReferenceError;
  }
}

/**
 * Validate a buildspec given as data (e.g. one an engine built from a plan action).
 *
 * @param document the parsed buildspec
 * @param file the name used in error messages
 * @throws InputError with one problem per mistake, each named by its key path
 */
export function validateBuildspec(document: unknown, file: string): Buildspec {
  return validate(document, file, () => file);
}

function validate(document: unknown, file: string, locate: Locator): Buildspec {
  const checker = new Checker(locate);
  const result = checker.buildspec(document);
  if (checker.problems.length > 0 || result === undefined) {
    const count = checker.problems.length;
    throw new InputError(`${file} is not a valid buildspec (${count} problem${count === 1 ? '' : 's'})`, checker.problems);
  }
  return result;
}

const TOP_KEYS = ['version', 'run-as', 'env', 'proxy', 'batch', 'phases', 'reports', 'artifacts', 'cache'];
const ENV_KEYS = ['shell', 'variables', 'parameter-store', 'secrets-manager', 'exported-variables', 'git-credential-helper'];
const PHASE_KEYS = ['run-as', 'on-failure', 'runtime-versions', 'commands', 'finally'];
const ARTIFACT_KEYS = ['files', 'name', 'base-directory', 'discard-paths', 'exclude-paths', 'enable-symlinks', 's3-prefix'];
const REPORT_KEYS = ['files', 'base-directory', 'discard-paths', 'file-format'];
const CACHE_KEYS = ['paths', 'key', 'fallback-keys', 'action'];
const PROXY_KEYS = ['upload-artifacts', 'logs'];
const SHELLS = ['bash', 'sh', '/bin/sh', '/bin/bash'];
const WINDOWS_SHELLS = ['powershell.exe', 'cmd.exe', 'pwsh.exe', 'pwsh'];
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ARTIFACT_IDENTIFIER = /^[A-Za-z0-9_]+$/;

type Json = Record<string, unknown>;

/** Walks the document, collecting problems and building the typed, normalized buildspec. */
class Checker {
  readonly problems: InputProblem[] = [];

  constructor(private readonly locate: Locator) {}

  buildspec(value: unknown): Buildspec | undefined {
    const root = this.map(value, [], 'the buildspec');
    if (!root) {
      return undefined;
    }
    this.knownKeys(root, [], TOP_KEYS);
    const out: Record<string, unknown> = {};
    if (!('version' in root)) {
      this.problem([], 'value', 'version is missing: a buildspec starts with "version: 0.2"');
    } else if (root.version !== 0.2 && root.version !== '0.2') {
      const hint = root.version === 0.1 || root.version === '0.1' ? ' (0.1 runs each command in a shell of its own and is not supported)' : '';
      this.problem(['version'], 'value', `version ${JSON.stringify(root.version)} is not supported: use 0.2${hint}`);
    }
    out.version = 0.2;
    if ('run-as' in root) {
      out['run-as'] = this.string(root['run-as'], ['run-as']);
    }
    if ('env' in root) {
      out.env = this.env(root.env, ['env']);
    }
    if ('proxy' in root) {
      out.proxy = this.flags(root.proxy, ['proxy'], PROXY_KEYS);
    }
    if ('batch' in root) {
      out.batch = this.map(root.batch, ['batch'], 'batch');
    }
    if (!('phases' in root)) {
      this.problem([], 'value', 'phases is missing: a buildspec needs at least one phase (install, pre_build, build, post_build)');
    } else {
      out.phases = this.phases(root.phases, ['phases']);
    }
    if ('reports' in root) {
      out.reports = this.reports(root.reports, ['reports']);
    }
    if ('artifacts' in root) {
      out.artifacts = this.artifacts(root.artifacts, ['artifacts']);
    }
    if ('cache' in root) {
      out.cache = this.cache(root.cache, ['cache']);
    }
    return out as unknown as Buildspec;
  }

  private env(value: unknown, path: Path): Json | undefined {
    const env = this.map(value, path, 'env');
    if (!env) {
      return undefined;
    }
    this.knownKeys(env, path, ENV_KEYS);
    const out: Json = {};
    if ('shell' in env) {
      const shell = this.string(env.shell, [...path, 'shell']);
      if (shell !== undefined) {
        if (WINDOWS_SHELLS.includes(shell)) {
          this.problem([...path, 'shell'], 'value', `env.shell "${shell}" is a Windows shell; this machine runs Linux shells: ${SHELLS.join(', ')}`);
        } else if (!SHELLS.includes(shell)) {
          this.problem([...path, 'shell'], 'value', `env.shell must be one of ${SHELLS.join(', ')}${suggest(shell, SHELLS)}`);
        }
        out.shell = shell;
      }
    }
    for (const key of ['variables', 'parameter-store', 'secrets-manager'] as const) {
      if (key in env) {
        out[key] = this.variables(env[key], [...path, key], `env.${key}`);
      }
    }
    if ('exported-variables' in env) {
      const names = this.stringList(env['exported-variables'], [...path, 'exported-variables']);
      names?.forEach((name, index) => {
        if (!VARIABLE_NAME.test(name)) {
          this.problem([...path, 'exported-variables', index], 'value', `env.exported-variables[${index}] "${name}" is not a variable name`);
        }
      });
      out['exported-variables'] = names;
    }
    if ('git-credential-helper' in env) {
      out['git-credential-helper'] = this.flag(env['git-credential-helper'], [...path, 'git-credential-helper']);
    }
    return out;
  }

  private variables(value: unknown, path: Path, what: string): Record<string, string> | undefined {
    const map = this.map(value, path, what);
    if (!map) {
      return undefined;
    }
    const out: Record<string, string> = {};
    for (const [name, raw] of Object.entries(map)) {
      if (!VARIABLE_NAME.test(name)) {
        this.problem([...path, name], 'key', `${what}: "${name}" is not a variable name (letters, digits and _, not starting with a digit)`);
      } else if (name.startsWith('CODEBUILD_')) {
        this.problem([...path, name], 'key', `${what}: ${name}: the CODEBUILD_ prefix is reserved for CodeBuild's own variables`);
      }
      // YAML reads `PORT: 8080` as a number; CodeBuild takes scalars as their text.
      if (typeof raw === 'string' || typeof raw === 'number' || typeof raw === 'boolean') {
        out[name] = String(raw);
      } else {
        this.problem([...path, name], 'value', `${what}.${name} must be a string, not ${describe(raw)}`);
      }
    }
    return out;
  }

  private phases(value: unknown, path: Path): Json | undefined {
    const phases = this.map(value, path, 'phases');
    if (!phases) {
      return undefined;
    }
    this.knownKeys(phases, path, [...BUILDSPEC_PHASES], 'phase');
    const out: Json = {};
    for (const name of BUILDSPEC_PHASES) {
      if (name in phases) {
        out[name] = this.phase(phases[name], [...path, name], name);
      }
    }
    return out;
  }

  private phase(value: unknown, path: Path, name: string): Json | undefined {
    if (value === null) {
      // `build:` with nothing under it: an empty phase, as CodeBuild reads it.
      return {};
    }
    const phase = this.map(value, path, `phases.${name}`);
    if (!phase) {
      return undefined;
    }
    this.knownKeys(phase, path, name === 'install' ? PHASE_KEYS : PHASE_KEYS.filter((k) => k !== 'runtime-versions'));
    const out: Json = {};
    for (const block of ['commands', 'finally'] as const) {
      if (block in phase) {
        out[block] = this.commands(phase[block], [...path, block], `phases.${name}.${block}`);
      }
    }
    if ('on-failure' in phase) {
      const onFailure = this.string(phase['on-failure'], [...path, 'on-failure']);
      if (onFailure !== undefined && onFailure !== 'ABORT' && onFailure !== 'CONTINUE') {
        const retry = onFailure.startsWith('RETRY') ? ' (RETRY is not supported on this machine)' : '';
        this.problem([...path, 'on-failure'], 'value', `phases.${name}.on-failure must be ABORT or CONTINUE${retry}${suggest(onFailure, ['ABORT', 'CONTINUE'])}`);
      }
      out['on-failure'] = onFailure;
    }
    if ('run-as' in phase) {
      out['run-as'] = this.string(phase['run-as'], [...path, 'run-as']);
    }
    if ('runtime-versions' in phase) {
      out['runtime-versions'] = this.variables(phase['runtime-versions'], [...path, 'runtime-versions'], `phases.${name}.runtime-versions`);
    }
    return out;
  }

  private commands(value: unknown, path: Path, what: string): string[] | undefined {
    if (!Array.isArray(value)) {
      this.problem(path, 'value', `${what} must be a list of commands, not ${describe(value)}`);
      return undefined;
    }
    const out: string[] = [];
    value.forEach((command: unknown, index) => {
      if (typeof command === 'string') {
        out.push(command);
      } else if (typeof command === 'boolean' || typeof command === 'number') {
        // `- true`, `- false` are commands YAML reads as booleans; their text is the command.
        out.push(String(command));
      } else if (command !== null && typeof command === 'object' && !Array.isArray(command)) {
        this.problem([...path, index], 'value', `${what}[${index}] must be a string, not a map: quote the command (YAML reads "key: value" in it as a map)`);
      } else {
        this.problem([...path, index], 'value', `${what}[${index}] must be a string, not ${describe(command)}: quote it`);
      }
    });
    return out;
  }

  private artifacts(value: unknown, path: Path): Json | undefined {
    const artifacts = this.map(value, path, 'artifacts');
    if (!artifacts) {
      return undefined;
    }
    this.knownKeys(artifacts, path, [...ARTIFACT_KEYS, 'secondary-artifacts']);
    const out = this.artifact(artifacts, path, 'artifacts', 'secondary-artifacts' in artifacts);
    if ('secondary-artifacts' in artifacts) {
      const secondaryPath = [...path, 'secondary-artifacts'];
      const secondary = this.map(artifacts['secondary-artifacts'], secondaryPath, 'artifacts.secondary-artifacts');
      if (secondary) {
        const outSecondary: Json = {};
        for (const [id, definition] of Object.entries(secondary)) {
          if (!ARTIFACT_IDENTIFIER.test(id)) {
            this.problem([...secondaryPath, id], 'key', `artifacts.secondary-artifacts: "${id}" is not an artifact identifier (letters, digits and _)`);
          }
          const definitionMap = this.map(definition, [...secondaryPath, id], `artifacts.secondary-artifacts.${id}`);
          if (definitionMap) {
            this.knownKeys(definitionMap, [...secondaryPath, id], ARTIFACT_KEYS);
            outSecondary[id] = this.artifact(definitionMap, [...secondaryPath, id], `artifacts.secondary-artifacts.${id}`, false);
          }
        }
        out['secondary-artifacts'] = outSecondary;
      }
    }
    return out;
  }

  private artifact(artifact: Json, path: Path, what: string, filesOptional: boolean): Json {
    const out: Json = {};
    if ('files' in artifact) {
      out.files = this.stringList(artifact.files, [...path, 'files']);
    } else if (!filesOptional) {
      // The AWS documentation calls `files` required even beside secondary artifacts; CodeBuild
      // accepts a primary artifact without it when secondary ones are declared, and so do we.
      this.problem(path, 'value', `${what}.files is missing: list the files of the artifact ('**/*' for all)`);
    }
    for (const key of ['name', 'base-directory', 's3-prefix'] as const) {
      if (key in artifact) {
        out[key] = this.string(artifact[key], [...path, key]);
      }
    }
    for (const key of ['discard-paths', 'enable-symlinks'] as const) {
      if (key in artifact) {
        out[key] = this.flag(artifact[key], [...path, key]);
      }
    }
    if ('exclude-paths' in artifact) {
      // A single pattern is accepted as well as a list.
      const raw = artifact['exclude-paths'];
      out['exclude-paths'] = typeof raw === 'string' ? [raw] : this.stringList(raw, [...path, 'exclude-paths']);
    }
    return out;
  }

  private reports(value: unknown, path: Path): Json | undefined {
    const reports = this.map(value, path, 'reports');
    if (!reports) {
      return undefined;
    }
    const out: Json = {};
    for (const [group, definition] of Object.entries(reports)) {
      const report = this.map(definition, [...path, group], `reports.${group}`);
      if (!report) {
        continue;
      }
      this.knownKeys(report, [...path, group], REPORT_KEYS);
      const outReport: Json = {};
      if ('files' in report) {
        outReport.files = this.stringList(report.files, [...path, group, 'files']);
      } else {
        this.problem([...path, group], 'value', `reports.${group}.files is missing`);
      }
      for (const key of ['base-directory', 'file-format'] as const) {
        if (key in report) {
          outReport[key] = this.string(report[key], [...path, group, key]);
        }
      }
      if ('discard-paths' in report) {
        outReport['discard-paths'] = this.flag(report['discard-paths'], [...path, group, 'discard-paths']);
      }
      out[group] = outReport;
    }
    return out;
  }

  private cache(value: unknown, path: Path): Json | undefined {
    const cache = this.map(value, path, 'cache');
    if (!cache) {
      return undefined;
    }
    this.knownKeys(cache, path, CACHE_KEYS);
    const out: Json = {};
    for (const key of ['paths', 'fallback-keys'] as const) {
      if (key in cache) {
        out[key] = this.stringList(cache[key], [...path, key]);
      }
    }
    if ('key' in cache) {
      out.key = this.string(cache.key, [...path, 'key']);
    }
    if ('action' in cache) {
      const action = this.string(cache.action, [...path, 'action']);
      if (action !== undefined && action !== 'restore' && action !== 'save') {
        this.problem([...path, 'action'], 'value', `cache.action must be restore or save${suggest(action, ['restore', 'save'])}`);
      }
      out.action = action;
    }
    return out;
  }

  private flags(value: unknown, path: Path, keys: readonly string[]): Json | undefined {
    const map = this.map(value, path, pathText(path));
    if (!map) {
      return undefined;
    }
    this.knownKeys(map, path, keys);
    const out: Json = {};
    for (const key of keys) {
      if (key in map) {
        out[key] = this.flag(map[key], [...path, key]);
      }
    }
    return out;
  }

  private map(value: unknown, path: Path, what: string): Json | undefined {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      this.problem(path, 'value', `${what} must be a map, not ${describe(value)}`);
      return undefined;
    }
    return value as Json;
  }

  private string(value: unknown, path: Path): string | undefined {
    if (typeof value === 'string') {
      return value;
    }
    if (typeof value === 'number') {
      return String(value);
    }
    this.problem(path, 'value', `${pathText(path)} must be a string, not ${describe(value)}`);
    return undefined;
  }

  private stringList(value: unknown, path: Path): string[] | undefined {
    if (!Array.isArray(value)) {
      this.problem(path, 'value', `${pathText(path)} must be a list, not ${describe(value)}`);
      return undefined;
    }
    const out: string[] = [];
    value.forEach((item: unknown, index) => {
      if (typeof item === 'string') {
        out.push(item);
      } else {
        this.problem([...path, index], 'value', `${pathText(path)}[${index}] must be a string, not ${describe(item)}`);
      }
    });
    return out;
  }

  private flag(value: unknown, path: Path): boolean | undefined {
    if (typeof value === 'boolean') {
      return value;
    }
    if (value === 'yes' || value === 'no') {
      return value === 'yes';
    }
    this.problem(path, 'value', `${pathText(path)} must be yes or no, not ${describe(value)}`);
    return undefined;
  }

  private knownKeys(map: Json, path: Path, known: readonly string[], noun = 'key'): void {
    for (const key of Object.keys(map)) {
      if (!known.includes(key)) {
        const where = path.length ? `${pathText(path)}: ` : '';
        this.problem([...path, key], 'key', `${where}unknown ${noun} "${key}"${suggest(key, known)}; known: ${known.join(', ')}`);
      }
    }
  }

  private problem(path: Path, part: 'key' | 'value', message: string): void {
    this.problems.push({ where: this.locate(path, part), message });
  }
}

/** `phases.build.commands[2]` */
function pathText(path: Path): string {
  return path.map((segment, index) => (typeof segment === 'number' ? `[${segment}]` : index === 0 ? segment : `.${segment}`)).join('');
}

function describe(value: unknown): string {
  if (value === null || value === undefined) {
    return 'empty';
  }
  if (Array.isArray(value)) {
    return 'a list';
  }
  if (typeof value === 'object') {
    return 'a map';
  }
  if (typeof value === 'string') {
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
  }
  return `${typeof value === 'number' ? 'the number' : 'the value'} ${String(value)}`;
}

/** ` (did you mean "pre_build"?)` when a known word is close. */
export function suggest(word: string, known: readonly string[]): string {
  const near = closest(word, known);
  if (near !== undefined) {
    return ` (did you mean "${near}"?)`;
  }
  // `enviroment` for `env`: a known key that starts the word is what was meant, most likely.
  const prefix = known.find((candidate) => candidate.length >= 3 && word.toLowerCase().startsWith(candidate.toLowerCase()));
  return prefix !== undefined ? ` (did you mean "${prefix}"?)` : '';
}

function firstLine(text: string): string {
  return text.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

/** The source offset of a key or value at `path`, walking the YAML tree. */
function offsetOf(doc: Document, path: Path, part: 'key' | 'value'): number | undefined {
  let node: unknown = doc.contents;
  let keyNode: YamlNode | undefined;
  for (const segment of path) {
    keyNode = undefined;
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment));
      if (!pair) {
        return rangeStart(node);
      }
      keyNode = pair.key as YamlNode;
      node = pair.value ?? undefined;
      if (node === undefined) {
        return part === 'key' ? rangeStart(keyNode) : rangeEnd(keyNode);
      }
    } else if (isSeq(node) && typeof segment === 'number') {
      node = node.items[segment];
    } else {
      return rangeStart(node);
    }
  }
  if (part === 'key' && keyNode) {
    return rangeStart(keyNode);
  }
  return rangeStart(node);
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as { range?: [number, number, number] } | undefined)?.range;
  return range?.[0];
}

function rangeEnd(node: unknown): number | undefined {
  const range = (node as { range?: [number, number, number] } | undefined)?.range;
  return range?.[1];
}
