/**
 * Extracting a code bundle, as Lambda does before running it: a local release serves the very
 * bytes that were packaged, not the working tree.
 */
import { createWriteStream } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';
import { FailureError } from '../model/errors.js';

/**
 * Extract every entry of a zip below `destination`, keeping executable bits.
 *
 * @throws FailureError when the zip is unreadable or an entry would land outside `destination`
 */
export async function extractZip(zipFile: string, destination: string): Promise<number> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(zipFile, { lazyEntries: true, autoClose: true, strictFileNames: false }, (error, opened) => (error ? reject(error) : resolve(opened))),
  ).catch((error: Error) => {
    throw new FailureError(`cannot read the code bundle ${zipFile}: ${error.message}`, { cause: error });
  });
  const root = path.resolve(destination);
  let count = 0;
  await new Promise<void>((resolve, reject) => {
    zip.on('error', reject);
    zip.on('end', resolve);
    zip.on('entry', (entry: yauzl.Entry) => {
      const target = path.resolve(root, entry.fileName);
      if (target !== root && !target.startsWith(root + path.sep)) {
        zip.close();
        reject(new FailureError(`the code bundle ${zipFile} has an entry outside its root: ${entry.fileName}`));
        return;
      }
      if (entry.fileName.endsWith('/')) {
        mkdir(target, { recursive: true }).then(() => zip.readEntry(), reject);
        return;
      }
      zip.openReadStream(entry, (error, stream) => {
        if (error) {
          reject(error);
          return;
        }
        const mode = (entry.externalFileAttributes >>> 16) & 0o777;
        mkdir(path.dirname(target), { recursive: true })
          .then(() => pipeline(stream, createWriteStream(target)))
          .then(() => (mode ? chmod(target, mode | 0o600) : undefined))
          .then(() => {
            count += 1;
            zip.readEntry();
          }, reject);
      });
    });
    zip.readEntry();
  });
  return count;
}

/** One entry of a zip, as its central directory lists it. */
export interface ZipEntrySize {
  readonly name: string;
  /** Its size once extracted, in bytes. */
  readonly bytes: number;
}

/**
 * The files of a zip and their extracted sizes, read from its central directory (nothing is extracted).
 *
 * @throws FailureError when the zip is unreadable
 */
export async function listZip(zipFile: string): Promise<ZipEntrySize[]> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(zipFile, { lazyEntries: true, autoClose: true, strictFileNames: false }, (error, opened) => (error ? reject(error) : resolve(opened))),
  ).catch((error: Error) => {
    throw new FailureError(`cannot read the code bundle ${zipFile}: ${error.message}`, { cause: error });
  });
  const entries: ZipEntrySize[] = [];
  await new Promise<void>((resolve, reject) => {
    zip.on('error', reject);
    zip.on('end', resolve);
    zip.on('entry', (entry: yauzl.Entry) => {
      if (!entry.fileName.endsWith('/')) {
        entries.push({ name: entry.fileName, bytes: entry.uncompressedSize });
      }
      zip.readEntry();
    });
    zip.readEntry();
  });
  return entries;
}
