/**
 * Lambda's limit on a function's code once extracted, checked when the bundle is made: a package
 * past it would only fail at the first deploy, after the tests and the approval.
 */
import { FailureError } from '../model/errors.js';
import { listZip } from './unzip.js';

/** Lambda's limit on the extracted code of a function and its layers (`CodeSizeUnzipped`, 250 MB). */
export const LAMBDA_UNZIPPED_LIMIT_BYTES = 262_144_000;

/** What a bundle holds once extracted. */
export interface BundleSize {
  readonly files: number;
  readonly bytes: number;
  /** The folders that weigh most (a package of `node_modules` counts as one folder), largest first. */
  readonly largest: ReadonlyArray<{ readonly folder: string; readonly bytes: number }>;
}

/** The folder an entry is counted in: its package for `node_modules/...`, else its top folder. */
function folderOf(name: string): string {
  const parts = name.split('/');
  const at = parts.lastIndexOf('node_modules');
  if (at >= 0 && at < parts.length - 2) {
    return parts.slice(0, at + (parts[at + 1]!.startsWith('@') ? 3 : 2)).join('/');
  }
  return parts.length > 1 ? parts[0]! : '(top level)';
}

/** Measure a bundle's extracted size, and its heaviest folders. */
export async function measureBundle(zipFile: string, top = 5): Promise<BundleSize> {
  const entries = await listZip(zipFile);
  const folders = new Map<string, number>();
  let bytes = 0;
  for (const entry of entries) {
    bytes += entry.bytes;
    const folder = folderOf(entry.name);
    folders.set(folder, (folders.get(folder) ?? 0) + entry.bytes);
  }
  const largest = [...folders.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, top)
    .map(([folder, size]) => ({ folder, bytes: size }));
  return { files: entries.length, bytes, largest };
}

/** Bytes in MB (as AWS counts them: 1 MB = 1,048,576 bytes), one decimal. */
export function megabytes(bytes: number): string {
  return `${(bytes / 1_048_576).toFixed(1)} MB`;
}

/**
 * Refuse a bundle past Lambda's extracted-size limit, naming the folders that weigh most.
 *
 * @throws FailureError when the bundle is over the limit
 */
export function checkBundleSize(bundleName: string, size: BundleSize, limit = LAMBDA_UNZIPPED_LIMIT_BYTES): void {
  if (size.bytes <= limit) return;
  throw new FailureError(
    `step package failed: the code bundle ${bundleName} is ${megabytes(size.bytes)} once extracted (${size.files} files), ` +
      `over Lambda's limit of ${megabytes(limit)}; the largest folders: ${size.largest.map((l) => `${l.folder} ${megabytes(l.bytes)}`).join(', ')}. ` +
      'Leave out what the functions do not need (package.patterns; dependencies only the build needs belong in devDependencies), or deploy a container image',
  );
}
