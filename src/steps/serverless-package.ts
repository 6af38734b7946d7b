/**
 * `step package` for the serverless flavor: the code bundle built ONCE, then one deployment
 * template per environment, each referencing that same zip (osls stages are baked into the
 * template, so every environment needs its own, but the code must be the bytes that were tested).
 *
 * How: `osls package` once to build the zip; then, per environment, `osls package` with
 * `package.artifact` pointing at that zip, which makes osls reference it instead of zipping again.
 * The artifact is set through a copy of the service's YAML/JSON config written beside it for the
 * run (so the service needs no change); a JS/TS config must read it from the
 * `SERVICE_PIPELINES_PACKAGE_ARTIFACT` variable. Either way the result is checked.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { FailureError, InputError } from '../model/errors.js';
import { artifactOutputDirectory } from '../model/contract.js';
import { PACKAGE_ARTIFACT } from '../model/plan.js';
import { PACKAGE_MANIFEST_FILE, sha256File, type PackageManifest } from './package-manifest.js';
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
 * @throws InputError when osls or the config is missing, or the service packages functions individually
 * @throws FailureError when osls fails, or did not reference the bundle
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
  const staging = path.join(path.dirname(packageDir), `.${PACKAGE_ARTIFACT}-${randomBytes(4).toString('hex')}`);
  await mkdir(staging, { recursive: true });
  try {
    const first = stages[0]!;
    const buildDir = path.join(staging, '.build');
    // Built through an overlay that keeps this tool's own folders (earlier packages, local state
    // and logs) out of the bundle, whatever the service's patterns say.
    const buildOverlay = await writeConfigOverlay(configFile, {});
    try {
      await runOsls(
        osls,
        ['package', '--stage', first.name, '--region', first.region, '--package', buildDir, ...(buildOverlay ? ['--config', path.basename(buildOverlay)] : [])],
        serviceDir,
        deps,
        {},
      );
    } finally {
      if (buildOverlay) await rm(buildOverlay, { force: true });
    }
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
    const bundleSha256 = await sha256File(bundle);
    announce(deps.output, 'package', `code bundle ${bundleName}: sha256 ${bundleSha256}`);

    // One environment after the other: osls stages its output in the service's own .serverless/
    // before moving it to --package, so two runs in one folder would take each other's files.
    const packaged: Array<{ stage: PackageManifest['stages'][number]; digests: Array<[string, string]> }> = [];
    for (const stage of stages) {
      const directory = `stages/${stage.name}`;
      const stageDir = path.join(staging, directory);
      await packageStage(osls, configFile, serviceDir, stage, stageDir, bundle, deps);
      const state = await referenceBundle(stageDir, bundleName, stage);
      const digests: Array<[string, string]> = [];
      for (const name of (await readdir(stageDir)).sort()) {
        digests.push([`${directory}/${name}`, await sha256File(path.join(stageDir, name))]);
      }
      packaged.push({ stage: { name: stage.name, region: stage.region, directory, stackName: state.stackName }, digests });
    }
    const files: Record<string, string> = Object.fromEntries(packaged.flatMap((p) => p.digests));
    const manifestStages: PackageManifest['stages'] = packaged.map((p) => p.stage);

    const manifest: PackageManifest = {
      schemaVersion: 1,
      service: (await stateServiceName(path.join(staging, manifestStages[0]!.directory))) ?? path.basename(serviceDir),
      flavor: 'serverless',
      createdAt: new Date(deps.clock.now()).toISOString(),
      ...(sourceVersion ? { sourceVersion } : {}),
      bundle: { file: bundleRelative, sha256: bundleSha256, bytes: (await stat(bundle)).size },
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

async function packageStage(
  osls: string,
  configFile: string,
  serviceDir: string,
  stage: PackageStage,
  stageDir: string,
  bundle: string,
  deps: StepDependencies,
): Promise<void> {
  const overlay = await writeConfigOverlay(configFile, { artifact: bundle });
  try {
    const args = ['package', '--stage', stage.name, '--region', stage.region, '--package', stageDir];
    if (overlay) {
      args.push('--config', path.basename(overlay));
    }
    await runOsls(osls, args, serviceDir, deps, { [PACKAGE_ARTIFACT_VARIABLE]: bundle });
  } finally {
    if (overlay) {
      await rm(overlay, { force: true });
    }
  }
}

/** Folders of this tool that never belong in a code bundle. */
const LOCAL_STATE_EXCLUDES = ['!.pipeline/**', '!.service-pipelines/**'];

/**
 * A copy of a YAML or JSON serverless config with `package.artifact` set (when given) and this tool's folders excluded, beside the original (osls
 * resolves paths against the config's folder). Comments, anchors and CloudFormation tags (`!Ref`)
 * are kept. Undefined for JS/TS configs, which read `SERVICE_PIPELINES_PACKAGE_ARTIFACT` themselves.
 */
export async function writeConfigOverlay(configFile: string, edit: { artifact?: string }): Promise<string | undefined> {
  const extension = path.extname(configFile);
  if (!['.yml', '.yaml', '.json'].includes(extension)) {
    return undefined;
  }
  const text = await readFile(configFile, 'utf8');
  const document = parseDocument(text);
  if (document.errors.length > 0) {
    const error = document.errors[0]!;
    const [line, column] = error.linePos?.[0] ? [error.linePos[0].line, error.linePos[0].col] : [1, 1];
    throw new InputError(`the serverless config ${configFile} does not parse`, [{ where: `${configFile}:${line}:${column}`, message: error.message.split('\n')[0]! }]);
  }
  if (edit.artifact !== undefined) {
    document.setIn(['package', 'artifact'], edit.artifact);
  }
  const patterns = document.getIn(['package', 'patterns']);
  const existing = patterns && typeof patterns === 'object' && 'toJSON' in patterns ? ((patterns as { toJSON(): unknown }).toJSON() as unknown[]) : [];
  document.setIn(['package', 'patterns'], [...existing, ...LOCAL_STATE_EXCLUDES]);
  const overlay = path.join(path.dirname(configFile), `serverless.service-pipelines-${randomBytes(4).toString('hex')}${extension === '.json' ? '.json' : '.yml'}`);
  await writeFile(overlay, extension === '.json' ? `${JSON.stringify(document.toJS(), null, 2)}\n` : document.toString());
  return overlay;
}

/**
 * Check that osls referenced the bundle rather than building its own, and make the stage's state
 * portable: osls records the bundle's absolute path of this machine per function, which the
 * deploy (another container) would look for. Without it, `osls deploy --package` takes the bundle
 * from the package folder under its own name, which is where `step deploy` puts the verified copy.
 */
async function referenceBundle(stageDir: string, bundleName: string, stage: PackageStage): Promise<{ stackName: string }> {
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
  const stackName = state.service.provider?.stackName ?? `${state.service.service}-${stage.name}`;
  return { stackName };
}

async function stateServiceName(stageDir: string): Promise<string | undefined> {
  const state = JSON.parse(await readFile(path.join(stageDir, 'serverless-state.json'), 'utf8')) as { service?: { service?: string } };
  return state.service?.service;
}

/** Run osls from the service folder, printing the command line. */
export async function runOsls(
  osls: string,
  args: readonly string[],
  serviceDir: string,
  deps: Pick<StepDependencies, 'env' | 'processes' | 'output'>,
  extraEnv: NodeJS.ProcessEnv,
  step: StepName = 'package',
): Promise<void> {
  const display = ['osls', ...args].join(' ');
  announce(deps.output, step, `$ ${display}`);
  await runProgram(osls, args, {
    step,
    cwd: serviceDir,
    env: { ...serviceEnv(serviceDir, deps.env), ...extraEnv },
    processes: deps.processes,
    output: deps.output,
    display,
  });
}


