/**
 * What the `serverless` flavor needs to find in a service folder: its npm scripts, the
 * Serverless Framework v3 CLI (`osls`) in its node_modules, and its serverless config.
 */
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../model/errors.js';

/** The config file names osls looks for, in its order. */
export const SERVERLESS_CONFIG_FILES = ['serverless.yml', 'serverless.yaml', 'serverless.json', 'serverless.js', 'serverless.cjs', 'serverless.mjs', 'serverless.ts'] as const;

/** The npm script each test step of the serverless flavor runs (DESIGN.md, "What a service provides"). */
export const NPM_SCRIPT_OF_STEP = {
  lint: 'lint',
  'test-unit': 'test',
  'test-integration': 'test:integration',
  'test-acceptance': 'test:acceptance',
} as const;

/** The npm command line of a script: `npm test` for `test`, `npm run <script>` otherwise. */
export function npmCommandOfScript(script: string): string {
  return script === 'test' ? 'npm test' : `npm run ${script}`;
}

/**
 * Check that the service's package.json defines a script, so that a missing one is reported as
 * bad input naming the file, not as a failed test run.
 *
 * @throws InputError when package.json is missing, not JSON, or lacks the script
 */
export async function requireNpmScript(serviceDir: string, script: string): Promise<void> {
  const file = path.join(serviceDir, 'package.json');
  let manifest: { scripts?: Record<string, unknown> };
  try {
    manifest = JSON.parse(await readFile(file, 'utf8')) as typeof manifest;
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new InputError(missing ? `no package.json in ${serviceDir}` : `${file} is not valid JSON`, [
      { where: file, message: missing ? 'run the step in the service folder (or give --command for the custom flavor)' : (error as Error).message },
    ]);
  }
  if (typeof manifest.scripts?.[script] !== 'string') {
    throw new InputError(`the service has no "${script}" script`, [
      { where: `${file}:scripts`, message: `add a "${script}" script (npm conventions), or replace the step's command with --command` },
    ]);
  }
}

/**
 * The service's osls (or serverless v3) executable, from its own node_modules.
 *
 * @throws InputError when the service does not have it installed
 */
export async function findOsls(serviceDir: string): Promise<string> {
  for (const name of ['osls', 'serverless', 'sls']) {
    const candidate = path.join(serviceDir, 'node_modules', '.bin', name);
    if (await access(candidate).then(() => true, () => false)) {
      return candidate;
    }
  }
  throw new InputError(`the Serverless Framework is not installed in ${serviceDir}`, [
    {
      where: path.join(serviceDir, 'node_modules', '.bin', 'osls'),
      message: 'add osls (and serverless-offline for local stages) to the service devDependencies, then run `service-pipelines step install`',
    },
  ]);
}

/**
 * The service's serverless config file.
 *
 * @throws InputError when there is none
 */
export async function findServerlessConfig(serviceDir: string): Promise<string> {
  for (const name of SERVERLESS_CONFIG_FILES) {
    const candidate = path.join(serviceDir, name);
    if (await access(candidate).then(() => true, () => false)) {
      return candidate;
    }
  }
  throw new InputError(`no serverless config in ${serviceDir}`, [
    { where: serviceDir, message: `expected one of ${SERVERLESS_CONFIG_FILES.join(', ')} (or use --flavor custom)` },
  ]);
}

/**
 * Whether serverless-offline is resolvable from a folder (a local stage needs it).
 */
export async function hasServerlessOffline(serviceDir: string): Promise<boolean> {
  return access(path.join(serviceDir, 'node_modules', 'serverless-offline', 'package.json')).then(
    () => true,
    () => false,
  );
}

/** The environment of a service's commands: its node_modules/.bin first on PATH, as npm scripts have it. */
export function serviceEnv(serviceDir: string, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const bin = path.join(serviceDir, 'node_modules', '.bin');
  return { ...env, PATH: env.PATH ? `${bin}${path.delimiter}${env.PATH}` : bin, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' };
}
