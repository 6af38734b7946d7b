/**
 * The Source action's snapshot of `source.path`: a copy of the user's files, links kept as links,
 * so that no action can reach the user's files or the host's through the stored artifact.
 */
import { appendFileSync, readFileSync, readlinkSync, statSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArtifactStore } from '../../src/local/artifact-store.js';
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

describe('snapshotSource', () => {
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
