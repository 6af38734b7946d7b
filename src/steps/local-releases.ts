/**
 * Local releases: what a local deploy makes of a Package, once per deploy, immutable. A release
 * is a folder; which release a locally served environment (a *deployment*) serves is recorded
 * elsewhere (`DeploymentRecords`).
 *
 * ```
 * <home>/stages/<service>/<env>/
 *   releases/<n>/    release.json, bundle/<zip>, deployment/ (template, state),
 *                    app/ (the extracted bundle and the serverless config), node_modules -> the install
 * ```
 */
import { randomBytes } from 'node:crypto';
import { copyFile, cp, mkdir, readdir, readFile, realpath, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FailureError, InputError } from '../model/errors.js';
import { systemClock, type Clock } from '../runtime/clock.js';
import { parseServerlessConfig } from '../runtime/serverless-config.js';
import { installedOslsVersion, overlayOf, overlayText } from './config-overlay.js';
import { hasServerlessOffline, SERVERLESS_CONFIG_FILES } from './serverless-flavor.js';
import { eventsOfState, formatEvent, splitByEmulation } from './service-events.js';
import { extractZip } from './unzip.js';

/** A listener of serverless-offline, besides the Lambda endpoint every deployment has. */
export type Listener = 'http' | 'websocket' | 'alb';

/** What a release holds (`releases/<n>/release.json`). */
export interface ReleaseInfo {
  readonly release: number;
  readonly service: string;
  readonly environment: string;
  readonly region: string;
  readonly packageSha256: string;
  /** The bundle, relative to the release folder. */
  readonly bundle: string;
  /** Which APIs the environment's template declares: a REST API (`ServiceEndpoint`), an HTTP API (`HttpApiUrl`). */
  readonly api: { readonly rest: boolean; readonly httpApi: boolean };
  /** Function key → the name it is deployed under, as the Lambda Invoke API on `lambdaPort` knows it. */
  readonly functions?: Readonly<Record<string, string>>;
  /** The functions' events that the local deployment emulates, and those it does not (`worker: sqs OrdersQueue`). */
  readonly events?: { readonly emulated: readonly string[]; readonly notEmulated: readonly string[] };
  /** Which listeners serverless-offline starts for these events (it is ready when each one is). */
  readonly listeners?: readonly Listener[];
  /** The execution that made the release. */
  readonly executionId?: string;
  readonly createdAt: string;
}

/** The folder of a locally served environment (its releases, its server's record and log). */
export function deploymentDirectory(home: string, service: string, environment: string): string {
  return path.join(home, 'stages', service, environment);
}

/** The folder of one release. */
export function releaseDirectory(home: string, service: string, environment: string, release: number): string {
  return path.join(deploymentDirectory(home, service, environment), 'releases', String(release));
}

/** The release numbers a deployment's folder holds, in order. */
export async function releaseNumbers(home: string, service: string, environment: string): Promise<number[]> {
  const names = await readdir(path.join(deploymentDirectory(home, service, environment), 'releases')).catch(() => [] as string[]);
  return names.filter((n) => /^\d+$/.test(n)).map(Number).sort((a, b) => a - b);
}

/**
 * Read a release's `release.json`: undefined when the release is not there.
 *
 * @throws FailureError when it is there but cannot be read: a damaged release is not an absent one
 */
export async function readRelease(home: string, service: string, environment: string, release: number): Promise<ReleaseInfo | undefined> {
  const file = path.join(releaseDirectory(home, service, environment, release), 'release.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new FailureError(`release ${release} of ${service}/${environment} cannot be read (${file}): ${(error as Error).message}`, { cause: error });
  }
  try {
    return JSON.parse(text) as ReleaseInfo;
  } catch (error) {
    throw new FailureError(`release ${release} of ${service}/${environment} is damaged: ${file} is not JSON (${(error as Error).message}); deploy again to make a new release`, { cause: error });
  }
}

/** What `createRelease` is given. */
export interface CreateReleaseOptions {
  /** The verified code bundle (zip). */
  readonly bundle: string;
  readonly packageSha256: string;
  /** The environment deployment files of the Package (template, state). */
  readonly deploymentDir: string;
  /** The service folder: its serverless config, and its installed node_modules (serverless-offline). */
  readonly serviceDir: string;
  readonly region: string;
  readonly executionId?: string;
  /** @default systemClock */
  readonly clock?: Clock;
}

/**
 * Make the next immutable release of a deployment. It is built in a temporary folder and renamed
 * into `releases/<n>/`, so a release folder is either whole or absent.
 *
 * @throws InputError when the service has no serverless-offline or no serverless config
 */
export async function createRelease(home: string, service: string, environment: string, options: CreateReleaseOptions): Promise<ReleaseInfo> {
  const clock = options.clock ?? systemClock;
  const modules = path.join(options.serviceDir, 'node_modules');
  if (!(await hasServerlessOffline(options.serviceDir))) {
    throw new InputError('a local stage needs serverless-offline, and the service does not have it installed', [
      {
        where: path.join(options.serviceDir, 'package.json'),
        message: 'add serverless-offline (14, beside osls) to the devDependencies and commit the lockfile; the local stage lists it under plugins: by itself',
      },
    ]);
  }
  const configName = await firstExisting(options.serviceDir, SERVERLESS_CONFIG_FILES);
  if (!configName) {
    throw new InputError(`no serverless config in ${options.serviceDir}`, [{ where: options.serviceDir, message: `expected one of ${SERVERLESS_CONFIG_FILES.join(', ')}` }]);
  }
  const releases = path.join(deploymentDirectory(home, service, environment), 'releases');
  await mkdir(releases, { recursive: true });
  const scratch = path.join(releases, `.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(scratch);
  try {
    const bundleName = path.basename(options.bundle);
    await mkdir(path.join(scratch, 'bundle'));
    await copyFile(options.bundle, path.join(scratch, 'bundle', bundleName));
    await cp(options.deploymentDir, path.join(scratch, 'deployment'), { recursive: true });
    const app = path.join(scratch, 'app');
    await extractZip(options.bundle, app);
    await writeReleaseConfig(path.join(options.serviceDir, configName), path.join(app, configName), options.serviceDir);
    // Resolved through the install cache's link: the release must not depend on a workspace that goes away.
    // One level above app/, so that modules bundled in the zip win for the handler, as in Lambda.
    // Modules installed outside the cache (no lockfile, an install override) live in a run's
    // workspace, which is pruned later: the release gets its own copy.
    const installed = await realpath(modules);
    const cache = await realpath(path.join(home, 'cache')).catch(() => path.join(home, 'cache'));
    if (isInside(installed, cache)) {
      await symlink(installed, path.join(scratch, 'node_modules'), 'dir');
    } else {
      await cp(installed, path.join(scratch, 'node_modules'), { recursive: true, verbatimSymlinks: true });
    }
    const api = await apisOfTemplate(path.join(options.deploymentDir, 'cloudformation-template-update-stack.json'));
    const { functions, events } = eventsOfState(await readJson(path.join(options.deploymentDir, 'serverless-state.json')));
    const { emulated, notEmulated } = splitByEmulation(events);
    const listeners = (['http', 'websocket', 'alb'] as const).filter((listener) =>
      events.some((e) => (listener === 'http' ? e.kind === 'http' || e.kind === 'httpApi' : e.kind === listener)),
    );
    for (let attempt = 0; ; attempt += 1) {
      const release = (await releaseNumbers(home, service, environment)).reduce((max, n) => Math.max(max, n), 0) + 1;
      const info: ReleaseInfo = {
        release,
        service,
        environment,
        region: options.region,
        packageSha256: options.packageSha256,
        bundle: `bundle/${bundleName}`,
        api,
        functions,
        events: { emulated: emulated.map(formatEvent), notEmulated: notEmulated.map(formatEvent) },
        listeners,
        ...(options.executionId ? { executionId: options.executionId } : {}),
        createdAt: new Date(clock.now()).toISOString(),
      };
      await writeFile(path.join(scratch, 'release.json'), `${JSON.stringify(info, null, 2)}\n`);
      try {
        // rename() onto an existing non-empty folder fails: two deploys never share a number.
        await rename(scratch, path.join(releases, String(release)));
        return info;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || attempt > 20) throw error;
      }
    }
  } catch (error) {
    await rm(scratch, { recursive: true, force: true });
    throw error;
  }
}

/**
 * What a release's local deployment does with the service's events, for people: which it
 * emulates, and which it does not (their functions can still be invoked, through `SERVICE_INVOKE`).
 */
export function emulationNotes(release: Pick<ReleaseInfo, 'events'>): string[] {
  if (!release.events) return [];
  const notes: string[] = [];
  if (release.events.emulated.length > 0) {
    notes.push(`the local stage emulates ${release.events.emulated.join('; ')}`);
  }
  if (release.events.notEmulated.length > 0) {
    notes.push(`the local stage does NOT emulate ${release.events.notEmulated.join('; ')}: nothing triggers these functions locally; acceptance tests can invoke them with $SERVICE_INVOKE`);
  }
  return notes;
}

/**
 * The serverless config a release is served with: the service's own, with serverless-offline
 * under `plugins:` (a local deployment needs it, AWS does not) and a v3 `frameworkVersion` osls
 * accepts. A JS/TS config is copied as it is: it must list the plugin itself.
 */
async function writeReleaseConfig(configFile: string, destination: string, serviceDir: string): Promise<void> {
  const config = await parseServerlessConfig(configFile);
  if (!config) {
    await copyFile(configFile, destination);
    return;
  }
  const oslsVersion = await installedOslsVersion(serviceDir);
  await writeFile(destination, overlayText(overlayOf(config, { offlinePlugin: true, ...(oslsVersion ? { oslsVersion } : {}) })));
}

async function apisOfTemplate(template: string): Promise<ReleaseInfo['api']> {
  const parsed = await readJson<{ Outputs?: Record<string, unknown> }>(template);
  const outputs = parsed?.Outputs ?? {};
  return { rest: 'ServiceEndpoint' in outputs, httpApi: 'HttpApiUrl' in outputs };
}

async function firstExisting(folder: string, names: readonly string[]): Promise<string | undefined> {
  for (const name of names) {
    if (await exists(path.join(folder, name))) return name;
  }
  return undefined;
}

/** Whether a file or folder is there. */
export async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/** A JSON file of the Package's, or undefined when it is absent or not JSON (the Package was verified before). */
async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Whether `file` is `folder` or below it. */
function isInside(file: string, folder: string): boolean {
  const relative = path.relative(path.resolve(folder), path.resolve(file));
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}
