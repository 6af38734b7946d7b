/**
 * `service-pipelines step <name>`: one step of the service in the current folder, the successor
 * of the article's build.sh. The same code runs in CodeBuild (the AWS engine's buildspecs call it)
 * and on a laptop or in the local engine.
 */
import { access, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { artifactOutputDirectory, LOCAL_ENV, STEP_ENV } from '../model/contract.js';
import { FailureError, InputError } from '../model/errors.js';
import { PACKAGE_ARTIFACT } from '../model/plan.js';
import type { StepName } from '../model/plan-schema.js';
import { stepNames } from '../model/step-names.js';
import { InstallCache } from './install-cache.js';
import type { PackageManifest } from './package-manifest.js';
import { npmCommandOfScript, NPM_SCRIPT_OF_STEP, requireNpmScript, serviceEnv } from './serverless-flavor.js';
import { announce, runShellLine } from './shell.js';
import { acceptanceVariables, readStackOutputs } from './stack-outputs.js';
import type { PackageStage, StepDependencies, StepRequest, StepResult } from './step-types.js';

/** This installation's CLI (`bin/service-pipelines.js`), from `src/steps/` or `dist/steps/`: what `SERVICE_INVOKE` runs. */
const CLI_PATH = fileURLToPath(new URL('../../bin/service-pipelines.js', import.meta.url));

/** Whether a name is a step, for the CLI's check. */
export function isStepName(name: string): name is StepName {
  return (stepNames as readonly string[]).includes(name);
}

/** The steps that act on one environment and so need `--stage`. */
const STAGED_STEPS: readonly StepName[] = ['deploy', 'test-acceptance', 'rollback'];

/**
 * Run one step.
 *
 * @throws InputError on bad input (a missing --stage, script, manifest...): nothing has run
 * @throws FailureError when a command of the step fails (named with the step)
 */
export async function runStep(request: StepRequest, deps: StepDependencies): Promise<StepResult> {
  const started = deps.clock.now();
  const result = await dispatch(request, deps);
  announce(deps.output, request.step, `${result.summary} (${((deps.clock.now() - started) / 1000).toFixed(1)} s)`);
  return result;
}

async function dispatch(request: StepRequest, deps: StepDependencies): Promise<StepResult> {
  const stage = request.stage;
  if (STAGED_STEPS.includes(request.step) && !stage) {
    throw new InputError(`step ${request.step} needs the environment it acts on`, [{ where: '--stage', message: `give --stage <environment>, e.g. step ${request.step} --stage dev` }]);
  }
  switch (request.step) {
    case 'install':
      return installStep(request, deps);
    case 'lint':
    case 'test-unit':
    case 'test-integration':
      return scriptStep(request, deps, {});
    case 'package':
      return packageStep(request, deps);
    case 'deploy':
      // Loaded only for the steps that need them, so that lint and test steps start fast.
      return (await import('./deploy.js')).deployStep(request, deps, stage!);
    case 'test-acceptance': {
      const { file, outputs } = await readStackOutputs(deps.cwd, stage!, deps.env);
      const { SERVICE_INVOKE_VARIABLE, serviceInvokeCommand } = await import('./invoke.js');
      const variables: Record<string, string> = { ...acceptanceVariables(outputs), [SERVICE_INVOKE_VARIABLE]: serviceInvokeCommand(CLI_PATH, stage!) };
      announce(
        deps.output,
        'test-acceptance',
        variables[STEP_ENV.serviceUrl]
          ? `SERVICE_URL=${variables[STEP_ENV.serviceUrl]} (outputs of ${stage} from ${file})`
          : `the ${stage} outputs (${file}) have neither ServiceEndpoint nor HttpApiUrl: SERVICE_URL is not set`,
      );
      return scriptStep(request, deps, variables);
    }
    case 'rollback':
      return (await import('./deploy.js')).rollbackStep(request, deps, stage!);
    default: {
      const unknown: never = request.step;
      throw new InputError(`unknown step "${String(unknown)}"`, [{ where: 'step', message: `valid steps: ${stepNames.join(', ')}` }]);
    }
  }
}

/** The environment of a step's commands: the step's own plus STAGE/TARGET_REGION when given. */
function commandEnv(request: StepRequest, deps: StepDependencies, extra: Record<string, string>): NodeJS.ProcessEnv {
  return serviceEnv(deps.cwd, {
    ...deps.env,
    ...(request.stage ? { [STEP_ENV.stage]: request.stage } : {}),
    ...(request.region ? { [STEP_ENV.targetRegion]: request.region } : {}),
    ...extra,
  });
}

async function runLines(request: StepRequest, deps: StepDependencies, lines: readonly string[], extra: Record<string, string>): Promise<void> {
  const env = commandEnv(request, deps, extra);
  for (const line of lines) {
    await runShellLine(line, { step: request.step, cwd: deps.cwd, env, processes: deps.processes, output: deps.output });
  }
}

function customCommands(request: StepRequest): readonly string[] {
  const commands = request.commands ?? [];
  if (commands.length === 0) {
    throw new InputError(`the custom flavor has no default ${request.step} command`, [{ where: '--command', message: `give the shell line(s) of the ${request.step} step` }]);
  }
  return commands;
}

async function scriptStep(request: StepRequest, deps: StepDependencies, extra: Record<string, string>): Promise<StepResult> {
  if (request.commands?.length || request.flavor === 'custom') {
    const lines = customCommands(request);
    await runLines(request, deps, lines, extra);
    return { step: request.step, summary: `${lines.length} command(s) passed` };
  }
  const script = NPM_SCRIPT_OF_STEP[request.step as keyof typeof NPM_SCRIPT_OF_STEP];
  await requireNpmScript(deps.cwd, script);
  await runLines(request, deps, [npmCommandOfScript(script)], extra);
  return { step: request.step, summary: `${npmCommandOfScript(script)} passed` };
}

async function installStep(request: StepRequest, deps: StepDependencies): Promise<StepResult> {
  if (request.commands?.length) {
    await runLines(request, deps, request.commands, {});
    return { step: 'install', summary: `${request.commands.length} command(s) passed` };
  }
  if (request.flavor === 'custom') {
    return { step: 'install', summary: 'nothing to install (custom flavor without an install command)' };
  }
  await requirePackageJson(deps.cwd);
  const home = deps.env[LOCAL_ENV.home];
  const key = await InstallCache.keyOf(deps.cwd);
  if (home && key) {
    const cache = new InstallCache({ home: path.resolve(deps.cwd, home), processes: deps.processes, ...(deps.processTable ? { processTable: deps.processTable } : {}), clock: deps.clock, output: deps.output, env: deps.env });
    const outcome = await cache.install(deps.cwd, key);
    return { step: 'install', summary: `${outcome.hit ? 'install cache hit' : 'installed into the cache'} (key ${key}); node_modules → ${outcome.modulesDir}` };
  }
  const lines = key ? ['npm ci --no-audit --no-fund'] : ['npm install --no-audit --no-fund'];
  if (!key) {
    announce(deps.output, 'install', 'no package-lock.json: `npm install` (commit a lockfile for repeatable, cacheable installs)');
  }
  await runLines(request, deps, lines, {});
  return { step: 'install', summary: 'dependencies installed' };
}

async function requirePackageJson(serviceDir: string): Promise<void> {
  const file = path.join(serviceDir, 'package.json');
  if (!(await access(file).then(() => true, () => false))) {
    throw new InputError(`no package.json in ${serviceDir}`, [{ where: file, message: 'run the step in the service folder, or use --flavor custom with --command' }]);
  }
}

async function packageStep(request: StepRequest, deps: StepDependencies): Promise<StepResult> {
  const stages = request.packageStages ?? [];
  if (stages.length === 0) {
    throw new InputError('step package needs the environments to package for', [{ where: '--stage', message: 'give --stage <name>@<region> once per environment, in promotion order' }]);
  }
  const duplicate = stages.find((s, i) => stages.findIndex((t) => t.name === s.name) !== i);
  if (duplicate) {
    throw new InputError(`stage "${duplicate.name}" is given twice`, [{ where: '--stage', message: 'give each environment once' }]);
  }
  const sourceVersion = deps.env[STEP_ENV.resolvedSourceVersion];
  const { PACKAGE_MANIFEST_FILE, writeAnchoredDigest } = await import('./package-manifest.js');
  if (request.commands?.length || request.flavor === 'custom') {
    await runLines(request, deps, customCommands(request), {});
    const manifest = await manifestOfCustomPackage(deps, stages, sourceVersion);
    const packageDir = path.join(deps.cwd, artifactOutputDirectory(PACKAGE_ARTIFACT));
    const digest = await writeAnchoredDigest(packageDir, manifest);
    return { step: 'package', summary: `package of ${Object.keys(manifest.files).length} files recorded`, files: { manifest: path.join(packageDir, PACKAGE_MANIFEST_FILE), digest } };
  }
  const { packageServerless } = await import('./serverless-package.js');
  const { packageDir, manifest } = await packageServerless(deps.cwd, stages, deps, sourceVersion);
  const digest = await writeAnchoredDigest(packageDir, manifest);
  return {
    step: 'package',
    summary: `packaged ${manifest.service} once (sha256 ${manifest.bundle!.sha256.slice(0, 12)}…) for ${stages.map((s) => s.name).join(', ')} into ${packageDir}`,
    files: { manifest: path.join(packageDir, PACKAGE_MANIFEST_FILE), digest },
  };
}

/** Custom package commands write `.pipeline/Package/`; unless they wrote a manifest, record every file's digest. */
async function manifestOfCustomPackage(deps: StepDependencies, stages: readonly PackageStage[], sourceVersion: string | undefined): Promise<PackageManifest> {
  const { PACKAGE_MANIFEST_FILE, readPackageManifest, sha256File } = await import('./package-manifest.js');
  const packageDir = path.join(deps.cwd, artifactOutputDirectory(PACKAGE_ARTIFACT));
  if (await access(path.join(packageDir, PACKAGE_MANIFEST_FILE)).then(() => true, () => false)) {
    // The commands wrote their own manifest: it must be valid, and is kept as it is.
    return readPackageManifest(packageDir);
  }
  const files: Record<string, string> = {};
  for (const relative of await listFiles(packageDir)) {
    if (relative !== PACKAGE_MANIFEST_FILE) {
      files[relative] = await sha256File(path.join(packageDir, relative));
    }
  }
  if (Object.keys(files).length === 0) {
    throw new FailureError(`step package failed: the package commands wrote nothing to ${packageDir} (write the deployable files there)`);
  }
  const manifest: PackageManifest = {
    schemaVersion: 1,
    service: deps.env[STEP_ENV.serviceName] ?? path.basename(deps.cwd),
    flavor: 'custom',
    createdAt: new Date(deps.clock.now()).toISOString(),
    ...(sourceVersion ? { sourceVersion } : {}),
    bundle: null,
    stages: stages.map((s) => ({ name: s.name, region: s.region, directory: '.' })),
    files,
  };
  await writeFile(path.join(packageDir, PACKAGE_MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

async function listFiles(root: string, prefix = ''): Promise<string[]> {
  const entries = await readdir(path.join(root, prefix), { withFileTypes: true }).catch(() => []);
  const files: string[] = [];
  for (const entry of entries) {
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) {
      files.push(...(await listFiles(root, relative)));
    } else if ((await stat(path.join(root, relative))).isFile()) {
      files.push(relative);
    }
  }
  return files.sort();
}
