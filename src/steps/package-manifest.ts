/**
 * The manifest of a Package artifact (`manifest.json`): the code bundle built once and its sha256,
 * and the deployment files of each environment, each with its digest. `step deploy` refuses a
 * Package whose files do not match it.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { FailureError, InputError } from '../model/errors.js';

/** The manifest's file name, at the root of the Package artifact. */
export const PACKAGE_MANIFEST_FILE = 'manifest.json';

const sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, 'must be a sha256 in hex');
const relativePathSchema = z
  .string()
  .min(1)
  .refine((p) => !path.isAbsolute(p) && !p.split(/[\\/]/).includes('..'), 'must be a path inside the Package folder');

const manifestSchema = z.object({
  schemaVersion: z.literal(1),
  service: z.string().min(1),
  flavor: z.enum(['serverless', 'custom']),
  createdAt: z.string(),
  sourceVersion: z.string().optional(),
  bundle: z
    .object({
      file: relativePathSchema.describe('The code bundle, relative to the Package folder.'),
      sha256: sha256Schema,
      bytes: z.number().int().nonnegative(),
    })
    .nullable()
    .describe('The code bundle, built once and deployed to every environment; null when the flavor has none of its own.'),
  stages: z.array(
    z.object({
      name: z.string().min(1),
      region: z.string().min(1),
      directory: relativePathSchema.describe('The environment deployment files (template, state), relative to the Package folder.'),
      stackName: z.string().optional(),
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
