/**
 * Local stages: each environment of a service deployed on this machine as immutable releases,
 * served by serverless-offline. The steps' side of the contract with the local engine.
 *
 * ```
 * <home>/stages/<service>/<env>/
 *   releases/<n>/            immutable: release.json, bundle/<zip>, deployment/ (template, state),
 *                            app/ (the extracted bundle and the serverless config), node_modules -> the install
 *   current.json             { release, packageSha256, executionId, deployedAt }   (deploy, rollback)
 *   server.json              { pid, httpPort, lambdaPort, websocketPort?, albPort?, url, release, executionId, startedAt }
 *   last-good.json           { release, executionId, at }   (the engine, after acceptance tests pass)
 *   server.log               what the servers printed
 * ```
 */
import { randomBytes } from 'node:crypto';
import { copyFile, cp, mkdir, open, readdir, readFile, realpath, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import path from 'node:path';
import { FailureError, InputError } from '../model/errors.js';
import { systemClock, type Clock } from '../runtime/clock.js';
import { nodeProcesses, runCaptured, type Processes } from '../runtime/process.js';
import { parseServerlessConfig } from '../runtime/serverless-config.js';
import { installedOslsVersion, OFFLINE_PLUGIN, overlayOf, overlayText } from './config-overlay.js';
import { hasServerlessOffline, SERVERLESS_CONFIG_FILES } from './serverless-flavor.js';
import { eventsOfState, formatEvent, splitByEmulation } from './service-events.js';
import { extractZip } from './unzip.js';

/** The server of a local stage (`server.json`). */
export interface ServerInfo {
  readonly pid: number;
  readonly httpPort: number;
  /** Where every function can be invoked directly (the Lambda Invoke API): `http://127.0.0.1:<lambdaPort>`. */
  readonly lambdaPort: number;
  /** The WebSocket API's port, when the service has websocket events. */
  readonly websocketPort?: number;
  /** The ALB's port, when the service has alb events. */
  readonly albPort?: number;
  /** The REST base URL, `http://127.0.0.1:<httpPort>/<stage>` (what `ServiceEndpoint` is in AWS). */
  readonly url: string;
  readonly release: number;
  readonly executionId?: string;
  readonly startedAt: string;
}

/** The release a stage serves (`current.json`). */
export interface CurrentRelease {
  readonly release: number;
  readonly packageSha256: string;
  /** The execution that made it current. */
  readonly executionId?: string;
  readonly deployedAt: string;
  /** What was current before its execution first changed the stage, so that what a dead execution made current can be undone. */
  readonly previous?: Omit<CurrentRelease, 'previous'>;
}

/** The last release whose acceptance tests passed (`last-good.json`, written by the engine). */
export interface LastGoodRelease {
  readonly release: number;
  readonly executionId: string;
  readonly at: string;
}

/** What a release holds (`releases/<n>/release.json`). */
export interface ReleaseInfo {
  readonly release: number;
  readonly service: string;
  readonly environment: string;
  readonly region: string;
  readonly packageSha256: string;
  /** The bundle, relative to the release folder. */
  readonly bundle: string;
  /** Which APIs the stage template declares: a REST API (`ServiceEndpoint`), an HTTP API (`HttpApiUrl`). */
  readonly api: { readonly rest: boolean; readonly httpApi: boolean };
  /** Function key → the name it is deployed under, as the Lambda Invoke API on `lambdaPort` knows it. */
  readonly functions?: Readonly<Record<string, string>>;
  /** The functions' events that the local stage emulates, and those it does not (`worker: sqs OrdersQueue`). */
  readonly events?: { readonly emulated: readonly string[]; readonly notEmulated: readonly string[] };
  /** Which listeners serverless-offline starts for these events (it is ready when each one is). */
  readonly listeners?: readonly Listener[];
  /** The execution that made the release. */
  readonly executionId?: string;
  readonly createdAt: string;
}

/** A listener of serverless-offline, besides the Lambda endpoint every stage has. */
export type Listener = 'http' | 'websocket' | 'alb';

/** One local stage, as `listStages` reports it. */
export interface StageInfo {
  readonly service: string;
  readonly environment: string;
  readonly releases: readonly number[];
  readonly current?: CurrentRelease;
  readonly lastGood?: LastGoodRelease;
  readonly server?: ServerInfo;
  /** Whether the recorded server process is alive. */
  readonly running: boolean;
}

/** The folder of a local stage. */
export function stageDirectory(home: string, service: string, environment: string): string {
  return path.join(home, 'stages', service, environment);
}

/** The folder of one release. */
export function releaseDirectory(home: string, service: string, environment: string, release: number): string {
  return path.join(stageDirectory(home, service, environment), 'releases', String(release));
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
 * Make the next immutable release of a stage. It is built in a temporary folder and renamed into
 * `releases/<n>/`, so a release folder is either whole or absent.
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
  const releases = path.join(stageDirectory(home, service, environment), 'releases');
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
      const release = (await releaseNumbers(releases)).reduce((max, n) => Math.max(max, n), 0) + 1;
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
 * The serverless config a release is served with: the service's own, with serverless-offline
 * under `plugins:` (a local stage needs it, AWS does not) and a v3 `frameworkVersion` osls accepts.
 * A JS/TS config is copied as it is: it must list the plugin itself.
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

/** Options of `serveRelease`. */
export interface ServeReleaseOptions {
  /**
   * The release to serve. Giving one makes it the stage's current release (`current.json`).
   *
   * @default - the current release, left as current
   */
  readonly release?: number;
  /** The execution that serves it; `stopStagesStartedBy` stops its servers. */
  readonly executionId?: string;
  /** @default nodeProcesses */
  readonly processes?: Processes;
  /** @default systemClock */
  readonly clock?: Clock;
  /**
   * Asked once the server is ready, before a given release is made current: false (the execution
   * that serves it is gone, say) stops the server and leaves the stage's current release as it was.
   *
   * @default - always made current
   */
  readonly mayBecomeCurrent?: () => Promise<boolean>;
  /** @default - a free port */
  readonly httpPort?: number;
  /** @default - a free port */
  readonly lambdaPort?: number;
  /**
   * How long to wait for serverless-offline to listen on every port the service's events need.
   *
   * @default 60_000
   */
  readonly readyTimeoutMs?: number;
}

/**
 * Serve a release of a stage with serverless-offline, detached so that it outlives the command:
 * the stage's previous server is stopped first, then `osls offline start` runs from the release
 * folder until it listens on every port the service's events need (the Lambda endpoint, and the
 * HTTP, WebSocket or ALB server when it has such events). Records `server.json` (and `current.json` when a release
 * is given).
 *
 * @throws InputError when the stage has no such release, or a requested port is taken
 * @throws FailureError when the server exits or is not ready in time (its log is quoted)
 */
export async function serveRelease(home: string, service: string, environment: string, options: ServeReleaseOptions = {}): Promise<ServerInfo> {
  const processes = options.processes ?? nodeProcesses;
  const clock = options.clock ?? systemClock;
  const stage = stageDirectory(home, service, environment);
  const current = await readCurrent(home, service, environment);
  const release = options.release ?? current?.release;
  if (release === undefined) {
    throw new InputError(`the local stage ${service}/${environment} has no release to serve`, [
      { where: stage, message: `deploy it first: service-pipelines run ${service}` },
    ]);
  }
  const folder = releaseDirectory(home, service, environment, release);
  const info = await readJson<ReleaseInfo>(path.join(folder, 'release.json'));
  if (!info) {
    throw new InputError(`the local stage ${service}/${environment} has no release ${release}`, [
      { where: path.join(stage, 'releases'), message: `releases there: ${(await releaseNumbers(path.join(stage, 'releases'))).join(', ') || 'none'}` },
    ]);
  }
  const osls = path.join(folder, 'node_modules', '.bin', 'osls');
  if (!(await hasServerlessOffline(folder)) || !(await exists(osls))) {
    throw new InputError(`release ${release} of ${service}/${environment} cannot be served: osls or serverless-offline is missing`, [
      { where: path.join(folder, 'node_modules'), message: 'the install it links to is gone; deploy again after `service-pipelines step install`' },
    ]);
  }

  // Requested ports are checked before the running server is stopped: a refused serve leaves the
  // stage as it was. The running server's own ports are about to be freed, so they count as free.
  const previous = await readJson<ServerInfo>(path.join(stage, 'server.json'));
  const previousPorts = previous && (await isOurServer(previous.pid)) ? [previous.httpPort, previous.lambdaPort] : [];
  for (const [flag, port] of [['--httpPort', options.httpPort], ['--lambdaPort', options.lambdaPort]] as const) {
    if (port !== undefined && !previousPorts.includes(port) && !(await portIsFree(port))) {
      throw new InputError(`port ${port} on 127.0.0.1 is taken: the local stage ${service}/${environment} cannot serve on it`, [
        { where: flag, message: `stop what listens on ${port}, or leave the port to be chosen` },
      ]);
    }
  }
  await stopStage(home, service, environment, { processes, clock });
  const httpPort = options.httpPort ?? (await freePort());
  const lambdaPort = options.lambdaPort ?? (await freePort([httpPort]));
  // Releases made before the listeners were recorded served HTTP events only.
  const listeners = info.listeners ?? ['http'];
  const websocketPort = listeners.includes('websocket') ? await freePort([httpPort, lambdaPort]) : undefined;
  const albPort = listeners.includes('alb') ? await freePort([httpPort, lambdaPort, ...(websocketPort ? [websocketPort] : [])]) : undefined;

  const log = path.join(stage, 'server.log');
  const logStart = await stat(log).then((s) => s.size, () => 0);
  const args = [
    'offline', 'start', '--stage', environment, '--region', info.region,
    '--host', '127.0.0.1', '--httpPort', String(httpPort), '--lambdaPort', String(lambdaPort),
    ...(websocketPort ? ['--websocketPort', String(websocketPort)] : []),
    ...(albPort ? ['--albPort', String(albPort)] : []),
  ];
  // Ready when every listener the service's events need accepts connections: the Lambda endpoint
  // always; HTTP, WebSocket and ALB servers only when it has such events. serverless-offline
  // prints "Server ready" for HTTP only, and nothing at all for a service of schedules or queues.
  const ports = [lambdaPort, ...(listeners.includes('http') ? [httpPort] : []), ...(websocketPort ? [websocketPort] : []), ...(albPort ? [albPort] : [])];
  const pid = await launchDetached(processes, osls, args, path.join(folder, 'app'), log);
  const timeoutMs = options.readyTimeoutMs ?? 60_000;
  const deadline = clock.now() + timeoutMs;
  for (;;) {
    const listening = await Promise.all(ports.map((port) => accepts(port)));
    if (listening.every(Boolean)) break;
    const text = await readFrom(log, logStart);
    if (!isAlive(pid)) {
      throw new FailureError(`serverless-offline exited before it was ready (release ${release} of ${service}/${environment})${missingPluginHint(text)}; its log, ${log}:\n${tail(text)}`);
    }
    if (clock.now() > deadline) {
      await killGroup(pid, clock);
      const waiting = ports.filter((_port, i) => !listening[i]);
      throw new FailureError(
        `serverless-offline was not ready after ${Math.round(timeoutMs / 1000)} s: nothing listens on port ${waiting.join(', ')} (release ${release} of ${service}/${environment}); its log, ${log}:\n${tail(text)}`,
      );
    }
    await clock.sleep(100);
  }

  const now = new Date(clock.now()).toISOString();
  const server: ServerInfo = {
    pid,
    httpPort,
    lambdaPort,
    ...(websocketPort ? { websocketPort } : {}),
    ...(albPort ? { albPort } : {}),
    url: `http://127.0.0.1:${httpPort}/${environment}`,
    release,
    ...(options.executionId ? { executionId: options.executionId } : {}),
    startedAt: now,
  };
  await writeJsonAtomically(path.join(stage, 'server.json'), server);
  if (options.release !== undefined) {
    if (options.mayBecomeCurrent && !(await options.mayBecomeCurrent())) {
      await stopStage(home, service, environment, { processes, clock });
      throw new FailureError(`release ${release} of ${service}/${environment} was not made current: the execution that deployed it is gone`);
    }
    // What was current before this execution first changed the stage: what to go back to if it dies.
    const previous = current === undefined ? undefined : options.executionId !== undefined && current.executionId === options.executionId ? current.previous : withoutPrevious(current);
    await writeJsonAtomically(path.join(stage, 'current.json'), {
      release,
      packageSha256: info.packageSha256,
      ...(options.executionId ? { executionId: options.executionId } : {}),
      deployedAt: now,
      ...(previous ? { previous } : {}),
    } satisfies CurrentRelease);
  }
  return server;
}

function withoutPrevious(current: CurrentRelease): Omit<CurrentRelease, 'previous'> {
  const { previous: _older, ...rest } = current;
  return rest;
}

/** The outputs a served stage gives acceptance tests, named as the AWS stack outputs are. */
export function stackOutputsOfServer(server: ServerInfo, release: Pick<ReleaseInfo, 'api'>): Record<string, string> {
  const outputs: Record<string, string> = {};
  const base = `http://127.0.0.1:${server.httpPort}`;
  // As in AWS: a REST API gives ServiceEndpoint, an HTTP API HttpApiUrl, a service without HTTP events neither.
  if (release.api.rest) {
    outputs.ServiceEndpoint = server.url;
  }
  if (release.api.httpApi) {
    outputs.HttpApiUrl = base;
  }
  return outputs;
}

/** The base URL of a served stage's API: its REST endpoint, else its HTTP API's (at the root), else the Lambda endpoint. */
export function serviceUrlOf(server: ServerInfo, release: Pick<ReleaseInfo, 'api'>): string {
  const outputs = stackOutputsOfServer(server, release);
  return release.api.rest || release.api.httpApi ? (outputs.ServiceEndpoint ?? outputs.HttpApiUrl!) : `http://127.0.0.1:${server.lambdaPort} (Lambda endpoint: no HTTP events)`;
}

/**
 * What a release's local stage does with the service's events, for people: which it emulates, and
 * which it does not (their functions can still be invoked, through `SERVICE_INVOKE`).
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

/** Read a release's `release.json`. */
export async function readRelease(home: string, service: string, environment: string, release: number): Promise<ReleaseInfo | undefined> {
  return readJson<ReleaseInfo>(path.join(releaseDirectory(home, service, environment, release), 'release.json'));
}

/**
 * Stop a stage's server, if one runs (its whole process group; SIGKILL if SIGTERM is not enough).
 *
 * @returns whether a running server was stopped
 */
export async function stopStage(home: string, service: string, environment: string, options: { processes?: Processes; clock?: Clock } = {}): Promise<boolean> {
  const file = path.join(stageDirectory(home, service, environment), 'server.json');
  const server = await readJson<ServerInfo>(file);
  if (!server) {
    return false;
  }
  const running = await isOurServer(server.pid);
  if (running) {
    await killGroup(server.pid, options.clock ?? systemClock);
  }
  await rm(file, { force: true });
  return running;
}

/** Stop the servers an execution started. @returns `<service>/<env>` of each stopped */
export async function stopStagesStartedBy(home: string, executionId: string): Promise<string[]> {
  const stopped: string[] = [];
  for (const stage of await listStages(home)) {
    if (stage.server?.executionId === executionId && (await stopStage(home, stage.service, stage.environment))) {
      stopped.push(`${stage.service}/${stage.environment}`);
    }
  }
  return stopped;
}

/**
 * Undo what an execution that died left current: every stage whose current release it made is
 * given its previous current release back (or none), and a server it started there is stopped.
 * For the engine's recovery of a dead execution, once its processes are gone.
 *
 * @returns `<service>/<env>` and the release restored (undefined: the stage has no current release now)
 */
export async function revertCurrentMadeBy(home: string, executionId: string, options: { processes?: Processes; clock?: Clock } = {}): Promise<Array<{ stage: string; restored?: number }>> {
  const reverted: Array<{ stage: string; restored?: number }> = [];
  for (const stage of await listStages(home)) {
    if (stage.current?.executionId !== executionId) continue;
    if (stage.server?.executionId === executionId) {
      await stopStage(home, stage.service, stage.environment, options);
    }
    const file = path.join(stageDirectory(home, stage.service, stage.environment), 'current.json');
    const previous = stage.current.previous;
    if (previous) {
      await writeJsonAtomically(file, previous);
    } else {
      await rm(file, { force: true });
    }
    reverted.push({ stage: `${stage.service}/${stage.environment}`, ...(previous ? { restored: previous.release } : {}) });
  }
  return reverted;
}

/** Every local stage under a home, with its releases, current and last good release, and server. */
export async function listStages(home: string): Promise<StageInfo[]> {
  const root = path.join(home, 'stages');
  const stages: StageInfo[] = [];
  for (const service of (await readdir(root).catch(() => [] as string[])).sort()) {
    for (const environment of (await readdir(path.join(root, service)).catch(() => [] as string[])).sort()) {
      const folder = stageDirectory(home, service, environment);
      const server = await readJson<ServerInfo>(path.join(folder, 'server.json'));
      const current = await readCurrent(home, service, environment);
      const lastGood = await readLastGood(home, service, environment);
      stages.push({
        service,
        environment,
        releases: await releaseNumbers(path.join(folder, 'releases')),
        ...(current ? { current } : {}),
        ...(lastGood ? { lastGood } : {}),
        ...(server ? { server } : {}),
        running: server ? await isOurServer(server.pid) : false,
      });
    }
  }
  return stages;
}

/** The server of a stage, if one was started and still runs. */
export async function readServer(home: string, service: string, environment: string): Promise<ServerInfo | undefined> {
  const server = await readJson<ServerInfo>(path.join(stageDirectory(home, service, environment), 'server.json'));
  return server && (await isOurServer(server.pid)) ? server : undefined;
}

/** The stage's current release, if it was ever deployed. */
export async function readCurrent(home: string, service: string, environment: string): Promise<CurrentRelease | undefined> {
  return readJson<CurrentRelease>(path.join(stageDirectory(home, service, environment), 'current.json'));
}

/** The stage's last good release, if acceptance tests ever passed there. */
export async function readLastGood(home: string, service: string, environment: string): Promise<LastGoodRelease | undefined> {
  return readJson<LastGoodRelease>(path.join(stageDirectory(home, service, environment), 'last-good.json'));
}

/** Record a stage's last good release (the engine calls this after acceptance tests pass). */
export async function writeLastGood(home: string, service: string, environment: string, value: LastGoodRelease): Promise<void> {
  await mkdir(stageDirectory(home, service, environment), { recursive: true });
  await writeJsonAtomically(path.join(stageDirectory(home, service, environment), 'last-good.json'), value);
}

/**
 * Start a program in a session of its own that outlives this process: a short-lived node
 * launcher spawns it detached (so the caller holds no handle on it) and prints its pid.
 */
async function launchDetached(processes: Processes, command: string, args: readonly string[], cwd: string, log: string): Promise<number> {
  const launcher = [
    "const { spawn } = require('node:child_process');",
    "const fs = require('node:fs');",
    'const [log, command, ...args] = process.argv.slice(1);',
    "const fd = fs.openSync(log, 'a');",
    "const child = spawn(command, args, { detached: true, stdio: ['ignore', fd, fd] });",
    // The launcher ends by itself: the child is unreferenced and its output goes to a file.
    "child.once('error', (error) => { process.stderr.write(error.message); process.exitCode = 127; });",
    "child.once('spawn', () => { process.stdout.write(String(child.pid)); child.unref(); });",
  ].join('\n');
  await mkdir(path.dirname(log), { recursive: true });
  const run = await runCaptured(processes, process.execPath, ['-e', launcher, log, command, ...args], { cwd });
  const pid = Number.parseInt(run.stdout, 10);
  if (run.code !== 0 || !Number.isInteger(pid)) {
    throw new FailureError(`could not start ${command}: ${run.stderr.trim() || `launcher exited with ${run.code}`}`);
  }
  return pid;
}

/** SIGTERM to the process group, then SIGKILL after 5 s; resolves once the leader is gone. */
async function killGroup(pid: number, clock: Clock): Promise<void> {
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-pid, name);
    } catch {
      try {
        process.kill(pid, name);
      } catch {
        // Gone already.
      }
    }
  };
  signal('SIGTERM');
  const deadline = clock.now() + 5_000;
  while (isAlive(pid)) {
    if (clock.now() > deadline) {
      signal('SIGKILL');
      await clock.sleep(100);
      return;
    }
    await clock.sleep(50);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A server that exited but was not reaped yet (where pid 1 is slow to reap) is a zombie: gone.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** Alive, and (where /proc tells) still a serverless-offline server rather than a reused pid. */
async function isOurServer(pid: number): Promise<boolean> {
  if (!isAlive(pid)) return false;
  const commandLine = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => undefined);
  return commandLine === undefined || commandLine.includes('offline');
}

async function freePort(avoid: readonly number[] = []): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    if (!avoid.includes(port)) return port;
  }
}

/** Whether something accepts TCP connections on a port of 127.0.0.1. */
async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A JS/TS config that does not list the plugin makes osls say the command is unknown. */
function missingPluginHint(log: string): string {
  return /command "?offline/i.test(log) && /not found/i.test(log) ? `: its serverless config does not list ${OFFLINE_PLUGIN} under plugins:` : '';
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function apisOfTemplate(template: string): Promise<ReleaseInfo['api']> {
  const parsed = await readJson<{ Outputs?: Record<string, unknown> }>(template);
  const outputs = parsed?.Outputs ?? {};
  return { rest: 'ServiceEndpoint' in outputs, httpApi: 'HttpApiUrl' in outputs };
}

async function releaseNumbers(folder: string): Promise<number[]> {
  const names = await readdir(folder).catch(() => [] as string[]);
  return names.filter((n) => /^\d+$/.test(n)).map(Number).sort((a, b) => a - b);
}

async function firstExisting(folder: string, names: readonly string[]): Promise<string | undefined> {
  for (const name of names) {
    if (await exists(path.join(folder, name))) return name;
  }
  return undefined;
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(() => true, () => false);
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

async function readFrom(file: string, offset: number): Promise<string> {
  const handle = await open(file, 'r').catch(() => undefined);
  if (!handle) return '';
  try {
    const { size } = await handle.stat();
    const buffer = Buffer.alloc(Math.max(0, size - offset));
    await handle.read(buffer, 0, buffer.length, offset);
    return buffer.toString('utf8');
  } finally {
    await handle.close();
  }
}

function tail(text: string, lines = 30): string {
  return text.trimEnd().split('\n').slice(-lines).map((l) => `  ${l}`).join('\n');
}

/** Written whole, then renamed: a reader never sees half of it. */
async function writeJsonAtomically(file: string, value: unknown): Promise<void> {
  const temporary = `${file}.${process.pid}.${randomBytes(3).toString('hex')}.tmp`;
  await writeFile(temporary, `${JSON.stringify(value, null, 2)}\n`);
  await rename(temporary, file);
}

/** Whether `file` is `folder` or below it. */
function isInside(file: string, folder: string): boolean {
  const relative = path.relative(path.resolve(folder), path.resolve(file));
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}
