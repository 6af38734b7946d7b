/**
 * The user's cache of AWS's published resource schema bundle (`CloudformationSchema.zip`, one
 * per region), refreshed by `service-pipelines permissions update`.
 */
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { FailureError, InputError } from '../model/errors.js';
import { readSchemas } from './schema-registry.js';

/** The part of `fetch` the download uses: injectable, so tests serve the bundle themselves. */
export type FetchBundle = (url: string) => Promise<{ readonly ok: boolean; readonly status: number; readonly statusText: string; arrayBuffer(): Promise<ArrayBuffer> }>;

/** Where AWS publishes a region's bundle. */
export function schemaBundleUrl(region: string): string {
  const suffix = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `https://schema.cloudformation.${region}.${suffix}/CloudformationSchema.zip`;
}

/**
 * The cache folder: `$XDG_CACHE_HOME/service-pipelines/cloudformation-schemas`, else under `~/.cache`.
 */
export function defaultSchemaCacheDir(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  const base = env['XDG_CACHE_HOME'] || join(home, '.cache');
  return join(base, 'service-pipelines', 'cloudformation-schemas');
}

/** Where a region's bundle is cached. */
export function cachedSchemaBundle(cacheDir: string, region: string): string {
  return join(cacheDir, region, 'CloudformationSchema.zip');
}

/** Whether a cached bundle exists for the region. */
export async function hasCachedSchemaBundle(cacheDir: string, region: string): Promise<boolean> {
  return (await stat(cachedSchemaBundle(cacheDir, region)).catch(() => undefined))?.isFile() ?? false;
}

/** Options of `updateSchemaCache`. */
export interface UpdateSchemaCacheOptions {
  /** The region whose bundle to download. */
  readonly region: string;
  /** The cache folder (`defaultSchemaCacheDir()`). */
  readonly cacheDir: string;
  /** Downloads (the global `fetch` in production). */
  readonly fetch: FetchBundle;
  /**
   * Where to download from (a mirror).
   *
   * @default - AWS's URL for the region (`schemaBundleUrl`)
   */
  readonly url?: string;
}

/** What an update did. */
export interface SchemaCacheUpdate {
  /** The cached bundle. */
  readonly file: string;
  /** Where it came from. */
  readonly url: string;
  /** Its size in bytes. */
  readonly bytes: number;
  /** How many resource schemas it holds. */
  readonly schemas: number;
}

/**
 * Download a region's bundle into the cache. The bundle is checked (a zip of resource schemas)
 * before it replaces the cached one, so a failed download leaves the cache as it was.
 *
 * @throws FailureError when the download fails; InputError when what it got is not a schema bundle.
 */
export async function updateSchemaCache(options: UpdateSchemaCacheOptions): Promise<SchemaCacheUpdate> {
  const url = options.url ?? schemaBundleUrl(options.region);
  const target = cachedSchemaBundle(options.cacheDir, options.region);
  let body: Buffer;
  try {
    const response = await options.fetch(url);
    if (!response.ok) throw new FailureError(`downloading ${url} failed: HTTP ${response.status} ${response.statusText}`);
    body = Buffer.from(await response.arrayBuffer());
  } catch (error) {
    if (error instanceof FailureError) throw error;
    throw new FailureError(`downloading ${url} failed: ${(error as Error).message}`, { cause: error });
  }
  await mkdir(dirname(target), { recursive: true });
  const partial = `${target}.${process.pid}.download`;
  await writeFile(partial, body);
  try {
    const schemas = await readSchemas(partial);
    await rename(partial, target);
    return { file: target, url, bytes: body.length, schemas: schemas.length };
  } catch (error) {
    await rm(partial, { force: true });
    if (error instanceof InputError) throw new InputError(`${url} is not a CloudFormation schema bundle`, error.problems.length ? error.problems.slice(0, 5) : [{ where: url, message: error.message }]);
    throw error;
  }
}

/** The variable that names the schemas when none are given (a folder or a CloudformationSchema.zip). */
export const SCHEMAS_ENV = 'SERVICE_PIPELINES_SCHEMAS';

/** Options of `locateSchemas`. */
export interface LocateSchemasOptions {
  /**
   * The schemas given explicitly (`--schemas`).
   *
   * @default - none: `$SERVICE_PIPELINES_SCHEMAS`, else the cached bundle of `region`
   */
  readonly schemas?: string;
  /** The folder a relative `schemas` is relative to. */
  readonly cwd: string;
  /** The environment (`SERVICE_PIPELINES_SCHEMAS`, `XDG_CACHE_HOME`, `HOME`). */
  readonly env: NodeJS.ProcessEnv;
  /** The region whose cached bundle to use. */
  readonly region: string;
}

/**
 * Where to read the schemas from: given, else `$SERVICE_PIPELINES_SCHEMAS`, else the bundle
 * `permissions update` cached for the region.
 *
 * @throws InputError telling how to get schemas when there are none.
 */
export async function locateSchemas(options: LocateSchemasOptions): Promise<string> {
  if (options.schemas) return resolve(options.cwd, options.schemas);
  const fromEnv = options.env[SCHEMAS_ENV];
  if (fromEnv) return resolve(options.cwd, fromEnv);
  const cacheDir = defaultSchemaCacheDir(options.env, options.env['HOME'] || homedir());
  if (await hasCachedSchemaBundle(cacheDir, options.region)) return cachedSchemaBundle(cacheDir, options.region);
  throw new InputError('no CloudFormation resource schemas', [
    {
      where: '--schemas',
      message: `give a folder of schemas or a CloudformationSchema.zip, set ${SCHEMAS_ENV}, or run "service-pipelines permissions update --region ${options.region}" once`,
    },
  ]);
}
