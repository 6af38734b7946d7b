/**
 * Loading `pipelines.config.ts` (or .mts/.js/.mjs/.json): no build step for the user.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { InputError, type InputProblem } from '../model/errors.js';
import { validateConfig, type ValidConfig } from '../model/validate.js';
import { pathKindOnDisk } from './path-kind.js';
import { withServerlessServiceNames } from './serverless-config.js';

/** The default config file, in the current folder. */
export const DEFAULT_CONFIG_FILE = 'pipelines.config.ts';

/** A validated config and where it came from. */
export interface LoadedConfig {
  readonly config: ValidConfig;
  /** The config file's absolute path. */
  readonly file: string;
  /** The folder relative paths in the config (`source.path`, `deployPermissions.infer`) are resolved against. */
  readonly baseDir: string;
}

/**
 * Load and validate a config file. A TypeScript file is compiled on the fly; its default
 * export may come from `defineConfig({...})`, be a plain object, or a function (async or not)
 * returning one.
 *
 * Loading runs the user's code: whatever it throws (at its top level, in its default-export
 * function, in a getter) and a call of `process.exit` while it loads become an InputError naming
 * the file and, for a getter, the key, so that the CLI ends with exit code 2 and nothing written.
 *
 * @throws InputError when the file is missing, does not load, or holds an invalid config
 */
export async function loadConfig(file: string = DEFAULT_CONFIG_FILE, cwd: string = process.cwd()): Promise<LoadedConfig> {
  const absolute = path.resolve(cwd, file);
  if (!existsSync(absolute)) {
    throw new InputError(`config file not found: ${absolute}`, [
      { where: '--config', message: `no file at ${file} (give --config <file>, or run where ${DEFAULT_CONFIG_FILE} is)` },
    ]);
  }
  const cannotLoad = (message: string, cause?: unknown) =>
    new InputError(`could not load the config file ${absolute}`, [{ where: file, message }], cause === undefined ? undefined : { cause });
  const exits = new ExitInterceptor();
  const exitCalled = () =>
    cannotLoad(`it called process.exit(${exits.code ?? ''}) while loading; a config only describes the pipelines: throw an Error to refuse to load`);
  let exported: unknown;
  try {
    exported = await exits.during(async () => {
      let value: unknown;
      try {
        value = await importDefault(absolute);
      } catch (error) {
        throw cannotLoad(firstLine(error), error);
      }
      if (typeof value === 'function') {
        try {
          value = await (value as () => unknown)();
        } catch (error) {
          throw cannotLoad(`its default export (a function) threw: ${firstLine(error)}`, error);
        }
      }
      return value;
    });
  } catch (error) {
    // What process.exit threw, or anything thrown after it, is reported as the call it was.
    throw exits.called ? exitCalled() : error;
  }
  if (exits.called) {
    // The config caught what process.exit threw and went on: it is refused all the same.
    throw exitCalled();
  }
  if (exported === undefined || exported === null) {
    throw new InputError(`${absolute} has no default export`, [
      { where: file, message: 'export the configuration: `export default defineConfig({ ... })`' },
    ]);
  }
  const problems: InputProblem[] = [];
  const data = plainData(exported, '', problems, new Set());
  if (problems.length) {
    throw new InputError(`could not read the config in ${absolute}`, problems);
  }
  const baseDir = path.dirname(absolute);
  return { config: await withServerlessServiceNames(validateConfig(data, absolute, { baseDir, pathKind: pathKindOnDisk }), baseDir), file: absolute, baseDir };
}

async function importDefault(absolute: string): Promise<unknown> {
  if (absolute.endsWith('.json')) {
    return JSON.parse(readFileSync(absolute, 'utf8'));
  }
  const { createJiti } = await import('jiti');
  const jiti = createJiti(pathToFileURL(absolute).href, { moduleCache: false, fsCache: false, interopDefault: false });
  const module = await jiti.import<Record<string, unknown>>(absolute);
  return module && typeof module === 'object' && 'default' in module ? module.default : undefined;
}

/** The error `process.exit` throws while a config loads, so that the user's code stops there. */
class ConfigExitError extends Error {
  constructor(readonly code: string | number | null | undefined) {
    super(`process.exit(${code ?? ''}) called while the config was loading`);
  }
}

/**
 * Replaces `process.exit` while the user's config runs: a config that calls it must not end the
 * CLI (silently, with its own exit code). Loads at the same time share one replacement, and each
 * of them learns of a call made while it ran.
 */
class ExitInterceptor {
  private static readonly active = new Set<ExitInterceptor>();
  private static original: typeof process.exit | undefined;
  called = false;
  code: string | number | null | undefined;

  async during<T>(task: () => Promise<T>): Promise<T> {
    if (ExitInterceptor.active.size === 0) {
      ExitInterceptor.swap();
    }
    ExitInterceptor.active.add(this);
    try {
      return await task();
    } finally {
      ExitInterceptor.active.delete(this);
      if (ExitInterceptor.active.size === 0) {
        ExitInterceptor.swap();
      }
    }
  }

  private static intercept(code?: string | number | null): never {
    for (const interceptor of ExitInterceptor.active) {
      interceptor.called = true;
      interceptor.code ??= code;
    }
    throw new ConfigExitError(code);
  }

  /** Put the interceptor in place of `process.exit`, or the original back. */
  private static swap(): void {
    /* eslint-disable no-restricted-properties -- replaced while a config loads, never called here */
    if (ExitInterceptor.original === undefined) {
      ExitInterceptor.original = process.exit;
      process.exit = ExitInterceptor.intercept as typeof process.exit;
    } else {
      process.exit = ExitInterceptor.original;
      ExitInterceptor.original = undefined;
    }
    /* eslint-enable no-restricted-properties */
  }
}

/**
 * The config as plain data, read once: every getter runs here, so that one that throws is an
 * input problem at its key (`services[0].name: reading it threw: ...`), not a crash in validation.
 */
function plainData(value: unknown, where: string, problems: InputProblem[], seen: Set<object>): unknown {
  if (value === null || typeof value !== 'object') {
    return value;
  }
  if (seen.has(value)) {
    problems.push({ where: where || '(the config)', message: 'refers to itself (a circular reference)' });
    return undefined;
  }
  seen.add(value);
  try {
    if (Array.isArray(value)) {
      return Array.from({ length: value.length }, (_, index) => plainData(read(value, index, `${where}[${index}]`, problems), `${where}[${index}]`, problems, seen));
    }
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      const at = where ? `${where}.${key}` : key;
      out[key] = plainData(read(value, key, at, problems), at, problems, seen);
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

function read(object: object, key: string | number, where: string, problems: InputProblem[]): unknown {
  try {
    return (object as Record<string | number, unknown>)[key];
  } catch (error) {
    problems.push({ where, message: `reading it threw: ${firstLine(error)}` });
    return undefined;
  }
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0] || 'unknown error';
}
