/**
 * The serverless config the steps run osls with: a copy of the service's own YAML/JSON config,
 * edited so that a service published for the Serverless Framework v3 needs no change:
 *
 * - `frameworkVersion: '3'` is accepted (osls is the v3 line, but publishes 4.x version numbers);
 * - the permissions boundary is set on the service's role (`provider.iam.role.permissionsBoundary`);
 * - this tool's own folders and the config file itself stay out of the bundle, as osls keeps its
 *   own config file out when run by hand;
 * - the bundle is referenced (`package.artifact`) when packaging each environment;
 * - devDependencies are excluded by the tool (see `dev-dependencies.ts`), not by osls;
 * - `serverless-offline` is listed under `plugins:` for local stages.
 *
 * Comments, anchors and CloudFormation tags (`!Ref`) of the original are kept. JS/TS configs are
 * evaluated by osls only: they get none of this (the steps pass the bundle through a variable).
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import semver from 'semver';
import { isMap, isSeq, type Document } from 'yaml';
import { InputError } from '../model/errors.js';
import { parseServerlessConfig, whereIn, type ServerlessConfigDocument } from '../runtime/serverless-config.js';

/** The plugin that serves local stages. */
export const OFFLINE_PLUGIN = 'serverless-offline';

/** Folders of this tool that never belong in a code bundle. */
export const LOCAL_STATE_EXCLUDES = ['!.pipeline/**', '!.service-pipelines/**'];

/** What an overlay changes. */
export interface OverlayEdits {
  /** `package.artifact`: the bundle every environment's template references. */
  readonly artifact?: string;
  /** `provider.iam.role.permissionsBoundary`: the boundary the service's role must carry. */
  readonly permissionsBoundary?: string;
  /**
   * Patterns appended last (the devDependencies to leave out); with them,
   * `package.excludeDevDependencies` is turned off, as the patterns do its work.
   */
  readonly devDependencyExcludes?: readonly string[];
  /** List `serverless-offline` under `plugins:` (a local stage). */
  readonly offlinePlugin?: boolean;
  /**
   * The osls version that will run: a `frameworkVersion` it does not satisfy but that accepts the
   * Serverless Framework v3 is widened to accept it.
   */
  readonly oslsVersion?: string;
}

/** An overlay: the edited document, and what was changed, for the step's log. */
export interface Overlay {
  readonly config: ServerlessConfigDocument;
  readonly document: Document.Parsed;
  readonly changes: readonly string[];
}

/**
 * Apply the edits to a parsed config (a copy: the original document is not changed).
 *
 * @throws InputError when `frameworkVersion` excludes the osls that will run, naming the line and the fix
 */
export function overlayOf(config: ServerlessConfigDocument, edits: OverlayEdits): Overlay {
  const document = config.document.clone() as Document.Parsed;
  const changes: string[] = [];
  if (edits.oslsVersion !== undefined) {
    const change = reconcileFrameworkVersion(config, document, edits.oslsVersion);
    if (change) changes.push(change);
  }
  if (edits.artifact !== undefined) {
    document.setIn(['package', 'artifact'], edits.artifact);
  }
  if (edits.permissionsBoundary !== undefined) {
    const own = document.getIn(['provider', 'iam', 'role', 'permissionsBoundary']) ?? document.getIn(['provider', 'rolePermissionsBoundary']);
    if (own !== undefined && own !== edits.permissionsBoundary) {
      throw new InputError(`the serverless config sets a permissions boundary of its own`, [
        {
          where: whereIn(config, ['provider', document.hasIn(['provider', 'iam', 'role', 'permissionsBoundary']) ? 'iam' : 'rolePermissionsBoundary']),
          message: `the deployer may create roles only with ${edits.permissionsBoundary}; remove the service's own boundary (the steps set it)`,
        },
      ]);
    }
    if (isRoleReference(document.getIn(['provider', 'iam', 'role']))) {
      // `provider.iam.role: <arn or name>` uses an existing role: osls creates none to put a boundary on.
    } else {
      // The older spelling would be a second source of the same setting.
      document.deleteIn(['provider', 'rolePermissionsBoundary']);
      document.setIn(['provider', 'iam', 'role', 'permissionsBoundary'], edits.permissionsBoundary);
      changes.push(`provider.iam.role.permissionsBoundary: ${edits.permissionsBoundary}`);
    }
  }
  const patterns = document.getIn(['package', 'patterns']);
  const existing = isSeq(patterns) ? (patterns.toJSON() as unknown[]) : [];
  const devExcludes = edits.devDependencyExcludes ?? [];
  if (edits.devDependencyExcludes !== undefined) {
    document.setIn(['package', 'excludeDevDependencies'], false);
  }
  // osls leaves the config file it reads out of the bundle: here that is the overlay, so the
  // original is left out first (before the service's own patterns, as osls's own exclusion is).
  document.setIn(['package', 'patterns'], [`!${path.basename(config.file)}`, ...existing, ...devExcludes, ...LOCAL_STATE_EXCLUDES]);
  if (edits.offlinePlugin && addOfflinePlugin(document)) {
    changes.push(`plugins: + ${OFFLINE_PLUGIN}`);
  }
  return { config, document, changes };
}

/** `provider.iam.role` given as an existing role (ARN, name or CloudFormation function) rather than settings. */
function isRoleReference(role: unknown): boolean {
  if (role === undefined || role === null) return false;
  if (!isMap(role)) return true;
  return ['Fn::GetAtt', 'Fn::ImportValue', 'Ref', 'Fn::Sub', 'Fn::Join'].some((key) => role.has(key));
}

/** Add serverless-offline to `plugins:` (a list, or `plugins.modules`); false when it is there already. */
function addOfflinePlugin(document: Document.Parsed): boolean {
  const plugins = document.get('plugins');
  const listPath = isMap(plugins) ? ['plugins', 'modules'] : ['plugins'];
  const list = document.getIn(listPath);
  const names = isSeq(list) ? (list.toJSON() as unknown[]) : [];
  if (names.includes(OFFLINE_PLUGIN)) {
    return false;
  }
  document.setIn(listPath, [...names, OFFLINE_PLUGIN]);
  return true;
}

/**
 * osls refuses a `frameworkVersion` its own version does not satisfy. osls is the Serverless
 * Framework v3 line published as 4.x, so a range that accepts a v3 release (`'3'`, `'^3.38.0'`) is
 * widened to accept the installed osls; any other range is refused here, naming the user's file.
 */
function reconcileFrameworkVersion(config: ServerlessConfigDocument, document: Document.Parsed, oslsVersion: string): string | undefined {
  const declared: unknown = document.get('frameworkVersion');
  if (declared === undefined || declared === null) return undefined;
  const range = String(declared);
  const installed = semver.coerce(oslsVersion)?.version;
  if (!installed || !semver.validRange(range) || semver.satisfies(installed, range)) {
    // An invalid range is osls's to report (it names the key); a satisfied one needs nothing.
    return undefined;
  }
  if (semver.intersects(range, '3.x')) {
    const widened = `${range} || ${semver.major(installed)}`;
    document.set('frameworkVersion', widened);
    return `frameworkVersion: '${widened}' (osls ${installed} is the Serverless Framework v3 line)`;
  }
  throw new InputError(`frameworkVersion '${range}' excludes the Serverless Framework v3 that the steps run (osls ${installed})`, [
    { where: whereIn(config, ['frameworkVersion']), message: `set frameworkVersion: '3 || ${semver.major(installed)}' (or remove it)` },
  ]);
}

/** The text of an overlay, in the format of the original (YAML or JSON). */
export function overlayText(overlay: Overlay): string {
  return path.extname(overlay.config.file) === '.json' ? `${JSON.stringify(overlay.document.toJS(), null, 2)}\n` : overlay.document.toString();
}

/**
 * Write an overlay beside the original config (osls resolves paths against the config's folder),
 * under a name of its own.
 *
 * @returns the overlay's path, or undefined for a JS/TS config (left as it is)
 * @throws InputError when the config does not parse, or the edits cannot apply (see `overlayOf`)
 */
export async function writeConfigOverlay(configFile: string, edits: OverlayEdits): Promise<{ file: string; overlay: Overlay } | undefined> {
  const config = await parseServerlessConfig(configFile);
  if (!config) {
    return undefined;
  }
  const overlay = overlayOf(config, edits);
  const file = path.join(path.dirname(configFile), `serverless.service-pipelines-${randomBytes(4).toString('hex')}${path.extname(configFile) === '.json' ? '.json' : '.yml'}`);
  await writeFile(file, overlayText(overlay));
  return { file, overlay };
}

/** The version of the osls (or serverless v3) installed in a folder's node_modules, if any. */
export async function installedOslsVersion(serviceDir: string): Promise<string | undefined> {
  for (const name of ['osls', 'serverless']) {
    const text = await readFile(path.join(serviceDir, 'node_modules', name, 'package.json'), 'utf8').catch(() => undefined);
    if (text !== undefined) {
      const version = (JSON.parse(text) as { version?: unknown }).version;
      if (typeof version === 'string') return version;
    }
  }
  return undefined;
}
