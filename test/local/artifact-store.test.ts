import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync, chmodSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArtifactStore } from '../../src/local/artifact-store.js';
import { tempFolder, writeFiles } from './helpers.js';

let work: { dir: string; cleanup: () => void };
let store: ArtifactStore;

beforeEach(() => {
  work = tempFolder();
  store = new ArtifactStore(path.join(work.dir, 'artifacts'));
});
afterEach(() => work.cleanup());

describe('ArtifactStore', () => {
  it('GIVEN two folders with the same content WHEN stored THEN they have one digest and share their blobs', async () => {
    writeFiles(path.join(work.dir, 'a'), { 'x.txt': 'same', 'sub/y.txt': 'other' });
    writeFiles(path.join(work.dir, 'b'), { 'x.txt': 'same', 'sub/y.txt': 'other' });

    const first = await store.put(path.join(work.dir, 'a'), { mode: 'link' });
    const second = await store.put(path.join(work.dir, 'b'), { mode: 'link' });

    expect(second.digest).toBe(first.digest);
    expect(second.path).toBe(first.path);
    expect(first).toMatchObject({ files: 2, bytes: 9 });
    // Linked, not copied: the stored file is the first folder's file itself.
    expect(statSync(path.join(first.path, 'x.txt')).ino).toBe(statSync(path.join(work.dir, 'a', 'x.txt')).ino);
  });

  it('GIVEN a stored artifact WHEN its files are looked at THEN they and their folders are read-only, modes and symlinks kept', async () => {
    const folder = path.join(work.dir, 'out');
    writeFiles(folder, { 'run.sh': '#!/bin/sh\necho hi\n', 'data/file.txt': 'data' });
    chmodSync(path.join(folder, 'run.sh'), 0o755);
    symlinkSync('data/file.txt', path.join(folder, 'link'));
    mkdirSync(path.join(folder, 'empty'));

    const stored = await store.put(folder);

    expect(statSync(path.join(stored.path, 'run.sh')).mode & 0o777).toBe(0o555);
    expect(statSync(path.join(stored.path, 'data', 'file.txt')).mode & 0o777).toBe(0o444);
    expect(statSync(path.join(stored.path, 'data')).mode & 0o222).toBe(0);
    expect(readlinkSync(path.join(stored.path, 'link'))).toBe('data/file.txt');
    expect(existsSync(path.join(stored.path, 'empty'))).toBe(true);
  });

  it('GIVEN a stored artifact WHEN materialized THEN the folder is writable and its files are the stored bytes', async () => {
    const folder = path.join(work.dir, 'src');
    writeFiles(folder, { 'a.txt': 'A', 'node_modules/dep/index.js': 'x', 'deep/b.txt': 'B' });
    const stored = await store.put(folder, { mode: 'copy', exclude: new Set(['node_modules']) });
    const linked = path.join(work.dir, 'linked');
    const copied = path.join(work.dir, 'copied');

    await store.materialize(stored.digest, linked, 'link');
    await store.materialize(stored.digest, copied, 'copy');

    expect(existsSync(path.join(linked, 'node_modules'))).toBe(false);
    expect(readFileSync(path.join(linked, 'deep', 'b.txt'), 'utf8')).toBe('B');
    writeFileSync(path.join(linked, 'new.txt'), 'a new file');
    expect(statSync(path.join(linked, 'a.txt')).ino).toBe(statSync(path.join(stored.path, 'a.txt')).ino);
    expect(statSync(path.join(copied, 'a.txt')).ino).not.toBe(statSync(path.join(stored.path, 'a.txt')).ino);
    writeFileSync(path.join(copied, 'a.txt'), 'changed copy');
    expect(readFileSync(path.join(stored.path, 'a.txt'), 'utf8')).toBe('A');
  });

  it('GIVEN different content WHEN stored THEN the digests differ', async () => {
    writeFiles(path.join(work.dir, 'a'), { 'x.txt': '1' });
    writeFiles(path.join(work.dir, 'b'), { 'x.txt': '2' });
    const [a, b] = [await store.put(path.join(work.dir, 'a'), { mode: 'copy' }), await store.put(path.join(work.dir, 'b'), { mode: 'copy' })];
    expect(a.digest).not.toBe(b.digest);
    expect(await store.manifest(a.digest)).toEqual([{ path: 'x.txt', type: 'file', blob: expect.stringMatching(/^[0-9a-f]{64}$/), executable: false, size: 1 }]);
  });
});
