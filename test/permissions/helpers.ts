/**
 * Test helpers of the permissions tests: the shared schema data, temp folders, and a small
 * zip writer (the schema bundle AWS publishes is a zip; nothing in the project writes zips).
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';

/** The CloudFormation registry schemas shared beside the project (`../shared`). */
export const SHARED_SCHEMAS = path.resolve(import.meta.dirname, '../../../shared/data/cloudformation-schemas');
/** Whether they are there (CI and developers have them; a bare clone may not). */
export const hasSharedSchemas = existsSync(path.join(SHARED_SCHEMAS, 'aws-lambda-function.json'));
/** Appended to the names of suites that skip without them, so the skip says why. */
export const NEEDS_SCHEMAS = hasSharedSchemas ? '' : ' (skipped: ../shared/data/cloudformation-schemas is absent)';

/** A fresh temp folder. */
export function tempDir(prefix = 'sp-permissions-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** The schema file name of a type (`AWS::Lambda::Function` → `aws-lambda-function.json`). */
export function schemaFileOf(type: string): string {
  return `${type.toLowerCase().replace(/::/g, '-')}.json`;
}

/** Copy the shared schemas of some types into a folder. */
export function copySchemas(types: readonly string[], folder: string): string {
  mkdirSync(folder, { recursive: true });
  for (const type of types) copyFileSync(path.join(SHARED_SCHEMAS, schemaFileOf(type)), path.join(folder, schemaFileOf(type)));
  return folder;
}

/** Write a zip of these files (deflated), as `CloudformationSchema.zip` is. */
export function writeZip(file: string, entries: Readonly<Record<string, string | Buffer>>): string {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, content] of Object.entries(entries)) {
    const data = Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8');
    const compressed = deflateRawSync(data);
    const nameBytes = Buffer.from(name, 'utf8');
    const checksum = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0, 6);
    local.writeUInt16LE(8, 8);
    local.writeUInt16LE(0, 10);
    local.writeUInt16LE(0x21, 12);
    local.writeUInt32LE(checksum, 14);
    local.writeUInt32LE(compressed.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt16LE(0, 12);
    central.writeUInt16LE(0x21, 14);
    central.writeUInt32LE(checksum, 16);
    central.writeUInt32LE(compressed.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, compressed);
    centrals.push(central, nameBytes);
    offset += local.length + nameBytes.length + compressed.length;
  }
  const centralSize = centrals.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(entries).length, 8);
  end.writeUInt16LE(Object.keys(entries).length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  writeFileSync(file, Buffer.concat([...locals, ...centrals, end]));
  return file;
}

/** Every action of a policy's documents. */
export function actionsOf(documents: readonly { Statement: readonly { Action: string | readonly string[] }[] }[]): string[] {
  return documents.flatMap((d) => d.Statement.flatMap((s) => (typeof s.Action === 'string' ? [s.Action] : [...s.Action])));
}
