import { appendFileSync, existsSync, linkSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync, chmodSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArtifactStore } from '../../src/local/artifact-store.js';
import { FailureError } from '../../src/model/errors.js';
import { snapshotSource } from '../../src/local/source-snapshot.js';
import { nodeProcesses } from '../../src/runtime/process.js';
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

describe('ArtifactStore: files the build does not own', () => {
  it('GIVEN an output folder holding a hard link to a host file WHEN stored by link THEN the host file is copied, never linked or made read-only', async () => {
    const hostFile = path.join(work.dir, 'host', 'passwd');
    writeFiles(path.join(work.dir, 'host'), { passwd: 'root:x:0:0\n' });
    chmodSync(hostFile, 0o644);
    const folder = path.join(work.dir, 'out');
    writeFiles(folder, { 'app.js': 'app' });
    linkSync(hostFile, path.join(folder, 'passwd'));

    const stored = await store.put(folder, { mode: 'link' });
    appendFileSync(hostFile, 'evil:x:0:0\n');

    expect(statSync(hostFile).mode & 0o777).toBe(0o644);
    expect(statSync(path.join(stored.path, 'passwd')).ino).not.toBe(statSync(hostFile).ino);
    expect(readFileSync(path.join(stored.path, 'passwd'), 'utf8')).toBe('root:x:0:0\n');
    // The build's own file (one name) is still taken by link.
    expect(statSync(path.join(stored.path, 'app.js')).ino).toBe(statSync(path.join(folder, 'app.js')).ino);
  });

  it('GIVEN an output folder that is a symbolic link to a host folder WHEN stored by link THEN it is refused, naming the link and its target', async () => {
    const host = path.join(work.dir, 'host');
    writeFiles(host, { shadow: 'root:$6$hash\n' });
    const folder = path.join(work.dir, 'Package');
    symlinkSync(host, folder);

    const error = await store.put(folder, { mode: 'link' }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(FailureError);
    expect((error as Error).message).toBe(`${folder} is a symbolic link to ${host}: an artifact is stored from a folder of the build's own, never through a link`);
    expect(statSync(path.join(host, 'shadow')).nlink).toBe(1);
    expect(statSync(path.join(host, 'shadow')).mode & 0o222).not.toBe(0);
  });

  it('GIVEN links to host files and folders WHEN stored THEN they stay links and no host byte enters the store', async () => {
    const host = path.join(work.dir, 'host');
    writeFiles(host, { passwd: 'HOST-SECRET' });
    const folder = path.join(work.dir, 'out');
    writeFiles(folder, { 'app.js': 'app' });
    symlinkSync(path.join(host, 'passwd'), path.join(folder, 'passwd-link'));
    symlinkSync('../host', path.join(folder, 'etc-link'));

    const stored = await store.put(folder, { mode: 'link' });

    expect((await store.manifest(stored.digest)).map((e) => [e.path, e.type])).toEqual([
      ['app.js', 'file'],
      ['etc-link', 'symlink'],
      ['passwd-link', 'symlink'],
    ]);
    expect(readlinkSync(path.join(stored.path, 'etc-link'))).toBe('../host');
    expect(stored.bytes).toBe(3);
  });
});

describe('snapshotSource: the Source artifact is a copy of the user\'s files, links kept as links', () => {
  it('GIVEN a service folder with links to host files and folders WHEN snapshotted THEN the links stay links and the user files are copies', async () => {
    const host = path.join(work.dir, 'host');
    writeFiles(host, { passwd: 'HOST-SECRET', 'ssh/id_ed25519': 'KEY' });
    const service = path.join(work.dir, 'service');
    writeFiles(service, { 'handler.js': 'exports.handler = 1;\n' });
    symlinkSync(path.join(host, 'passwd'), path.join(service, 'passwd-link'));
    symlinkSync('../host/ssh', path.join(service, 'ssh-link'));

    const snapshot = await snapshotSource(service, store, nodeProcesses, 'services[0].source.path');
    const stored = snapshot.artifact.path;
    appendFileSync(path.join(service, 'handler.js'), '// edited after the snapshot\n');

    expect((await store.manifest(snapshot.artifact.digest)).map((e) => [e.path, e.type])).toEqual([
      ['handler.js', 'file'],
      ['passwd-link', 'symlink'],
      ['ssh-link', 'symlink'],
    ]);
    expect(readlinkSync(path.join(stored, 'passwd-link'))).toBe(path.join(host, 'passwd'));
    expect(readFileSync(path.join(stored, 'handler.js'), 'utf8')).toBe('exports.handler = 1;\n');
    expect(statSync(path.join(stored, 'handler.js')).ino).not.toBe(statSync(path.join(service, 'handler.js')).ino);
    expect(snapshot.artifact.bytes).toBe('exports.handler = 1;\n'.length);
  });
});
