/**
 * Loading `pipelines.config.ts` (or .mts/.js/.mjs/.json): no build step for the user.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { InputError } from '../model/errors.js';
import { validateConfig, type ValidConfig } from '../model/validate.js';
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
 * export may come from `defineConfig({...})` or be a plain object.
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
  let exported: unknown;
  try {
    if (absolute.endsWith('.json')) {
      exported = JSON.parse(readFileSync(absolute, 'utf8'));
    } else {
      const { createJiti } = await import('jiti');
      const jiti = createJiti(pathToFileURL(absolute).href, { moduleCache: false, fsCache: false, interopDefault: false });
      const module = await jiti.import<Record<string, unknown>>(absolute);
      exported = module && typeof module === 'object' && 'default' in module ? module.default : undefined;
    }
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new InputError(`could not load the config file ${absolute}`, [{ where: file, message: reason ?? 'unknown error' }], { cause: error });
  }
  if (typeof exported === 'function') {
    exported = await (exported as () => unknown)();
  }
  if (exported === undefined || exported === null) {
    throw new InputError(`${absolute} has no default export`, [
      { where: file, message: 'export the configuration: `export default defineConfig({ ... })`' },
    ]);
  }
  return { config: await withServerlessServiceNames(validateConfig(exported, absolute), path.dirname(absolute)), file: absolute, baseDir: path.dirname(absolute) };
}
