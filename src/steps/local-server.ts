/**
 * The server of a local deployment: serverless-offline serving one release, started detached so
 * that it outlives the command that started it, and recorded in `server.json` beside the
 * deployment's releases (its process, ports and URL) from the moment it starts.
 *
 * ```
 * <home>/stages/<service>/<env>/
 *   server.json   { pid, startTime, httpPort, lambdaPort, websocketPort?, albPort?, url, release, executionId?, startedAt }
 *   server.log    what the servers printed
 * ```
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import path from 'node:path';
import { FailureError, InputError } from '../model/errors.js';
import type { Clock } from '../runtime/clock.js';
import { endProcesses, nodeProcessTable, spawnDetached, type ProcessIdentity, type Processes, type ProcessTable } from '../runtime/process.js';
import { OFFLINE_PLUGIN } from './config-overlay.js';
import { deploymentDirectory, releaseDirectory, type ReleaseInfo } from './local-releases.js';

/** The server of a local deployment (`server.json`). */
export interface ServerInfo {
  readonly pid: number;
  /** When the server's process started (see `ProcessIdentity`): a reused pid is never taken for it. */
  readonly startTime?: string;
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

/** The seams a server is started and stopped through. */
export interface ServerSeams {
  readonly processes: Processes;
  readonly processTable: ProcessTable;
  readonly clock: Clock;
}

/** What `startServer` is given. */
export interface StartServerOptions {
  /** The environment of the server (the deploy's: the execution's id is in it, for its recovery). */
  readonly env: NodeJS.ProcessEnv;
  /** The execution that serves it; `stopServersStartedBy` stops its servers. */
  readonly executionId?: string;
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
 * Serve a release with serverless-offline (`osls offline start` in the release folder), detached,
 * once the deployment's previous server is stopped. `server.json` records it as soon as it is
 * started, so that a deploy killed while it waits leaves its server on record; it is ready when it
 * listens on every port the service's events need (the Lambda endpoint, and the HTTP, WebSocket
 * or ALB server when it has such events).
 *
 * @throws InputError when a requested port is taken (the deployment is left as it was)
 * @throws FailureError when the server exits or is not ready in time (it is stopped, its log quoted)
 */
export async function startServer(home: string, info: ReleaseInfo, seams: ServerSeams, options: StartServerOptions): Promise<ServerInfo> {
  const { service, environment, release } = info;
  const folder = releaseDirectory(home, service, environment, release);
  const osls = path.join(folder, 'node_modules', '.bin', 'osls');
  // Requested ports are checked before the running server is stopped: a refused serve leaves the
  // deployment as it was. The running server's own ports are about to be freed, so they count as free.
  const previous = await readServerRecord(home, service, environment);
  const previousPorts = previous && serverRunning(previous, seams.processTable) ? [previous.httpPort, previous.lambdaPort] : [];
  for (const [flag, port] of [['--httpPort', options.httpPort], ['--lambdaPort', options.lambdaPort]] as const) {
    if (port !== undefined && !previousPorts.includes(port) && !(await portIsFree(port))) {
      throw new InputError(`port ${port} on 127.0.0.1 is taken: the local stage ${service}/${environment} cannot serve on it`, [
        { where: flag, message: `stop what listens on ${port}, or leave the port to be chosen` },
      ]);
    }
  }
  await stopServer(home, service, environment, seams);
  const httpPort = options.httpPort ?? (await freePort());
  const lambdaPort = options.lambdaPort ?? (await freePort([httpPort]));
  // Releases made before the listeners were recorded served HTTP events only.
  const listeners = info.listeners ?? ['http'];
  const websocketPort = listeners.includes('websocket') ? await freePort([httpPort, lambdaPort]) : undefined;
  const albPort = listeners.includes('alb') ? await freePort([httpPort, lambdaPort, ...(websocketPort ? [websocketPort] : [])]) : undefined;

  const log = path.join(deploymentDirectory(home, service, environment), 'server.log');
  const logStart = await stat(log).then((s) => s.size, () => 0);
  const args = [
    'offline', 'start', '--stage', environment, '--region', info.region,
    '--host', '127.0.0.1', '--httpPort', String(httpPort), '--lambdaPort', String(lambdaPort),
    ...(websocketPort ? ['--websocketPort', String(websocketPort)] : []),
    ...(albPort ? ['--albPort', String(albPort)] : []),
  ];
  let identity: ProcessIdentity;
  try {
    identity = await spawnDetached(seams.processes, osls, args, { cwd: path.join(folder, 'app'), env: options.env, logFile: log }, seams.processTable);
  } catch (error) {
    throw new FailureError(`could not start serverless-offline for release ${release} of ${service}/${environment}: ${(error as Error).message}`, { cause: error });
  }
  const server: ServerInfo = {
    pid: identity.pid,
    ...(identity.startTime ? { startTime: identity.startTime } : {}),
    httpPort,
    lambdaPort,
    ...(websocketPort ? { websocketPort } : {}),
    ...(albPort ? { albPort } : {}),
    url: `http://127.0.0.1:${httpPort}/${environment}`,
    release,
    ...(options.executionId ? { executionId: options.executionId } : {}),
    startedAt: new Date(seams.clock.now()).toISOString(),
  };
  await writeJsonAtomically(serverFile(home, service, environment), server);

  // Ready when every listener the service's events need accepts connections: the Lambda endpoint
  // always; HTTP, WebSocket and ALB servers only when it has such events. serverless-offline
  // prints "Server ready" for HTTP only, and nothing at all for a service of schedules or queues.
  const ports = [lambdaPort, ...(listeners.includes('http') ? [httpPort] : []), ...(websocketPort ? [websocketPort] : []), ...(albPort ? [albPort] : [])];
  const timeoutMs = options.readyTimeoutMs ?? 60_000;
  const deadline = seams.clock.now() + timeoutMs;
  for (;;) {
    const listening = await Promise.all(ports.map((port) => accepts(port)));
    if (listening.every(Boolean)) return server;
    const text = await readFrom(log, logStart);
    if (!seams.processTable.isAlive(identity)) {
      await rm(serverFile(home, service, environment), { force: true });
      throw new FailureError(`serverless-offline exited before it was ready (release ${release} of ${service}/${environment})${missingPluginHint(text)}; its log, ${log}:\n${tail(text)}`);
    }
    if (seams.clock.now() > deadline) {
      await stopServer(home, service, environment, seams);
      const waiting = ports.filter((_port, i) => !listening[i]);
      throw new FailureError(
        `serverless-offline was not ready after ${Math.round(timeoutMs / 1000)} s: nothing listens on port ${waiting.join(', ')} (release ${release} of ${service}/${environment}); its log, ${log}:\n${tail(text)}`,
      );
    }
    await seams.clock.sleep(100);
  }
}

/**
 * Stop a deployment's server, if one runs (its whole process group; SIGKILL if SIGTERM is not
 * enough), and forget it.
 *
 * @returns whether a running server was stopped
 */
export async function stopServer(home: string, service: string, environment: string, seams: Pick<ServerSeams, 'processTable' | 'clock'>): Promise<boolean> {
  const server = await readServerRecord(home, service, environment);
  if (!server) {
    return false;
  }
  const running = serverRunning(server, seams.processTable);
  if (running) {
    await endProcesses(seams.processTable, seams.clock, [{ process: identityOf(server), group: true }], { graceMs: 5_000 });
  }
  await rm(serverFile(home, service, environment), { force: true });
  return running;
}

/** The server of a deployment, if one was started and still runs. */
export async function readServer(home: string, service: string, environment: string, table: ProcessTable = nodeProcessTable): Promise<ServerInfo | undefined> {
  const server = await readServerRecord(home, service, environment);
  return server && serverRunning(server, table) ? server : undefined;
}

/** The server a deployment's `server.json` records, running or not. */
export async function readServerRecord(home: string, service: string, environment: string): Promise<ServerInfo | undefined> {
  const file = serverFile(home, service, environment);
  try {
    return JSON.parse(await readFile(file, 'utf8')) as ServerInfo;
  } catch (error) {
    // Written whole or not at all (renamed into place): a file that is not JSON was not written by a server's start.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || error instanceof SyntaxError) return undefined;
    throw error;
  }
}

/**
 * Whether the recorded server still runs: that very process (same pid, same start time). A record
 * that does not say when its process started (written before it was kept) is taken for gone: a
 * process whose number was reused is never signalled.
 */
export function serverRunning(server: ServerInfo, table: ProcessTable): boolean {
  return server.startTime !== undefined && table.isAlive(identityOf(server));
}

/** The outputs a served deployment gives acceptance tests, named as the AWS stack outputs are. */
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

/** The base URL of a served deployment's API: its REST endpoint, else its HTTP API's (at the root), else the Lambda endpoint. */
export function serviceUrlOf(server: ServerInfo, release: Pick<ReleaseInfo, 'api'>): string {
  const outputs = stackOutputsOfServer(server, release);
  return release.api.rest || release.api.httpApi ? (outputs.ServiceEndpoint ?? outputs.HttpApiUrl!) : `http://127.0.0.1:${server.lambdaPort} (Lambda endpoint: no HTTP events)`;
}

function identityOf(server: ServerInfo): ProcessIdentity {
  return { pid: server.pid, ...(server.startTime ? { startTime: server.startTime } : {}) };
}

function serverFile(home: string, service: string, environment: string): string {
  return path.join(deploymentDirectory(home, service, environment), 'server.json');
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

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A JS/TS config that does not list the plugin makes osls say the command is unknown. */
function missingPluginHint(log: string): string {
  return /command "?offline/i.test(log) && /not found/i.test(log) ? `: its serverless config does not list ${OFFLINE_PLUGIN} under plugins:` : '';
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
