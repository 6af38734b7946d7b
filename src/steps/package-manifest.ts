/**
 * The manifest of a Package artifact (`manifest.json`): the code bundle built once and its sha256,
 * and the deployment files of each environment, each with its digest. `step deploy` refuses a
 * Package whose files do not match it.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { FailureError, InputError } from '../model/errors.js';

/** The manifest's file name, at the root of the Package artifact. */
export const PACKAGE_MANIFEST_FILE = 'manifest.json';

/**
 * The variable that holds the package's digest as the Package action recorded it, outside the
 * artifact (the AWS engine passes the Package action's output variable to each deploy action
 * under this name): the sha256 of the code bundle, or of `manifest.json` for a package without one.
 */
export const PACKAGE_DIGEST_VARIABLE = 'PACKAGE_SHA256';

const sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, 'must be a sha256 in hex');
const relativePathSchema = z
  .string()
  .min(1)
  .refine((p) => !path.isAbsolute(p) && !p.split(/[\\/]/).includes('..'), 'must be a path inside the Package folder');

const manifestSchema = z.object({
  schemaVersion: z.literal(1),
  service: z.string().min(1).describe("The pipeline's name for the service: local releases are kept under it."),
  serverlessService: z.string().min(1).optional().describe("serverless.yml's `service:`, which names the stacks and the functions."),
  flavor: z.enum(['serverless', 'custom']),
  createdAt: z.string(),
  sourceVersion: z.string().optional(),
  bundle: z
    .object({
      file: relativePathSchema.describe('The code bundle, relative to the Package folder.'),
      sha256: sha256Schema,
      bytes: z.number().int().nonnegative(),
      unzippedBytes: z.number().int().nonnegative().optional().describe('Its size once extracted, as Lambda counts it against its limit.'),
    })
    .nullable()
    .describe('The code bundle, built once and deployed to every environment; null when the flavor has none of its own.'),
  stages: z.array(
    z.object({
      name: z.string().min(1),
      region: z.string().min(1),
      directory: relativePathSchema.describe('The environment deployment files (template, state), relative to the Package folder.'),
      stackName: z.string().optional(),
      permissionsBoundary: z.string().optional().describe("The permissions boundary this environment's roles were packaged with."),
    }),
  ),
  files: z.record(relativePathSchema, sha256Schema).describe('Every other file of the Package, with its sha256.'),
});

/** The manifest of a Package artifact. */
export type PackageManifest = z.infer<typeof manifestSchema>;
/** One environment of a Package. */
export type PackageManifestStage = PackageManifest['stages'][number];

/** The sha256 of a file, in hex, read as a stream (a bundle may be large). */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}

/**
 * Read and check the shape of a Package's manifest.
 *
 * @throws InputError when the folder has no manifest or an invalid one
 */
export async function readPackageManifest(packageDir: string): Promise<PackageManifest> {
  const file = path.join(packageDir, PACKAGE_MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new InputError(`no package manifest at ${file}`, [
      { where: file, message: 'run `service-pipelines step package` first, or point CODEBUILD_SRC_DIR_Package (or --package) at its output' },
    ]);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new InputError(`the package manifest ${file} is not JSON`, [{ where: file, message: (error as Error).message }]);
  }
  const parsed = manifestSchema.safeParse(data);
  if (!parsed.success) {
    throw new InputError(
      `the package manifest ${file} is invalid`,
      parsed.error.issues.map((issue) => ({ where: `${file}:${issue.path.join('.') || '(root)'}`, message: issue.message })),
    );
  }
  return parsed.data;
}

/**
 * Check a Package against its manifest: the bundle's sha256 and that of every recorded file.
 * A deploy that skipped this could ship code that is not what was built and tested.
 *
 * @throws FailureError naming the first file whose digest differs, or that is missing
 */
export async function verifyPackage(packageDir: string, manifest: PackageManifest): Promise<void> {
  const expected: Array<[string, string]> = [
    ...(manifest.bundle ? ([[manifest.bundle.file, manifest.bundle.sha256]] as Array<[string, string]>) : []),
    ...Object.entries(manifest.files),
  ];
  for (const [relative, sha256] of expected) {
    const file = path.join(packageDir, relative);
    const actual = await sha256File(file).catch(() => undefined);
    if (actual === undefined) {
      throw new FailureError(`refusing to deploy: ${file} is listed in the package manifest but missing`);
    }
    if (actual !== sha256) {
      const what = manifest.bundle?.file === relative ? 'the code bundle' : 'a package file';
      throw new FailureError(
        `refusing to deploy: ${what} ${file} has sha256 ${actual}, but the package manifest records ${sha256} (it changed after \`step package\` built it)`,
      );
    }
  }
}

/** Find an environment of a Package, or explain which ones it has. */
export function stageOfManifest(manifest: PackageManifest, stage: string, manifestFile: string): PackageManifestStage {
  const found = manifest.stages.find((s) => s.name === stage);
  if (!found) {
    throw new InputError(`the package has no deployment for stage "${stage}"`, [
      {
        where: manifestFile,
        message: `it was packaged for ${manifest.stages.map((s) => s.name).join(', ') || 'no stage'}; package with --stage ${stage}@<region>`,
      },
    ]);
  }
  return found;
}

/**
 * Where `step package` writes the package's digest, beside the artifact and not in it
 * (`.pipeline/Package.sha256`): what the Package action exports as `PACKAGE_SHA256`
 * (`export PACKAGE_SHA256=$(cat .pipeline/Package.sha256)`), for every deploy to compare.
 */
export function anchoredDigestFile(packageDir: string): string {
  return `${packageDir}.sha256`;
}

/** Write the package's digest beside it (see `anchoredDigestFile`). @returns the file */
export async function writeAnchoredDigest(packageDir: string, manifest: PackageManifest): Promise<string> {
  const file = anchoredDigestFile(packageDir);
  await writeFile(file, `${(await anchoredDigest(packageDir, manifest)).sha256}\n`);
  return file;
}

/** The digest that anchors a package: its bundle's, or its manifest's when it has no bundle. */
export async function anchoredDigest(packageDir: string, manifest: PackageManifest): Promise<{ what: string; sha256: string }> {
  return manifest.bundle
    ? { what: 'the code bundle', sha256: manifest.bundle.sha256 }
    : { what: 'the package manifest', sha256: await sha256File(path.join(packageDir, PACKAGE_MANIFEST_FILE)) };
}

/**
 * The variable that holds the sha256 of the package's `manifest.json` as the Package action
 * recorded it: the manifest lists the sha256 of the bundle and of every template, so this one
 * digest pins the whole package.
 */
export const PACKAGE_MANIFEST_DIGEST_VARIABLE = 'PACKAGE_MANIFEST_SHA256';

/**
 * Check a verified package against the digests the Package action recorded outside the artifact
 * (`PACKAGE_SHA256`: the bundle's, or the manifest's for a package without one;
 * `PACKAGE_MANIFEST_SHA256`: the manifest's), each when the environment has it. The manifest
 * travels inside the artifact, so a package replaced whole (bundle, templates and manifest)
 * passes `verifyPackage`, but not this. An empty variable means "not recorded" (the AWS engine
 * passes an empty `PACKAGE_SHA256` for a package without a bundle).
 *
 * @returns lines for the step's log (none when no digest is given)
 * @throws InputError when a variable is not a sha256
 * @throws FailureError when the package is not the one the Package action built
 */
export async function verifyAnchoredDigest(packageDir: string, manifest: PackageManifest, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const lines: string[] = [];
  const bundle = recordedDigest(env, PACKAGE_DIGEST_VARIABLE);
  if (bundle !== undefined) {
    lines.push(compareDigest(await anchoredDigest(packageDir, manifest), bundle, PACKAGE_DIGEST_VARIABLE));
  }
  const whole = recordedDigest(env, PACKAGE_MANIFEST_DIGEST_VARIABLE);
  if (whole !== undefined) {
    const actual = { what: 'the package manifest', sha256: await sha256File(path.join(packageDir, PACKAGE_MANIFEST_FILE)) };
    lines.push(compareDigest(actual, whole, PACKAGE_MANIFEST_DIGEST_VARIABLE));
  }
  return lines.length ? lines.join('\n') : undefined;
}

function recordedDigest(env: NodeJS.ProcessEnv, variable: string): string | undefined {
  const recorded = env[variable];
  if (recorded === undefined || recorded.trim() === '') {
    return undefined;
  }
  const valid = sha256Schema.safeParse(recorded.trim().toLowerCase());
  if (!valid.success) {
    throw new InputError(`${variable} is not a sha256`, [{ where: variable, message: 'must be a sha256 in hex (64 characters)' }]);
  }
  return valid.data;
}

function compareDigest(actual: { what: string; sha256: string }, recorded: string, variable: string): string {
  if (actual.sha256 !== recorded) {
    throw new FailureError(
      `refusing to deploy: ${actual.what} has sha256 ${actual.sha256}, but the Package action recorded ${recorded} (${variable}): the package artifact was replaced after it was built`,
    );
  }
  return `${actual.what === 'the code bundle' ? "the bundle's" : "the manifest's"} sha256 is the one the Package action recorded (${variable} ${actual.sha256})`;
}
