/**
 * Local deployments: each environment of a service served on this machine, standing in for its
 * AWS account. A deployment has immutable releases (`local-releases.ts`), at most one server
 * (`local-server.ts`), and a record of which release it serves and which one last passed its
 * acceptance tests: `DeploymentRecords`, one store (the run history's database), which the deploy
 * and rollback steps, the local engine and `up` all go through.
 *
 * (A *stage* is a stage of a pipeline; a locally served environment is a *deployment*.)
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { FailureError, InputError } from '../model/errors.js';
import { deploymentDirectory, exists, readRelease, releaseDirectory, releaseNumbers, type ReleaseInfo } from './local-releases.js';
import { readServerRecord, serverRunning, startServer, stopServer, type ServerInfo, type ServerSeams } from './local-server.js';
import { hasServerlessOffline } from './serverless-flavor.js';

/** The release a deployment serves. */
export interface CurrentRelease {
  readonly release: number;
  readonly packageSha256: string;
  /** The execution that made it current. */
  readonly executionId?: string;
  /** When, ISO 8601. */
  readonly deployedAt: string;
}

/** The last release whose acceptance tests passed: what a rollback serves again. */
export interface LastGoodRelease {
  readonly release: number;
  /** The execution whose acceptance tests passed against it. */
  readonly executionId: string;
  /** When, ISO 8601. */
  readonly at: string;
}

/** What the record of one deployment says. */
export interface DeploymentRecord {
  readonly service: string;
  readonly environment: string;
  readonly current?: CurrentRelease;
  readonly lastGood?: LastGoodRelease;
}

/** A release an execution made current. */
export interface DeployedRelease {
  readonly service: string;
  readonly environment: string;
  readonly release: number;
  readonly packageSha256: string | null;
  /** Whether the environment's acceptance tests then passed against it. */
  readonly good: boolean;
}

/**
 * The one record of what each local deployment serves (the port; the local engine keeps it in
 * its history database). Every change is one transaction.
 */
export interface DeploymentRecords {
  /** Every deployment with a record, by service then environment. */
  list(): Promise<DeploymentRecord[]>;
  /** One deployment's record. */
  get(service: string, environment: string): Promise<DeploymentRecord | undefined>;
  /**
   * Make a release current (a deploy, a rollback). Made for an execution, only while that
   * execution is going: false, and nothing changed, when its record says it ended (another
   * process found it dead).
   */
  makeCurrent(change: { service: string; environment: string; release: number; packageSha256: string; executionId?: string; at: number }): Promise<boolean>;
  /**
   * Record that the deployment's current release, which `executionId` made current, passed its
   * acceptance tests: it is the one to roll back to. Returns it, or undefined when the current
   * release is not that execution's (nothing is marked then).
   */
  markGood(service: string, environment: string, executionId: string, at: number): Promise<number | undefined>;
  /**
   * Give each deployment (of `environments`, else any) whose current release an execution made
   * what was current before the execution first changed it (for a dead execution's recovery).
   * Returns what was given back (`restored` undefined: nothing is current now).
   */
  revertChangesOf(executionId: string, environments?: readonly string[]): Promise<Array<{ service: string; environment: string; restored?: number }>>;
  /** The releases an execution made current, in order, and whether each passed its acceptance tests. */
  releasesDeployedBy(executionId: string): Promise<DeployedRelease[]>;
}

/** Opens the deployment records of a state folder (the CLI's and the engine's own), for a step that deploys locally. */
export type OpenDeploymentRecords = (home: string) => Promise<DeploymentRecords & { close(): void }>;

/** A deployment as `listDeployments` reports it. */
export interface DeploymentInfo extends DeploymentRecord {
  readonly releases: readonly number[];
  readonly server?: ServerInfo;
  /** Whether the recorded server still runs. */
  readonly running: boolean;
}

/**
 * Every local deployment of a state folder: those with a record, and those with only releases
 * or a server on disk; with their releases and server.
 */
export async function listDeployments(home: string, records: DeploymentRecords, seams: Pick<ServerSeams, 'processTable'>): Promise<DeploymentInfo[]> {
  const known = new Map((await records.list()).map((r) => [`${r.service}\u0000${r.environment}`, r]));
  const root = path.join(home, 'stages');
  for (const service of await readdir(root).catch(() => [] as string[])) {
    for (const environment of await readdir(path.join(root, service)).catch(() => [] as string[])) {
      known.set(`${service}\u0000${environment}`, known.get(`${service}\u0000${environment}`) ?? { service, environment });
    }
  }
  const deployments: DeploymentInfo[] = [];
  for (const record of [...known.values()].sort((a, b) => a.service.localeCompare(b.service) || a.environment.localeCompare(b.environment))) {
    const server = await readServerRecord(home, record.service, record.environment);
    deployments.push({
      ...record,
      releases: await releaseNumbers(home, record.service, record.environment),
      ...(server ? { server } : {}),
      running: server ? serverRunning(server, seams.processTable) : false,
    });
  }
  return deployments;
}

/** Options of `serveRelease`. */
export interface ServeReleaseOptions {
  /**
   * The release to serve. Giving one makes it the deployment's current release.
   *
   * @default - the current release, left as current
   */
  readonly release?: number;
  /** The environment of the server (the deploy's). */
  readonly env: NodeJS.ProcessEnv;
  /** The execution that serves it: its servers are stopped when it ends, and it makes the release current only while it goes. */
  readonly executionId?: string;
  /** @default - a free port */
  readonly httpPort?: number;
  /** @default - a free port */
  readonly lambdaPort?: number;
  /** @default 60_000 */
  readonly readyTimeoutMs?: number;
}

/**
 * Serve a release of a deployment (see `startServer`) and, when a release is given, make it the
 * deployment's current release once its server is ready.
 *
 * @throws InputError when the deployment has no such release, or it cannot be served, or a requested port is taken
 * @throws FailureError when the server does not become ready, or the execution that serves it ended meanwhile (nothing is made current then)
 */
export async function serveRelease(
  home: string,
  records: DeploymentRecords,
  service: string,
  environment: string,
  seams: ServerSeams,
  options: ServeReleaseOptions,
): Promise<{ server: ServerInfo; release: ReleaseInfo }> {
  const folder = deploymentDirectory(home, service, environment);
  const release = options.release ?? (await records.get(service, environment))?.current?.release;
  if (release === undefined) {
    throw new InputError(`the local stage ${service}/${environment} has no release to serve`, [
      { where: folder, message: `deploy it first: service-pipelines run ${service}` },
    ]);
  }
  const info = await readRelease(home, service, environment, release);
  if (!info) {
    throw new InputError(`the local stage ${service}/${environment} has no release ${release}`, [
      { where: path.join(folder, 'releases'), message: `releases there: ${(await releaseNumbers(home, service, environment)).join(', ') || 'none'}` },
    ]);
  }
  const releaseFolder = releaseDirectory(home, service, environment, release);
  if (!(await hasServerlessOffline(releaseFolder)) || !(await exists(path.join(releaseFolder, 'node_modules', '.bin', 'osls')))) {
    throw new InputError(`release ${release} of ${service}/${environment} cannot be served: osls or serverless-offline is missing`, [
      { where: path.join(releaseFolder, 'node_modules'), message: 'the install it links to is gone; deploy again after `service-pipelines step install`' },
    ]);
  }
  const server = await startServer(home, info, seams, {
    env: options.env,
    ...(options.executionId ? { executionId: options.executionId } : {}),
    ...(options.httpPort !== undefined ? { httpPort: options.httpPort } : {}),
    ...(options.lambdaPort !== undefined ? { lambdaPort: options.lambdaPort } : {}),
    ...(options.readyTimeoutMs !== undefined ? { readyTimeoutMs: options.readyTimeoutMs } : {}),
  });
  if (options.release !== undefined) {
    const made = await records.makeCurrent({
      service,
      environment,
      release,
      packageSha256: info.packageSha256,
      ...(options.executionId ? { executionId: options.executionId } : {}),
      at: seams.clock.now(),
    });
    if (!made) {
      await stopServer(home, service, environment, seams);
      throw new FailureError(`release ${release} of ${service}/${environment} was not made current: the execution that deployed it is gone`);
    }
  }
  return { server, release: info };
}

/** Stop the servers an execution started. @returns `<service>/<env>` of each stopped */
export async function stopServersStartedBy(home: string, executionId: string, seams: Pick<ServerSeams, 'processTable' | 'clock'>): Promise<string[]> {
  const stopped: string[] = [];
  const root = path.join(home, 'stages');
  for (const service of (await readdir(root).catch(() => [] as string[])).sort()) {
    for (const environment of (await readdir(path.join(root, service)).catch(() => [] as string[])).sort()) {
      const server = await readServerRecord(home, service, environment);
      if (server?.executionId === executionId && (await stopServer(home, service, environment, seams))) {
        stopped.push(`${service}/${environment}`);
      }
    }
  }
  return stopped;
}
