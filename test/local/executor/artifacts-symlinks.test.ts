/**
 * Artifacts never take a file from outside the source folder, through a symbolic link or
 * otherwise, and never share an inode with a file the build does not own: writing to an
 * artifact can never reach a source file or a file of the host.
 */
import { describe, expect, it } from 'vitest';
import { appendFileSync, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { ArtifactError, collectArtifact, type CollectArtifactOptions } from '../../../src/local/executor/index.js';
import { run, tempFolder } from './helpers.js';

/** Write files (path → content) below `root`. */
function tree(root: string, files: Record<string, string>): string {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}

/** A source folder, and beside it a "host" folder the build does not own, holding a secret. */
function sourceAndHost(): { src: string; host: string; secret: string } {
  const parent = tempFolder();
  const src = tree(join(parent, 'src'), { 'app.js': 'app' });
  const host = tree(join(parent, 'host'), { 'passwd': 'root:x:0:0', 'shadow': 'root:$6$hash', 'nested/deep.conf': 'deep' });
  return { src, host, secret: join(host, 'passwd') };
}

async function collect(options: Omit<CollectArtifactOptions, 'destination'>): Promise<{ destination: string; error?: unknown }> {
  const destination = join(tempFolder(), 'out');
  try {
    await collectArtifact({ ...options, destination });
    return { destination };
  } catch (error) {
    return { destination, error };
  }
}

/** The files and symbolic links below `folder` (links are listed, never followed). */
async function listing(folder: string): Promise<string[]> {
  if (!existsSync(folder)) {
    return [];
  }
  return readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((entry) => !entry.isDirectory())
    .map((entry) => relative(folder, join(entry.parentPath, entry.name)))
    .sort();
}

describe('collectArtifact: symbolic links to files outside the source folder', () => {
  it('GIVEN an absolute link to a host file WHEN it is named in files THEN the artifact is refused, naming the link and its target', async () => {
    const { src, secret } = sourceAndHost();
    symlinkSync(secret, join(src, 'passwd-link'));

    const { destination, error } = await collect({ srcDir: src, artifact: { files: ['passwd-link'] } });

    expect(error).toBeInstanceOf(ArtifactError);
    expect((error as Error).message).toContain(`passwd-link is a symbolic link to ${secret}, outside the source folder`);
    expect(await listing(destination)).toEqual([]);
  });

  it('GIVEN a relative link to a host file WHEN everything is collected THEN the artifact is refused and no host byte is taken', async () => {
    const { src } = sourceAndHost();
    symlinkSync('../host/shadow', join(src, 'shadow-link'));

    const { destination, error } = await collect({ srcDir: src, artifact: { files: ['**/*'] } });

    expect(error).toBeInstanceOf(ArtifactError);
    expect((error as Error).message).toContain('shadow-link is a symbolic link to ../host/shadow');
    expect(await listing(destination)).toEqual([]);
  });

  it('GIVEN links to host files WHEN collected with enable-symlinks THEN they are kept as links, never as the host files', async () => {
    const { src, secret } = sourceAndHost();
    symlinkSync(secret, join(src, 'passwd-link'));
    symlinkSync('../host/shadow', join(src, 'shadow-link'));

    const { destination, error } = await collect({ srcDir: src, artifact: { files: ['**/*'], 'enable-symlinks': 'yes' } });

    expect(error).toBeUndefined();
    expect(await listing(destination)).toEqual(['app.js', 'passwd-link', 'shadow-link']);
    expect(lstatSync(join(destination, 'passwd-link')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(destination, 'passwd-link'))).toBe(secret);
    expect(readlinkSync(join(destination, 'shadow-link'))).toBe('../host/shadow');
  });
});

describe('collectArtifact: symbolic links to folders outside the source folder', () => {
  it('GIVEN an absolute link to a host folder WHEN **/* is collected THEN it is refused without walking the host folder', async () => {
    const { src, host } = sourceAndHost();
    symlinkSync(host, join(src, 'etc-link'));

    const { destination, error } = await collect({ srcDir: src, artifact: { files: ['**/*'] } });

    expect(error).toBeInstanceOf(ArtifactError);
    expect((error as Error).message).toContain(`etc-link is a symbolic link to ${host}, outside the source folder`);
    expect(await listing(destination)).toEqual([]);
  });

  it('GIVEN a relative link to a host folder below the pattern WHEN dist/**/*.conf is collected THEN it is refused', async () => {
    const { src } = sourceAndHost();
    tree(src, { 'dist/own.conf': 'own' });
    symlinkSync('../../host/nested', join(src, 'dist/config'));

    const { error } = await collect({ srcDir: src, artifact: { files: ['dist/**/*.conf'] } });

    expect(error).toBeInstanceOf(ArtifactError);
    expect((error as Error).message).toContain('dist/config is a symbolic link to ../../host/nested');
  });

  it('GIVEN a base-directory WHEN a link below a pattern is refused THEN it is named from the source folder', async () => {
    const { src } = sourceAndHost();
    tree(src, { 'dist/own.conf': 'own' });
    symlinkSync('../../host/nested', join(src, 'dist/config'));

    const { error } = await collect({ srcDir: src, artifact: { files: ['**/*.conf'], 'base-directory': 'dist' } });

    expect((error as Error).message).toMatch(/^dist\/config is a symbolic link to \.\.\/\.\.\/host\/nested \(/);
  });

  it('GIVEN a pattern that starts with a linked host folder WHEN collected THEN it is refused', async () => {
    const { src, host } = sourceAndHost();
    symlinkSync(host, join(src, 'etc-link'));

    const { destination, error } = await collect({ srcDir: src, artifact: { files: ['etc-link/**/*'] } });

    expect(error).toBeInstanceOf(ArtifactError);
    expect((error as Error).message).toContain(`etc-link is a symbolic link to ${host}`);
    expect(await listing(destination)).toEqual([]);
  });

  it('GIVEN a link to a host folder the patterns do not select WHEN collected THEN the rest is collected', async () => {
    const { src, host } = sourceAndHost();
    tree(src, { 'dist/app.js': 'app' });
    symlinkSync(host, join(src, 'etc-link'));
    symlinkSync(host, join(src, 'dist/excluded-link'));

    const { destination, error } = await collect({ srcDir: src, artifact: { files: ['dist/**/*'], 'exclude-paths': ['dist/excluded-link'] } });

    expect(error).toBeUndefined();
    expect(await listing(destination)).toEqual(['dist/app.js']);
  });

  it('GIVEN a link to a host folder WHEN collected with enable-symlinks THEN the link is kept and the folder not walked', async () => {
    const { src, host } = sourceAndHost();
    symlinkSync(host, join(src, 'etc-link'));

    const { destination, error } = await collect({ srcDir: src, artifact: { files: ['**/*'], 'enable-symlinks': 'yes' } });

    expect(error).toBeUndefined();
    expect(await listing(destination)).toEqual(['app.js', 'etc-link']);
    expect(readlinkSync(join(destination, 'etc-link'))).toBe(host);
  });

  it('GIVEN a base-directory that is a link to a host folder THEN it is refused, absolute or relative', async () => {
    const { src, host } = sourceAndHost();
    symlinkSync(host, join(src, 'etc-link'));
    symlinkSync('../host', join(src, 'rel-link'));

    const absolute = await collect({ srcDir: src, artifact: { files: ['**/*'], 'base-directory': 'etc-link' } });
    const relative = await collect({ srcDir: src, artifact: { files: ['**/*'], 'base-directory': 'rel-link', 'enable-symlinks': 'yes' } });
    const viaPattern = await collect({ srcDir: src, artifact: { files: ['**/*'], 'base-directory': '*-link' } });

    expect((absolute.error as Error).message).toBe(`base-directory etc-link: etc-link is a symbolic link to ${host}, outside the source folder`);
    expect((relative.error as Error).message).toBe(`base-directory rel-link: rel-link is a symbolic link to ../host (${host}), outside the source folder`);
    expect(viaPattern.error).toBeInstanceOf(ArtifactError);
    expect(await listing(absolute.destination)).toEqual([]);
  });

  it('GIVEN a base-directory below a linked host folder THEN it is refused', async () => {
    const { src, host } = sourceAndHost();
    symlinkSync(host, join(src, 'etc-link'));

    const { error } = await collect({ srcDir: src, artifact: { files: ['**/*'], 'base-directory': 'etc-link/nested' } });

    expect((error as Error).message).toBe(`base-directory etc-link/nested: etc-link is a symbolic link to ${host}, outside the source folder`);
  });
});

describe('collectArtifact: symbolic links inside the source folder', () => {
  it('GIVEN a link to a folder of the source WHEN collected THEN its files are taken (followed), or the link kept with enable-symlinks', async () => {
    const src = tree(tempFolder(), { 'releases/v2/app.js': 'v2' });
    symlinkSync('releases/v2', join(src, 'current'));
    symlinkSync(join(src, 'releases'), join(src, 'all-releases'));

    const followed = await collect({ srcDir: src, artifact: { files: ['current/**/*', 'all-releases/**/*'] } });
    const viaBase = await collect({ srcDir: src, artifact: { files: ['*.js'], 'base-directory': 'current' } });
    const kept = await collect({ srcDir: src, artifact: { files: ['current'], 'enable-symlinks': 'yes' } });

    expect(followed.error).toBeUndefined();
    expect(await listing(followed.destination)).toEqual(['all-releases/v2/app.js', 'current/app.js']);
    expect(lstatSync(join(followed.destination, 'current/app.js')).isFile()).toBe(true);
    expect(await listing(viaBase.destination)).toEqual(['app.js']);
    expect(readlinkSync(join(kept.destination, 'current'))).toBe('releases/v2');
  });

  it('GIVEN a dangling link WHEN everything is collected THEN it is left out and said so', async () => {
    const src = tree(tempFolder(), { 'a.txt': 'a' });
    symlinkSync('missing.txt', join(src, 'dangling'));
    const lines: string[] = [];

    const { destination, error } = await collect({ srcDir: src, artifact: { files: ['**/*'] }, log: (line) => lines.push(line) });

    expect(error).toBeUndefined();
    expect(await listing(destination)).toEqual(['a.txt']);
    expect(lines).toContain('Skipping dangling: a symbolic link to missing.txt, which does not exist');
  });
});

describe('collectArtifact: writing to an artifact never reaches a file the build does not own', () => {
  it("GIVEN a source the build does not own WHEN its files are collected THEN they are copied: appending to the artifact's file leaves the original", async () => {
    const src = tree(tempFolder(), { 'data.txt': 'original', 'lib/real.txt': 'real' });
    symlinkSync('real.txt', join(src, 'lib/link.txt'));

    const collected = await collectArtifact({ srcDir: src, artifact: { files: ['**/*'] }, destination: join(tempFolder(), 'out') });
    appendFileSync(join(collected.directory, 'data.txt'), ' appended');
    appendFileSync(join(collected.directory, 'lib/link.txt'), ' appended');

    expect(readFileSync(join(src, 'data.txt'), 'utf8')).toBe('original');
    expect(readFileSync(join(src, 'lib/real.txt'), 'utf8')).toBe('real');
    expect(collected.copied).toBe(3);
  });

  it("GIVEN the build's own folder WHEN collected THEN its files are hard-linked, but not one that has a name outside it", async () => {
    const { src, secret } = sourceAndHost();
    // The build linked a host file into its folder: that file is not the build's to hand out.
    linkSync(secret, join(src, 'hard-linked-passwd'));

    const collected = await collectArtifact({ srcDir: src, ownsSrcDir: true, artifact: { files: ['**/*'] }, destination: join(tempFolder(), 'out') });
    appendFileSync(join(collected.directory, 'hard-linked-passwd'), 'evil:x:0:0');

    expect(statSync(join(collected.directory, 'app.js')).ino).toBe(statSync(join(src, 'app.js')).ino);
    expect(readFileSync(secret, 'utf8')).toBe('root:x:0:0');
    expect(collected.copied).toBe(1);
  });
});

describe('runBuildspec: a build that removes its own folder', () => {
  it('GIVEN a build that deletes its source folder WHEN artifacts are collected THEN the build fails in UPLOAD_ARTIFACTS saying so', async () => {
    const src = join(tempFolder(), 'src');
    mkdirSync(src);
    const yaml = `version: 0.2\nphases:\n  build:\n    commands:\n      - cd / && rm -rf ${src}\nartifacts:\n  files: ['**/*']\n`;

    const { result } = await run(yaml, { srcDir: src, artifactsOut: tempFolder() });

    expect(result.failure).toMatchObject({ phase: 'UPLOAD_ARTIFACTS', message: `the primary artifact: the source folder ${src} is gone (did the build remove it?)` });
  });
});

describe('runBuildspec: secondary artifacts follow the same rule', () => {
  it('GIVEN a secondary artifact holding a link to a host file THEN the build fails in UPLOAD_ARTIFACTS naming it', async () => {
    const { src, secret } = sourceAndHost();
    const yaml = `version: 0.2
phases:
  build:
    commands:
      - mkdir -p reports && ln -s ${secret} reports/leak.xml && echo '<x/>' > reports/junit.xml
artifacts:
  files: [app.js]
  secondary-artifacts:
    Reports:
      files: [reports/*]
`;
    const { result, log } = await run(yaml, { srcDir: src, artifactsOut: tempFolder() });

    expect(result.status).toBe('FAILED');
    expect(result.failure?.phase).toBe('UPLOAD_ARTIFACTS');
    expect(result.failure?.message).toContain(`secondary artifact Reports: reports/leak.xml is a symbolic link to ${secret}, outside the source folder`);
    expect(log).toContain('Phase complete: UPLOAD_ARTIFACTS State: FAILED');
  });
});
