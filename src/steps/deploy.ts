/**
 * `step deploy` and `step rollback`: the verified Package deployed to one environment, in AWS
 * (osls deploy under the deployer role) or on this machine (a local stage served by serverless-offline).
 */
import { access, copyFile, cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { artifactOutputDirectory, LOCAL_ENV, secondarySourceVariable, STEP_ENV } from '../model/contract.js';
import { FailureError, InputError } from '../model/errors.js';
import { PACKAGE_ARTIFACT } from '../model/plan.js';
import { environmentForRole, RefreshingCredentialsServer } from './credentials-server.js';
import { nodeProcessTable } from '../runtime/process.js';
import { serveRelease, type DeploymentRecords } from './local-deployments.js';
import { createRelease, emulationNotes, readRelease, type ReleaseInfo } from './local-releases.js';
import { serviceUrlOf, stackOutputsOfServer, type ServerInfo, type ServerSeams } from './local-server.js';
import { writeStageFunctions } from './invoke.js';
import { eventsOfState } from './service-events.js';
import { PACKAGE_MANIFEST_FILE, readPackageManifest, stageOfManifest, verifyAnchoredDigest, verifyPackage, type PackageManifest, type PackageManifestStage } from './package-manifest.js';
import { rolesWithoutBoundary } from './role-boundary.js';
import { findOsls } from './serverless-flavor.js';
import { runOsls, serviceEnv, STATE_FILE, TEMPLATE_FILE } from './serverless-package.js';
import { announce, runShellLine } from './shell.js';
import { stackOutputsFileToWrite, writeStackOutputs } from './stack-outputs.js';
import type { StepDependencies, StepRequest, StepResult } from './step-types.js';

/** How long each deployer role session lasts; role chaining (CodeBuild's role → deployer) caps it at one hour. */
export const ROLE_SESSION_SECONDS = 3600;

/** Where a step deploys: AWS (as in CodeBuild) unless the local engine says `local`. */
export function targetOf(env: NodeJS.ProcessEnv): 'aws' | 'local' {
  return env[LOCAL_ENV.target] === 'local' ? 'local' : 'aws';
}

/** The Package folder a deploy reads: `--package`, else the `Package` input artifact, else this folder's own `.pipeline/Package`. */
export function packageDirOf(request: StepRequest, deps: StepDependencies): string {
  const given = request.packageDir ?? deps.env[secondarySourceVariable(PACKAGE_ARTIFACT)];
  return given ? path.resolve(deps.cwd, given) : path.join(deps.cwd, artifactOutputDirectory(PACKAGE_ARTIFACT));
}

/**
 * Deploy the Package to one environment.
 *
 * @throws InputError on a missing manifest, stage or local home
 * @throws FailureError when the Package was tampered with, the role cannot be assumed, or the deploy fails
 */
export async function deployStep(request: StepRequest, deps: StepDependencies, stage: string, packageDir = packageDirOf(request, deps)): Promise<StepResult> {
  const step = request.step;
  const manifest = await readPackageManifest(packageDir);
  const manifestFile = path.join(packageDir, PACKAGE_MANIFEST_FILE);
  const entry = manifest.stages.length > 0 || manifest.flavor === 'serverless' ? stageOfManifest(manifest, stage, manifestFile) : undefined;
  const region = request.region ?? deps.env[STEP_ENV.targetRegion] ?? entry?.region;
  if (!region) {
    throw new InputError(`step ${step} needs the target region`, [{ where: '--region', message: 'give --region, or set TARGET_REGION' }]);
  }
  if (entry && entry.region !== region) {
    // The region is baked into the stage template (ARNs, endpoints): it cannot be moved elsewhere.
    throw new InputError(`the ${stage} package was made for ${entry.region}, not ${region}`, [
      { where: '--region', message: `deploy ${stage} to ${entry.region}, or package it with --stage ${stage}@${region}` },
    ]);
  }
  await verifyPackage(packageDir, manifest);
  announce(deps.output, step, manifest.bundle ? `package verified: ${manifest.bundle.file} sha256 ${manifest.bundle.sha256}` : `package verified: ${Object.keys(manifest.files).length} files`);
  const anchored = await verifyAnchoredDigest(packageDir, manifest, deps.env);
  if (anchored) announce(deps.output, step, anchored);
  if (entry && manifest.flavor === 'serverless') {
    const boundary = await verifyRoleBoundaries(packageDir, entry, deps.env);
    if (boundary) announce(deps.output, step, boundary);
  }
  const target = targetOf(deps.env);
  const commands = request.commands ?? [];
  const env = { ...deps.env, [STEP_ENV.stage]: stage, [STEP_ENV.targetRegion]: region, PACKAGE_DIR: packageDir };

  if (target === 'local') {
    if (commands.length > 0 || request.flavor === 'custom') {
      await runCommands(request, deps, commands, env);
      return { step, summary: `ran the deploy commands for ${stage} (local target)`, files: { stackOutputs: await ensureOutputs(deps, stage) } };
    }
    return deployLocally(request, deps, manifest, packageDir, stage, region);
  }

  const useOsls = commands.length === 0 && request.flavor !== 'custom';
  if (useOsls && (!manifest.bundle || !entry)) {
    throw new InputError(`the package at ${packageDir} has no code bundle to deploy with osls`, [{ where: manifestFile, message: 'it was made by custom commands; deploy it with --command' }]);
  }
  // Found before the role is assumed: bad input fails before anything runs.
  const osls = useOsls ? await findOsls(deps.cwd) : undefined;
  const roleArn = deps.env[STEP_ENV.deployerRoleArn];
  let credentials: RefreshingCredentialsServer | undefined;
  let childEnv: NodeJS.ProcessEnv = env;
  // Made before the credentials server starts: nothing between its start and the `finally`
  // that stops it may throw, or the server would keep the process alive.
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'service-pipelines-deploy-'));
  if (roleArn) {
    announce(deps.output, step, `assuming ${roleArn} (credentials kept in memory, served to the deploy on 127.0.0.1 and refreshed before they expire)`);
    credentials = new RefreshingCredentialsServer({
      aws: deps.aws,
      clock: deps.clock,
      request: { roleArn, region, sessionName: sessionNameOf(manifest.service, stage), durationSeconds: ROLE_SESSION_SECONDS },
    });
    try {
      childEnv = environmentForRole(env, await credentials.start(), region);
    } catch (error) {
      await credentials.stop().catch(() => undefined);
      await rm(scratch, { recursive: true, force: true });
      throw error;
    }
  } else {
    announce(deps.output, step, 'DEPLOYER_ROLE_ARN is not set: deploying with the ambient AWS credentials');
  }
  try {
    if (!osls || !manifest.bundle || !entry) {
      await runCommands(request, deps, commands, childEnv);
    } else {
      // osls deploy --package takes the bundle from that folder under its own name: give it the verified copy.
      const deployDir = path.join(scratch, stage);
      await cp(path.join(packageDir, entry.directory), deployDir, { recursive: true });
      await copyFile(path.join(packageDir, manifest.bundle.file), path.join(deployDir, path.basename(manifest.bundle.file)));
      await runOsls(osls, ['deploy', '--package', deployDir, '--stage', stage, '--region', region], deps.cwd, { ...deps, env: childEnv }, {}, step);
    }
    if (entry?.stackName) {
      const outputs = await deps.aws.describeStackOutputs({
        stackName: entry.stackName,
        region,
        ...(credentials ? { credentials: await credentials.credentials() } : {}),
      });
      const file = await writeStackOutputs(deps.cwd, stage, outputs);
      announce(deps.output, step, `stack ${entry.stackName} outputs: ${Object.keys(outputs).join(', ') || 'none'} → ${file}`);
      if (manifest.flavor === 'serverless') {
        const { functions } = eventsOfState(await readJsonFile(path.join(packageDir, entry.directory, STATE_FILE)));
        await writeStageFunctions(deps.cwd, stage, { target: 'aws', region, functions });
      }
      return { step, summary: `deployed ${manifest.service} to ${stage} (${region})`, files: { stackOutputs: file } };
    }
    return { step, summary: `deployed ${manifest.service} to ${stage} (${region})`, files: { stackOutputs: await ensureOutputs(deps, stage) } };
  } finally {
    await credentials?.stop();
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * When the environment has a permissions boundary (`PERMISSIONS_BOUNDARY_ARN`), every role the
 * stage's template creates must carry it: the deployer may create no other (in AWS the deploy would
 * fail half-way with AccessDenied; locally nothing else would tell).
 *
 * @returns a line for the step's log, or undefined when no boundary is given
 * @throws FailureError naming each role that does not carry it
 */
async function verifyRoleBoundaries(packageDir: string, entry: PackageManifestStage, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const boundary = env[STEP_ENV.permissionsBoundaryArn];
  if (!boundary) {
    return undefined;
  }
  const file = path.join(packageDir, entry.directory, TEMPLATE_FILE);
  const template: unknown = JSON.parse(await readFile(file, 'utf8'));
  const missing = rolesWithoutBoundary(template, boundary);
  if (missing.length > 0) {
    throw new FailureError(
      `refusing to deploy: the ${entry.name} template creates roles without the permissions boundary ${boundary} (${file}): ` +
        `${missing.map((m) => m.description).join('; ')}. The steps set it on the role osls makes; ` +
        `a role of your own needs \`PermissionsBoundary: \${env:PERMISSIONS_BOUNDARY_ARN}\` (set when each environment is packaged)` +
        `${entry.permissionsBoundary === undefined ? `, and the package must be made for it: step package --permissions-boundary ${entry.name}=${boundary}` : ''}`,
    );
  }
  return `every role of the ${entry.name} template carries the permissions boundary ${boundary}`;
}

async function deployLocally(
  request: StepRequest,
  deps: StepDependencies,
  manifest: PackageManifest,
  packageDir: string,
  stage: string,
  region: string,
): Promise<StepResult> {
  const home = localHome(deps, request.step);
  if (!manifest.bundle) {
    throw new InputError(`the package at ${packageDir} has no code bundle to serve locally`, [{ where: path.join(packageDir, PACKAGE_MANIFEST_FILE), message: 'it was made by custom commands; deploy it with --command' }]);
  }
  const entry = stageOfManifest(manifest, stage, path.join(packageDir, PACKAGE_MANIFEST_FILE));
  const executionId = deps.env[LOCAL_ENV.executionId];
  // Local releases are kept under the pipeline's name (SERVICE_NAME), where the engine, rollback and `up` look.
  const service = localServiceName(deps, manifest);
  const release = await createRelease(home, service, stage, {
    bundle: path.join(packageDir, manifest.bundle.file),
    packageSha256: manifest.bundle.sha256,
    deploymentDir: path.join(packageDir, entry.directory),
    serviceDir: deps.cwd,
    region,
    clock: deps.clock,
    ...(executionId ? { executionId } : {}),
  });
  announce(deps.output, request.step, `release ${release.release} of ${service}/${stage}: starting serverless-offline`);
  for (const line of emulationNotes(release)) {
    announce(deps.output, request.step, line);
  }
  const { server } = await withRecords(deps, request.step, (records) =>
    serveRelease(home, records, service, stage, serverSeams(deps), { release: release.release, env: deps.env, ...(executionId ? { executionId } : {}) }),
  );
  const file = await writeLocalOutputs(deps, stage, server, release);
  announce(deps.output, request.step, `${service}/${stage} release ${release.release} serves ${serviceUrlOf(server, release)} (pid ${server.pid})`);
  return { step: request.step, summary: `deployed release ${release.release} of ${service} to the local stage ${stage}: ${serviceUrlOf(server, release)}`, files: { stackOutputs: file } };
}

/** The seams a local deployment's server goes through. */
function serverSeams(deps: StepDependencies): ServerSeams {
  return { processes: deps.processes, processTable: deps.processTable ?? nodeProcessTable, clock: deps.clock };
}

/** Run with the local deployment records open (and closed after). */
async function withRecords<T>(deps: StepDependencies, step: string, use: (records: DeploymentRecords) => Promise<T>): Promise<T> {
  if (!deps.localDeployments) {
    throw new InputError(`step ${step} with ${LOCAL_ENV.target}=local needs the local deployment records`, [
      { where: LOCAL_ENV.target, message: 'run it through `service-pipelines step` or the local engine, which keep them' },
    ]);
  }
  const records = await deps.localDeployments(localHome(deps, step));
  try {
    return await use(records);
  } finally {
    records.close();
  }
}

/** The name a service's local stages are kept under: the pipeline's (SERVICE_NAME), else the package's. */
function localServiceName(deps: StepDependencies, manifest: PackageManifest): string {
  return deps.env[STEP_ENV.serviceName] || manifest.service;
}

/** What a served local stage gives acceptance tests: the stack outputs as in AWS, and where to invoke its functions. */
async function writeLocalOutputs(deps: StepDependencies, stage: string, server: ServerInfo, release: ReleaseInfo): Promise<string> {
  await writeStageFunctions(deps.cwd, stage, {
    target: 'local',
    region: release.region,
    lambdaEndpoint: `http://127.0.0.1:${server.lambdaPort}`,
    localStage: { home: localHome(deps, 'deploy'), service: release.service },
    functions: release.functions ?? {},
  });
  return writeStackOutputs(deps.cwd, stage, stackOutputsOfServer(server, release));
}

async function readJsonFile(file: string): Promise<unknown> {
  return JSON.parse(await readFile(file, 'utf8'));
}

/**
 * Roll an environment back. Locally: serve the last good release again. In AWS: redeploy a
 * previous Package given with `--package`; without one, CodePipeline's stage rollback does it.
 *
 * @throws InputError when there is nothing to roll back to
 */
export async function rollbackStep(request: StepRequest, deps: StepDependencies, stage: string): Promise<StepResult> {
  const commands = request.commands ?? [];
  if (commands.length > 0 || request.flavor === 'custom') {
    return deployStep(request, deps, stage);
  }
  if (targetOf(deps.env) === 'aws') {
    if (!request.packageDir) {
      throw new InputError(`nothing to roll ${stage} back to: no previous package was given`, [
        {
          where: '--package',
          message:
            'give the folder of a previous Package artifact to redeploy it; in AWS a stage with onFailure: ROLLBACK is rolled back by CodePipeline itself (it redeploys the last successful execution artifacts)',
        },
      ]);
    }
    return deployStep(request, deps, stage, path.resolve(deps.cwd, request.packageDir));
  }
  const home = localHome(deps, request.step);
  const service = deps.env[STEP_ENV.serviceName] || (await serviceNameFromPackage(request, deps));
  const executionId = deps.env[LOCAL_ENV.executionId];
  const { server, release } = await withRecords(deps, request.step, async (records) => {
    const lastGood = (await records.get(service, stage))?.lastGood;
    if (!lastGood) {
      throw new FailureError(`step rollback failed: ${service}/${stage} has no last good release to roll back to (no acceptance tests have passed there yet)`);
    }
    if (!(await readRelease(home, service, stage, lastGood.release))) {
      throw new FailureError(`step rollback failed: the last good release ${lastGood.release} of ${service}/${stage} is gone from ${home}`);
    }
    announce(deps.output, request.step, `rolling ${service}/${stage} back to release ${lastGood.release} (last good, from execution ${lastGood.executionId})`);
    return serveRelease(home, records, service, stage, serverSeams(deps), { release: lastGood.release, env: deps.env, ...(executionId ? { executionId } : {}) });
  });
  const file = await writeLocalOutputs(deps, stage, server, release);
  return { step: request.step, summary: `rolled ${service}/${stage} back to release ${release.release}: ${serviceUrlOf(server, release)}`, files: { stackOutputs: file } };
}

async function serviceNameFromPackage(request: StepRequest, deps: StepDependencies): Promise<string> {
  const manifest = await readPackageManifest(packageDirOf(request, deps)).catch(() => undefined);
  if (!manifest) {
    throw new InputError('step rollback needs the service name', [{ where: STEP_ENV.serviceName, message: 'set SERVICE_NAME (the local engine does), or run where the Package is' }]);
  }
  return manifest.service;
}

function localHome(deps: StepDependencies, step: string): string {
  const home = deps.env[LOCAL_ENV.home];
  if (!home) {
    throw new InputError(`step ${step} with ${LOCAL_ENV.target}=local needs the local state folder`, [
      { where: LOCAL_ENV.home, message: 'set it to the absolute path of .service-pipelines/ (the local engine does)' },
    ]);
  }
  return path.resolve(deps.cwd, home);
}

async function runCommands(request: StepRequest, deps: StepDependencies, commands: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  if (commands.length === 0) {
    throw new InputError(`the custom flavor has no default ${request.step} command`, [{ where: '--command', message: `give the shell line(s) of the ${request.step} step` }]);
  }
  for (const line of commands) {
    await runShellLine(line, { step: request.step, cwd: deps.cwd, env: serviceEnv(deps.cwd, env), processes: deps.processes, output: deps.output });
  }
}

/** A custom deploy may write its own outputs; when it did not, an empty map keeps the contract. */
async function ensureOutputs(deps: StepDependencies, stage: string): Promise<string> {
  const file = stackOutputsFileToWrite(deps.cwd, stage);
  if (await access(file).then(() => true, () => false)) {
    return file;
  }
  return writeStackOutputs(deps.cwd, stage, {});
}

/** An STS session name (2-64 characters of [\w+=,.@-]) naming the service and stage, as CloudTrail shows it. */
export function sessionNameOf(service: string, stage: string): string {
  return `sp-${service}-${stage}`.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
}
