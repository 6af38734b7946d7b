/**
 * `step package` for the serverless flavor: the code bundle built ONCE, then one deployment
 * template per environment, each referencing that same zip (osls stages are baked into the
 * template, so every environment needs its own, but the code must be the bytes that were tested).
 *
 * How: `osls package` once to build the zip; then, per environment, `osls package` with
 * `package.artifact` pointing at that zip, which makes osls reference it instead of zipping again.
 * osls runs with an overlay of the service's YAML/JSON config (see `config-overlay.ts`), so the
 * service needs no change; a JS/TS config must read the bundle from the
 * `SERVICE_PIPELINES_PACKAGE_ARTIFACT` variable. Either way the result is checked.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FailureError, InputError } from '../model/errors.js';
import { artifactOutputDirectory, STEP_ENV } from '../model/contract.js';
import { PACKAGE_ARTIFACT } from '../model/plan.js';
import { checkBundleSize, measureBundle, megabytes } from './bundle-size.js';
import { installedOslsVersion, writeConfigOverlay, type OverlayEdits } from './config-overlay.js';
import { devDependencyExcludes } from './dev-dependencies.js';
import { PACKAGE_MANIFEST_FILE, sha256File, type PackageManifest } from './package-manifest.js';
import { rolesWithoutBoundary } from './role-boundary.js';
import { findOsls, findServerlessConfig, serviceEnv } from './serverless-flavor.js';

export { serviceEnv };
import { announce, runProgram } from './shell.js';
import type { PackageStage, StepDependencies, StepName } from './step-types.js';

/** The variable a JS/TS serverless config reads the bundle path from (`package.artifact`). */
export const PACKAGE_ARTIFACT_VARIABLE = 'SERVICE_PIPELINES_PACKAGE_ARTIFACT';

/** What `packageServerless` produced. */
export interface ServerlessPackageResult {
  readonly packageDir: string;
  readonly manifest: PackageManifest;
}

/**
 * Package a serverless service once for several environments into `.pipeline/Package/`.
 * The folder is replaced whole at the end: a failed run leaves the previous one as it was.
 *
 * @throws InputError when osls or the config is missing, the config cannot run with osls, or the service packages functions individually
 * @throws FailureError when osls fails, did not reference the bundle, or the bundle is past Lambda's size limit
 */
export async function packageServerless(
  serviceDir: string,
  stages: readonly PackageStage[],
  deps: StepDependencies,
  sourceVersion?: string,
): Promise<ServerlessPackageResult> {
  const osls = await findOsls(serviceDir);
  const configFile = await findServerlessConfig(serviceDir);
  const packageDir = path.join(serviceDir, artifactOutputDirectory(PACKAGE_ARTIFACT));
  const oslsVersion = await installedOslsVersion(serviceDir);
  const devExcludes = await devDependencyExcludes(serviceDir);
  if (devExcludes === undefined) {
    announce(deps.output, 'package', 'no lockfile records the installed modules: osls finds the devDependencies to leave out itself (`npm ls`)');
  }
  const common: OverlayEdits = { ...(oslsVersion ? { oslsVersion } : {}), ...(devExcludes ? { devDependencyExcludes: devExcludes } : {}) };
  const staging = path.join(path.dirname(packageDir), `.${PACKAGE_ARTIFACT}-${randomBytes(4).toString('hex')}`);
  await mkdir(staging, { recursive: true });
  try {
    const first = stages[0]!;
    const buildDir = path.join(staging, '.build');
    await runOslsWithOverlay(osls, configFile, common, ['package', '--stage', first.name, '--region', first.region, '--package', buildDir], serviceDir, deps, {});
    const zips = (await readdir(buildDir)).filter((name) => name.endsWith('.zip'));
    if (zips.length !== 1) {
      throw new InputError(`osls made ${zips.length} code bundles; packaging once needs exactly one`, [
        {
          where: configFile,
          message:
            zips.length === 0
              ? 'no zip was produced (image functions?); use --flavor custom'
              : `found ${zips.join(', ')}: remove package.individually so that all functions share one bundle`,
        },
      ]);
    }
    const bundleName = zips[0]!;
    const bundleRelative = `bundle/${bundleName}`;
    const bundle = path.join(staging, bundleRelative);
    await mkdir(path.dirname(bundle), { recursive: true });
    await rename(path.join(buildDir, bundleName), bundle);
    await rm(buildDir, { recursive: true, force: true });
    const size = await measureBundle(bundle);
    checkBundleSize(bundleName, size);
    const bundleSha256 = await sha256File(bundle);
    const bytes = (await stat(bundle)).size;
    announce(deps.output, 'package', `code bundle ${bundleName}: ${megabytes(bytes)}, ${megabytes(size.bytes)} in ${size.files} files once extracted; sha256 ${bundleSha256}`);

    // One environment after the other: osls stages its output in the service's own .serverless/
    // before moving it to --package, so two runs in one folder would take each other's files.
    const packaged: Array<{ stage: PackageManifest['stages'][number]; digests: Array<[string, string]>; serverlessService: string }> = [];
    for (const stage of stages) {
      const directory = `stages/${stage.name}`;
      const stageDir = path.join(staging, directory);
      await runOslsWithOverlay(
        osls,
        configFile,
        { ...common, artifact: bundle, ...(stage.permissionsBoundary ? { permissionsBoundary: stage.permissionsBoundary } : {}) },
        ['package', '--stage', stage.name, '--region', stage.region, '--package', stageDir],
        serviceDir,
        deps,
        { [PACKAGE_ARTIFACT_VARIABLE]: bundle, ...(stage.permissionsBoundary ? { [STEP_ENV.permissionsBoundaryArn]: stage.permissionsBoundary } : {}) },
      );
      const state = await referenceBundle(stageDir, bundleName, stage);
      if (stage.permissionsBoundary) {
        const missing = rolesWithoutBoundary(JSON.parse(await readFile(path.join(stageDir, TEMPLATE_FILE), 'utf8')), stage.permissionsBoundary);
        if (missing.length > 0) {
          announce(deps.output, 'package', `warning: in the ${stage.name} template, ${missing.map((m) => m.description).join('; ')}: its deploy will refuse it`);
        }
      }
      const digests: Array<[string, string]> = [];
      for (const name of (await readdir(stageDir)).sort()) {
        digests.push([`${directory}/${name}`, await sha256File(path.join(stageDir, name))]);
      }
      packaged.push({
        stage: { name: stage.name, region: stage.region, directory, stackName: state.stackName, ...(stage.permissionsBoundary ? { permissionsBoundary: stage.permissionsBoundary } : {}) },
        digests,
        serverlessService: state.serverlessService,
      });
    }
    const files: Record<string, string> = Object.fromEntries(packaged.flatMap((p) => p.digests));
    const manifestStages: PackageManifest['stages'] = packaged.map((p) => p.stage);
    const serverlessService = packaged[0]!.serverlessService;

    const manifest: PackageManifest = {
      schemaVersion: 1,
      // Local releases are kept under the pipeline's name; the stacks take serverless.yml's.
      service: deps.env[STEP_ENV.serviceName] || serverlessService,
      serverlessService,
      flavor: 'serverless',
      createdAt: new Date(deps.clock.now()).toISOString(),
      ...(sourceVersion ? { sourceVersion } : {}),
      bundle: { file: bundleRelative, sha256: bundleSha256, bytes, unzippedBytes: size.bytes },
      stages: manifestStages,
      files,
    };
    await writeFile(path.join(staging, PACKAGE_MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    await rm(packageDir, { recursive: true, force: true });
    await rename(staging, packageDir);
    return { packageDir, manifest };
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}

/** The deployment template osls writes into a package folder. */
export const TEMPLATE_FILE = 'cloudformation-template-update-stack.json';
/** The service as osls resolved it for one stage (functions, events, provider), in a package folder. */
export const STATE_FILE = 'serverless-state.json';

/**
 * Run osls with an overlay of the service's config (removed afterwards). What osls prints about the
 * overlay is said of the service's own config file, which is the one to fix.
 */
async function runOslsWithOverlay(
  osls: string,
  configFile: string,
  edits: OverlayEdits,
  args: readonly string[],
  serviceDir: string,
  deps: StepDependencies,
  extraEnv: NodeJS.ProcessEnv,
): Promise<void> {
  const written = await writeConfigOverlay(configFile, edits);
  try {
    if (written?.overlay.changes.length) {
      announce(deps.output, 'package', `osls runs with ${path.basename(configFile)} as the pipelines adapt it: ${written.overlay.changes.join('; ')}`);
    }
    const overlayName = written ? path.basename(written.file) : undefined;
    await runOsls(osls, [...args, ...(overlayName ? ['--config', overlayName] : [])], serviceDir, deps, extraEnv, 'package', overlayName ? { [overlayName]: path.basename(configFile) } : {});
  } finally {
    if (written) await rm(written.file, { force: true });
  }
}

/**
 * Check that osls referenced the bundle rather than building its own, and make the stage's state
 * portable: osls records the bundle's absolute path of this machine per function, which the
 * deploy (another container) would look for. Without it, `osls deploy --package` takes the bundle
 * from the package folder under its own name, which is where `step deploy` puts the verified copy.
 */
async function referenceBundle(stageDir: string, bundleName: string, stage: PackageStage): Promise<{ stackName: string; serverlessService: string }> {
  const names = await readdir(stageDir);
  const rebuilt = names.filter((name) => name.endsWith('.zip'));
  if (rebuilt.length > 0) {
    throw new FailureError(
      `step package failed: osls built its own bundle (${rebuilt.join(', ')}) for stage ${stage.name} instead of referencing ${bundleName}; ` +
        `a JS/TS serverless config must set package.artifact from process.env.${PACKAGE_ARTIFACT_VARIABLE}`,
    );
  }
  const stateFile = path.join(stageDir, 'serverless-state.json');
  const state = JSON.parse(await readFile(stateFile, 'utf8')) as {
    service: { service?: string; provider?: { stackName?: string }; functions?: Record<string, { package?: { artifact?: string } }> };
    package: { artifact?: string };
  };
  if (state.package.artifact !== bundleName) {
    throw new FailureError(`step package failed: the ${stage.name} package references "${state.package.artifact ?? 'no bundle'}", not ${bundleName}`);
  }
  for (const fn of Object.values(state.service.functions ?? {})) {
    if (fn.package?.artifact) {
      delete fn.package.artifact;
    }
  }
  await writeFile(stateFile, `${JSON.stringify(state, null, 2)}\n`);
  const serverlessService = state.service.service;
  if (!serverlessService) {
    throw new FailureError(`step package failed: the ${stage.name} package (${stateFile}) records no service name`);
  }
  const stackName = state.service.provider?.stackName ?? `${serverlessService}-${stage.name}`;
  return { stackName, serverlessService };
}

/** Run osls from the service folder, printing the command line. */
export async function runOsls(
  osls: string,
  args: readonly string[],
  serviceDir: string,
  deps: Pick<StepDependencies, 'env' | 'processes' | 'output'>,
  extraEnv: NodeJS.ProcessEnv,
  step: StepName = 'package',
  renamedFiles: Readonly<Record<string, string>> = {},
): Promise<void> {
  const renames = Object.entries(renamedFiles);
  const rename = (text: string) => renames.reduce((result, [from, to]) => result.split(from).join(to), text);
  // The overlay is a temporary copy, gone once osls ends: the service's own config is what to read and fix.
  const display = rename(['osls', ...args].join(' '));
  announce(deps.output, step, `$ ${display}`);
  await runProgram(osls, args, {
    step,
    cwd: serviceDir,
    env: { ...serviceEnv(serviceDir, deps.env), ...extraEnv },
    processes: deps.processes,
    output: deps.output,
    display,
    ...(renames.length ? { rewriteLine: rename } : {}),
  });
}


