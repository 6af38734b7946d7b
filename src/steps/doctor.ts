/**
 * `service-pipelines doctor`: what a service folder must provide before its first run, checked
 * one by one, each problem with its fix. The same list as README's "What a service provides".
 */
import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import semver from 'semver';
import { isMap, isScalar } from 'yaml';
import type { CommandName } from '../model/config.js';
import type { Processes } from '../runtime/process.js';
import { runCaptured } from '../runtime/process.js';
import { findServerlessConfigFile, parseServerlessConfig, serverlessServiceOfConfig, whereIn, type ServerlessConfigDocument } from '../runtime/serverless-config.js';
import { installedOslsVersion, OFFLINE_PLUGIN, overlayOf, overlayText } from './config-overlay.js';
import { findOsls, NPM_SCRIPT_OF_STEP, serviceEnv } from './serverless-flavor.js';

/** One check's outcome. */
export interface DoctorFinding {
  /** The check (`npm scripts`, `frameworkVersion`...). */
  readonly check: string;
  /** `error`: the first run would fail; `warning`: it would run, but not as you expect. */
  readonly level: 'ok' | 'warning' | 'error';
  /** Where: a file, `file:line`, or a config key. */
  readonly where?: string;
  readonly problem?: string;
  readonly fix?: string;
}

/** What a service is checked against. */
export interface DoctorTarget {
  /** The service folder. */
  readonly dir: string;
  /** @default 'serverless' */
  readonly flavor?: 'serverless' | 'custom';
  /** The config's `commands` of the service: a step given a command needs no npm script. */
  readonly commands?: Partial<Record<CommandName, string | readonly string[]>>;
  /** Where the config says things about the service (`services[1]`), for fixes that go there. */
  readonly configKey?: string;
  /** The environments it deploys to (name and region), for names AWS limits. */
  readonly environments?: ReadonlyArray<{ readonly name: string; readonly region: string }>;
  readonly processes: Processes;
  readonly env: NodeJS.ProcessEnv;
}

/**
 * The runtimes osls 4 (the Serverless Framework v3 line the pipelines run) accepts, which are the
 * ones AWS Lambda still lets a function be created with.
 */
export const ACCEPTED_RUNTIMES: ReadonlySet<string> = new Set([
  'dotnet8', 'dotnet9', 'dotnet10', 'java25', 'java21', 'java17.al2023', 'java17', 'java11.al2023', 'java11', 'java8.al2023', 'java8.al2',
  'nodejs20.x', 'nodejs22.x', 'nodejs24.x', 'provided.al2', 'provided.al2023',
  'python3.10', 'python3.11', 'python3.12', 'python3.13', 'python3.14', 'ruby3.3', 'ruby3.4', 'ruby4.0',
]);

/** IAM's limit on a role name: osls names the service's role `<service>-<stage>-<region>-lambdaRole`. */
const ROLE_NAME_LIMIT = 64;

const SCRIPT_COMMAND: Record<keyof typeof NPM_SCRIPT_OF_STEP, CommandName> = {
  lint: 'lint',
  'test-unit': 'testUnit',
  'test-integration': 'testIntegration',
  'test-acceptance': 'testAcceptance',
};

interface PackageJson {
  readonly scripts?: Record<string, unknown>;
  readonly dependencies?: Record<string, string>;
  readonly devDependencies?: Record<string, string>;
}

/** Check a service folder. Reads files, and runs the service's osls (`osls print`) when it is installed. */
export async function diagnoseService(target: DoctorTarget): Promise<DoctorFinding[]> {
  const findings: DoctorFinding[] = [];
  const add = (finding: DoctorFinding) => findings.push(finding);
  const packageFile = path.join(target.dir, 'package.json');
  const text = await readFile(packageFile, 'utf8').catch(() => undefined);
  let manifest: PackageJson | undefined;
  if (text === undefined) {
    add({ check: 'package.json', level: 'error', where: packageFile, problem: 'the service has no package.json', fix: 'add one (npm init), with the npm scripts below' });
  } else {
    try {
      manifest = JSON.parse(text) as PackageJson;
      add({ check: 'package.json', level: 'ok' });
    } catch (error) {
      add({ check: 'package.json', level: 'error', where: packageFile, problem: `not JSON: ${(error as Error).message}`, fix: 'make it valid JSON' });
    }
  }
  if (manifest) {
    checkScripts(target, manifest, packageFile, add);
  }
  add(
    (await lockfileOf(target.dir))
      ? { check: 'lockfile', level: 'ok' }
      : {
          check: 'lockfile',
          level: 'warning',
          where: target.dir,
          problem: 'no package-lock.json: every run resolves the dependencies again (`npm install`), and nothing is cached',
          fix: 'run `npm install` and commit package-lock.json',
        },
  );
  if ((target.flavor ?? 'serverless') === 'custom') {
    checkCustomPackage(target, add);
    return findings;
  }
  const configFile = await findServerlessConfigFile(target.dir);
  if (!configFile) {
    add({ check: 'serverless config', level: 'error', where: target.dir, problem: 'no serverless.yml', fix: 'add the service\'s serverless.yml, or give the service `flavor: "custom"` and its commands' });
    return findings;
  }
  const config = await parseServerlessConfig(configFile).catch((error: Error) => {
    add({ check: 'serverless config', level: 'error', where: configFile, problem: error.message, fix: 'make it valid YAML' });
    return null;
  });
  if (config === null) return findings;
  if (manifest) {
    checkFrameworkPackages(manifest, packageFile, add);
    await checkPeerConflict(target, manifest, add);
  }
  if (!config) {
    add({ check: 'serverless config', level: 'warning', where: configFile, problem: 'a JS/TS serverless config is evaluated by osls only: most checks below are skipped', fix: `list ${OFFLINE_PLUGIN} under plugins: yourself; set package.artifact from process.env.SERVICE_PIPELINES_PACKAGE_ARTIFACT` });
    return findings;
  }
  add({ check: 'serverless config', level: 'ok' });
  checkServiceName(target, config, add);
  checkFrameworkVersion(config, (await installedOslsVersion(target.dir)) ?? '4.3.1', add);
  checkRuntimes(config, add);
  checkPackaging(config, add);
  checkOfflinePlugin(config, add);
  await checkWithOsls(target, config, add);
  return findings;
}

function checkScripts(target: DoctorTarget, manifest: PackageJson, packageFile: string, add: (f: DoctorFinding) => void): void {
  const missing = (Object.keys(NPM_SCRIPT_OF_STEP) as Array<keyof typeof NPM_SCRIPT_OF_STEP>).filter(
    (step) => target.commands?.[SCRIPT_COMMAND[step]] === undefined && typeof manifest.scripts?.[NPM_SCRIPT_OF_STEP[step]] !== 'string',
  );
  if (missing.length === 0) {
    add({ check: 'npm scripts', level: 'ok' });
    return;
  }
  for (const step of missing) {
    const script = NPM_SCRIPT_OF_STEP[step];
    add({
      check: 'npm scripts',
      level: 'error',
      where: `${packageFile}:scripts`,
      problem: `no "${script}" script: the ${step} step runs it`,
      fix: `add "${script}" to scripts${target.configKey ? `, or give ${target.configKey}.commands.${SCRIPT_COMMAND[step]}` : ''}`,
    });
  }
}

function checkFrameworkPackages(manifest: PackageJson, packageFile: string, add: (f: DoctorFinding) => void): void {
  const all = { ...manifest.dependencies, ...manifest.devDependencies };
  const serverless = all.serverless;
  if (all.osls === undefined && (serverless === undefined || semver.minVersion(serverless)?.major !== 3)) {
    add({
      check: 'osls',
      level: 'error',
      where: packageFile,
      problem: serverless ? `serverless ${serverless} is not the Serverless Framework v3 the steps run (v4 needs a license and a login)` : 'neither osls nor serverless 3 is a dependency: nothing can package or deploy the service',
      fix: 'npm install --save-dev osls (the maintained v3 line)',
    });
  } else {
    add({ check: 'osls', level: 'ok' });
  }
  if (all[OFFLINE_PLUGIN] === undefined) {
    add({ check: OFFLINE_PLUGIN, level: 'error', where: packageFile, problem: `${OFFLINE_PLUGIN} is not a dependency: local stages serve the service with it`, fix: `npm install --save-dev ${OFFLINE_PLUGIN}@14` });
  } else {
    add({ check: OFFLINE_PLUGIN, level: 'ok' });
  }
}

/** serverless-offline 14 names `serverless` 4 as a peer: npm 7+ installs it beside osls unless told not to. */
async function checkPeerConflict(target: DoctorTarget, manifest: PackageJson, add: (f: DoctorFinding) => void): Promise<void> {
  const all = { ...manifest.dependencies, ...manifest.devDependencies };
  if (all[OFFLINE_PLUGIN] === undefined || all.serverless !== undefined) return;
  const lock = await lockfileOf(target.dir);
  const peer = lock?.packages?.['node_modules/serverless']?.version;
  const npmrc = await readFile(path.join(target.dir, '.npmrc'), 'utf8').catch(() => '');
  const legacy = /^\s*legacy-peer-deps\s*=\s*true\s*$/m.test(npmrc);
  const fix = 'add `legacy-peer-deps=true` to the service\'s .npmrc, then `npm install` and commit package-lock.json';
  if (peer) {
    add({ check: 'peer dependencies', level: 'error', where: path.join(target.dir, 'package-lock.json'), problem: `npm installed serverless ${peer} beside osls (${OFFLINE_PLUGIN} names it as a peer): two frameworks, and a v4 CLI that asks for a login`, fix });
  } else if (!lock && !legacy) {
    add({ check: 'peer dependencies', level: 'warning', where: path.join(target.dir, '.npmrc'), problem: `npm would install serverless 4 beside osls (${OFFLINE_PLUGIN} names it as a peer)`, fix });
  } else {
    add({ check: 'peer dependencies', level: 'ok' });
  }
}

async function lockfileOf(dir: string): Promise<{ packages?: Record<string, { version?: string }> } | undefined> {
  for (const name of ['npm-shrinkwrap.json', 'package-lock.json']) {
    const text = await readFile(path.join(dir, name), 'utf8').catch(() => undefined);
    if (text !== undefined) {
      try {
        return JSON.parse(text) as { packages?: Record<string, { version?: string }> };
      } catch {
        return {};
      }
    }
  }
  return undefined;
}

function checkServiceName(target: DoctorTarget, config: ServerlessConfigDocument, add: (f: DoctorFinding) => void): void {
  const reading = serverlessServiceOfConfig(config, `${target.configKey ?? 'services[n]'}.serverlessService`);
  if ('problem' in reading) {
    // The reading's message ends with what to do: `...: set ... to the name it resolves to`.
    const at = reading.problem.message.lastIndexOf(': ');
    add({ check: 'service name', level: 'error', where: reading.problem.where, problem: reading.problem.message.slice(0, at), fix: reading.problem.message.slice(at + 2) });
    return;
  }
  const roleName = config.document.getIn(['provider', 'iam', 'role', 'name']);
  const environments = target.environments ?? [{ name: String(config.document.getIn(['provider', 'stage']) ?? 'dev'), region: 'us-east-1' }];
  const longest = environments.map((e) => `${reading.name}-${e.name}-${e.region}-lambdaRole`).sort((a, b) => b.length - a.length)[0]!;
  if (roleName === undefined && longest.length > ROLE_NAME_LIMIT) {
    add({
      check: 'service name',
      level: 'error',
      where: whereIn(config, ['service']),
      problem: `osls names the service's role ${longest} (${longest.length} characters): IAM refuses role names over ${ROLE_NAME_LIMIT}`,
      fix: 'shorten `service:`, or name the role yourself: provider.iam.role.name: ${self:service}-${sls:stage}-fn (unique per account)',
    });
    return;
  }
  add({ check: 'service name', level: 'ok' });
}

function checkFrameworkVersion(config: ServerlessConfigDocument, oslsVersion: string, add: (f: DoctorFinding) => void): void {
  const declared: unknown = config.document.get('frameworkVersion');
  if (declared === undefined || declared === null) {
    add({ check: 'frameworkVersion', level: 'ok' });
    return;
  }
  const range = String(declared);
  const installed = semver.coerce(oslsVersion)!.version;
  if (!semver.validRange(range)) {
    add({ check: 'frameworkVersion', level: 'error', where: whereIn(config, ['frameworkVersion']), problem: `'${range}' is not a version range; osls refuses it`, fix: `frameworkVersion: '3 || ${semver.major(installed)}'` });
  } else if (semver.satisfies(installed, range)) {
    add({ check: 'frameworkVersion', level: 'ok' });
  } else if (semver.intersects(range, '3.x')) {
    add({
      check: 'frameworkVersion',
      level: 'warning',
      where: whereIn(config, ['frameworkVersion']),
      problem: `'${range}': osls ${installed} (the v3 line, published as ${semver.major(installed)}.x) refuses it when you run it yourself; the pipelines' steps accept it`,
      fix: `frameworkVersion: '3 || ${semver.major(installed)}'`,
    });
  } else {
    add({ check: 'frameworkVersion', level: 'error', where: whereIn(config, ['frameworkVersion']), problem: `'${range}' excludes the Serverless Framework v3 the steps run (osls ${installed})`, fix: `frameworkVersion: '3 || ${semver.major(installed)}'` });
  }
}

function checkRuntimes(config: ServerlessConfigDocument, add: (f: DoctorFinding) => void): void {
  const places: Array<[Array<string>, unknown]> = [[['provider', 'runtime'], config.document.getIn(['provider', 'runtime'])]];
  const functions = config.document.get('functions');
  if (isMap(functions)) {
    for (const item of functions.items) {
      if (isScalar(item.key)) {
        const key = String(item.key.value);
        places.push([['functions', key, 'runtime'], config.document.getIn(['functions', key, 'runtime'])]);
      }
    }
  }
  let bad = false;
  for (const [at, runtime] of places) {
    if (typeof runtime === 'string' && !runtime.includes('${') && !ACCEPTED_RUNTIMES.has(runtime)) {
      bad = true;
      add({
        check: 'runtime',
        level: 'error',
        where: whereIn(config, at),
        problem: `${at.join('.')}: ${runtime} is not accepted by osls 4, nor by AWS Lambda for new functions`,
        fix: runtime.startsWith('nodejs') ? 'runtime: nodejs20.x (or later); check the code runs on it' : `one of ${[...ACCEPTED_RUNTIMES].filter((r) => r.startsWith(runtime.replace(/[\d.]+.*$/, ''))).join(', ') || 'the runtimes Lambda supports'}`,
      });
    }
  }
  if (!bad) add({ check: 'runtime', level: 'ok' });
}

function checkPackaging(config: ServerlessConfigDocument, add: (f: DoctorFinding) => void): void {
  if (config.document.getIn(['package', 'individually']) === true) {
    add({ check: 'packaging', level: 'error', where: whereIn(config, ['package', 'individually']), problem: 'package.individually makes a bundle per function; the pipelines build one bundle, once, for every environment', fix: 'remove package.individually' });
  } else {
    add({ check: 'packaging', level: 'ok' });
  }
}

function checkOfflinePlugin(config: ServerlessConfigDocument, add: (f: DoctorFinding) => void): void {
  const plugins = config.document.toJS() as { plugins?: unknown };
  const list = Array.isArray(plugins.plugins) ? plugins.plugins : Array.isArray((plugins.plugins as { modules?: unknown } | undefined)?.modules) ? (plugins.plugins as { modules: unknown[] }).modules : [];
  if (list.includes(OFFLINE_PLUGIN)) {
    add({ check: 'plugins', level: 'ok' });
  } else {
    add({
      check: 'plugins',
      level: 'warning',
      where: config.file,
      problem: `${OFFLINE_PLUGIN} is not under plugins: the local stages add it for themselves, but \`osls offline\` run by hand says "command not found"`,
      fix: `plugins:\n  - ${OFFLINE_PLUGIN}`,
    });
  }
}

/** osls's own validation of the config (unknown properties, wrong types), through `osls print`, when it is installed. */
async function checkWithOsls(target: DoctorTarget, config: ServerlessConfigDocument, add: (f: DoctorFinding) => void): Promise<void> {
  const osls = await findOsls(target.dir).catch(() => undefined);
  const version = await installedOslsVersion(target.dir);
  if (!osls || !version) {
    add({ check: 'osls validation', level: 'warning', where: path.join(target.dir, 'node_modules'), problem: 'osls is not installed here: the config was not checked against its schema', fix: 'npm ci, then run doctor again' });
    return;
  }
  // The overlay the steps run with, so that what the steps accept is not reported.
  let overlay;
  try {
    overlay = overlayOf(config, { oslsVersion: version });
  } catch {
    return; // frameworkVersion, reported above.
  }
  const file = path.join(path.dirname(config.file), `serverless.service-pipelines-${randomBytes(4).toString('hex')}.yml`);
  await writeFile(file, overlayText(overlay));
  try {
    const stage = target.environments?.[0]?.name ?? 'dev';
    const run = await runCaptured(target.processes, osls, ['print', '--stage', stage, '--config', path.basename(file)], { cwd: target.dir, env: serviceEnv(target.dir, target.env) });
    if (run.code === 0) {
      add({ check: 'osls validation', level: 'ok' });
      return;
    }
    const output = `${run.stdout}\n${run.stderr}`.split(path.basename(file)).join(path.basename(config.file));
    const problems = [...output.matchAll(/at '([^']*)': (.+)/g)];
    if (problems.length === 0) {
      const first = output.split('\n').map((l) => l.trim()).find((l) => l && l !== 'Error:') ?? `exit code ${run.code}`;
      add({ check: 'osls validation', level: 'warning', where: config.file, problem: `osls print failed: ${first}`, fix: 'run `npx osls print` in the service folder for the whole message' });
      return;
    }
    // Runtimes are the runtime check's, with a fix of their own.
    const others = problems.filter(([, at]) => !/(^|\.)runtime$/.test(at!));
    if (others.length === 0) add({ check: 'osls validation', level: 'ok' });
    for (const [, at, message] of others) {
      // `at 'provider': unrecognized property 'memorysize'` is about provider.memorysize: point at it.
      const unknown = /unrecognized property '([^']+)'/.exec(message!)?.[1];
      const keys = [...at!.split('.').filter(Boolean), ...(unknown ? [unknown] : [])];
      add({ check: 'osls validation', level: 'error', where: whereIn(config, keys), problem: `${at}: ${message!.trim()}`, fix: message!.includes('unrecognized property') ? 'remove it (a typo, or a key of another framework version)' : 'fix the value, as osls says' });
    }
  } finally {
    await rm(file, { force: true });
  }
}

function checkCustomPackage(target: DoctorTarget, add: (f: DoctorFinding) => void): void {
  const command = target.commands?.package;
  const lines = command === undefined ? [] : typeof command === 'string' ? [command] : [...command];
  if (lines.length > 0 && !lines.some((line) => line.includes('.pipeline/Package'))) {
    add({
      check: 'custom package',
      level: 'warning',
      where: `${target.configKey ?? 'services[n]'}.commands.package`,
      problem: 'the package commands do not mention .pipeline/Package/: the Package step collects only that folder',
      fix: 'write the deployable files to .pipeline/Package/ (relative to the service folder)',
    });
  } else {
    add({ check: 'custom package', level: 'ok' });
  }
}
