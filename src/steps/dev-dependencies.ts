/**
 * The devDependencies a code bundle leaves out, as `osls package` leaves them out when run by hand.
 *
 * osls finds them by running `npm ls --dev` and `npm ls --prod` and reading the paths npm prints.
 * npm 11 masks every UUID-like string in its output as `***`, and an action's workspace has the
 * run's UUID in its path: the paths osls reads then match nothing, and every devDependency ends
 * up in the bundle (tens of MB, past Lambda's limit for some services). So the steps work out the
 * same list from npm's own record of the install (the hidden lockfile `node_modules/.package-lock.json`,
 * else `package-lock.json`), whose `dev: true` marks exactly the packages reachable only through
 * devDependencies, which is what osls gets from `npm ls --dev` minus `npm ls --prod`, and give it
 * to osls as patterns.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { glob } from 'tinyglobby';

/** The lockfiles that record an install, most faithful first. */
const LOCKFILES = ['node_modules/.package-lock.json', 'npm-shrinkwrap.json', 'package-lock.json'];

/** Folders osls never looks into for package.json files, or that are this tool's own. */
const SKIPPED = ['**/node_modules/**', '.pipeline/**', '.service-pipelines/**', '.serverless/**', '.git/**'];

interface LockedPackage {
  readonly dev?: boolean;
}

/**
 * The exclusion patterns (`!node_modules/eslint/**`, `!node_modules/.bin/eslint`...) of the
 * devDependencies installed below a service folder, in osls's own form.
 *
 * @returns the patterns, or undefined when a folder with installed modules has no lockfile to read
 *   (osls is then left to find them itself)
 */
export async function devDependencyExcludes(serviceDir: string): Promise<string[] | undefined> {
  const manifests = await glob('**/package.json', { cwd: serviceDir, dot: true, ignore: SKIPPED, followSymbolicLinks: true });
  const patterns: string[] = [];
  for (const manifest of manifests.sort()) {
    const folder = path.posix.dirname(manifest);
    const prefix = folder === '.' ? '' : `${folder}/`;
    const packages = await lockedPackages(path.join(serviceDir, folder));
    if (packages === undefined) {
      if (await exists(path.join(serviceDir, folder, 'node_modules'))) return undefined;
      continue;
    }
    for (const [location, entry] of Object.entries(packages)) {
      if (entry.dev !== true || !location.startsWith('node_modules/')) continue;
      const item = `${prefix}${location}`;
      const manifestText = await readFile(path.join(serviceDir, item, 'package.json'), 'utf8').catch(() => undefined);
      if (manifestText === undefined) continue;
      patterns.push(`!${item}/**`);
      // osls's own rule for the package's executables, kept as it is (for a scoped package it
      // names `node_modules/@scope/.bin/<name>`), so that the bundle equals what osls makes by hand.
      const modulePath = item.slice(0, item.lastIndexOf('/') + 1);
      const bin = parseBin(manifestText);
      const executables = typeof bin === 'string' ? [item.slice(item.lastIndexOf('/') + 1)] : bin ? Object.keys(bin) : [];
      patterns.push(...executables.map((name) => `!${modulePath}.bin/${name}`));
    }
  }
  return patterns;
}

async function lockedPackages(folder: string): Promise<Record<string, LockedPackage> | undefined> {
  for (const name of LOCKFILES) {
    const text = await readFile(path.join(folder, name), 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    try {
      const packages = (JSON.parse(text) as { packages?: unknown }).packages;
      if (packages && typeof packages === 'object') return packages as Record<string, LockedPackage>;
    } catch {
      // An unreadable lockfile is no record: try the next one.
    }
  }
  return undefined;
}

function parseBin(manifestText: string): unknown {
  try {
    return (JSON.parse(manifestText) as { bin?: unknown }).bin;
  } catch {
    return undefined;
  }
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}
