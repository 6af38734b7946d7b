import { describe, expect, it } from 'vitest';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ArtifactError, collectArtifact } from '../../../src/local/executor/index.js';
import { run, tempFolder } from './helpers.js';
import { glob } from 'tinyglobby';

/** Write files (path → content) below `root`. */
function tree(root: string, files: Record<string, string>): string {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}

async function listing(folder: string): Promise<string[]> {
  return (await glob(['**/*'], { cwd: folder, dot: true })).sort();
}

describe('collectArtifact', () => {
  it('selects files by glob below the base directory, which is not part of the artifact', async () => {
    // GIVEN the tree of the AWS documentation's base-directory example
    const src = tree(tempFolder(), { 'my-build1/my-file1.txt': '1', 'my-build2/my-file2.txt': '2', 'my-build2/my-subdirectory/my-file3.txt': '3' });
    const destination = join(tempFolder(), 'out');
    // WHEN files '*/my-file3.txt' are collected from base-directory my-build2
    const collected = await collectArtifact({ srcDir: src, artifact: { files: ['*/my-file3.txt'], 'base-directory': 'my-build2' }, destination });
    // THEN only my-subdirectory/my-file3.txt is in the artifact
    expect(collected.files).toBe(1);
    expect(await listing(destination)).toEqual(['my-subdirectory/my-file3.txt']);
  });

  it('expands a base-directory pattern to several folders and flattens paths with discard-paths', async () => {
    // GIVEN the same tree
    const src = tree(tempFolder(), { 'my-build1/my-file1.txt': '1', 'my-build2/my-file2.txt': '2', 'my-build2/my-subdirectory/my-file3.txt': '3', 'other/x.txt': 'x' });
    const destination = join(tempFolder(), 'out');
    // WHEN '**/*' is collected from 'my-build*' with discard-paths
    await collectArtifact({ srcDir: src, artifact: { files: ['**/*'], 'base-directory': 'my-build*', 'discard-paths': 'yes' }, destination });
    // THEN the three files sit at the root, as in the documentation
    expect(await listing(destination)).toEqual(['my-file1.txt', 'my-file2.txt', 'my-file3.txt']);
  });

  it('leaves out exclude-paths, takes dot files, and hard-links the files of the build\'s own folder rather than copying them', async () => {
    // GIVEN files, some to exclude
    const src = tree(tempFolder(), { 'dist/app.js': 'app', 'dist/app.js.map': 'map', 'dist/.env': 'dot', 'dist/tmp/x.tmp': 'tmp' });
    const destination = join(tempFolder(), 'out');
    // WHEN dist is collected without maps and tmp files
    const collected = await collectArtifact({ srcDir: src, ownsSrcDir: true, artifact: { files: ['dist/**/*'], 'exclude-paths': ['**/*.map', 'dist/tmp/**'] }, destination });
    // THEN the rest is there, as links to the same files (the folder is the build's own)
    expect(await listing(destination)).toEqual(['dist/.env', 'dist/app.js']);
    expect(collected.copied).toBe(0);
    expect(statSync(join(destination, 'dist/app.js')).ino).toBe(statSync(join(src, 'dist/app.js')).ino);
  });

  it('fails as CodeBuild does when nothing matches', async () => {
    // GIVEN a source without the files asked for
    const src = tree(tempFolder(), { 'a.txt': 'a' });
    // WHEN collecting missing files, or from a missing base directory
    const noFiles = await collectArtifact({ srcDir: src, artifact: { files: ['dist/**/*'] }, destination: join(tempFolder(), 'o1') }).catch((e: unknown) => e);
    const noBase = await collectArtifact({ srcDir: src, artifact: { files: ['**/*'], 'base-directory': 'build' }, destination: join(tempFolder(), 'o2') }).catch(
      (e: unknown) => e,
    );
    // THEN both fail, naming the problem
    expect(noFiles).toBeInstanceOf(ArtifactError);
    expect((noFiles as Error).message).toMatch(/no matching artifact paths found/);
    expect(noBase).toBeInstanceOf(ArtifactError);
    expect((noBase as Error).message).toMatch(/no matching base directory path found for build/);
  });
});

describe('runBuildspec: artifacts', () => {
  it('collects the primary artifact and each secondary one into its own folder, and names them in the shell', async () => {
    // GIVEN a build producing a package and a report
    const out = tempFolder();
    const yaml = `version: 0.2
env:
  variables:
    VERSION: "1.2"
phases:
  build:
    commands:
      - mkdir -p dist reports && echo code > dist/app.js && echo '<x/>' > reports/junit.xml
artifacts:
  files:
    - '**/*'
  base-directory: dist
  name: app-$VERSION-$(echo built)
  secondary-artifacts:
    Reports:
      files:
        - reports/*.xml
      discard-paths: yes
`;
    // WHEN it runs with an artifacts folder
    const { result, log } = await run(yaml, { artifactsOut: out });
    // THEN primary and secondary artifacts are in their folders
    expect(result.status).toBe('SUCCEEDED');
    expect(result.artifacts).toEqual({ primary: join(out, 'primary'), secondary: { Reports: join(out, 'Reports') } });
    expect(readFileSync(join(out, 'primary/app.js'), 'utf8')).toBe('code\n');
    expect(existsSync(join(out, 'Reports/junit.xml'))).toBe(true);
    expect(log).toContain('Artifact primary is named app-1.2-built');
  });

  it('fails the build in UPLOAD_ARTIFACTS when the files match nothing', async () => {
    // GIVEN a build that produces nothing the artifact asks for
    const yaml = `version: 0.2
phases:
  build:
    commands:
      - echo built
artifacts:
  files:
    - dist/**/*
`;
    // WHEN it runs
    const { result, log } = await run(yaml, { artifactsOut: tempFolder() });
    // THEN the build failed there
    expect(result.status).toBe('FAILED');
    expect(result.failure).toMatchObject({ phase: 'UPLOAD_ARTIFACTS' });
    expect(log).toContain('Phase complete: UPLOAD_ARTIFACTS State: FAILED');
  });
});

describe('runBuildspec: artifacts folder inside the source', () => {
  it('never collects the artifacts folder into an artifact, so a second run collects the same files', async () => {
    // GIVEN a build run in place twice, collecting everything into a folder inside the source
    const src = tempFolder();
    const out = join(src, 'out');
    const yaml = `version: 0.2
phases:
  build:
    commands:
      - echo built > built.txt
artifacts:
  files: ['**/*']
`;
    // WHEN it runs twice
    await run(yaml, { srcDir: src, artifactsOut: out });
    const { result } = await run(yaml, { srcDir: src, artifactsOut: out });
    // THEN the artifact holds the build's file only
    expect(result.status).toBe('SUCCEEDED');
    expect(await listing(result.artifacts.primary!)).toEqual(['built.txt']);
  });
});

describe('collectArtifact: symbolic links', () => {
  it('takes the file a link points to, or the link itself with enable-symlinks', async () => {
    // GIVEN a file and a relative symbolic link to it
    const src = tree(tempFolder(), { 'lib/real.txt': 'real' });
    symlinkSync('real.txt', join(src, 'lib/link.txt'));
    // WHEN collected with and without enable-symlinks
    const followed = await collectArtifact({ srcDir: src, artifact: { files: ['lib/*'] }, destination: join(tempFolder(), 'followed') });
    const kept = await collectArtifact({ srcDir: src, artifact: { files: ['lib/*'], 'enable-symlinks': 'yes' }, destination: join(tempFolder(), 'kept') });
    // THEN the first holds a regular file with the content, the second the link
    expect(lstatSync(join(followed.directory, 'lib/link.txt')).isSymbolicLink()).toBe(false);
    expect(readFileSync(join(followed.directory, 'lib/link.txt'), 'utf8')).toBe('real');
    expect(readlinkSync(join(kept.directory, 'lib/link.txt'))).toBe('real.txt');
  });
});

describe('collectArtifact: paths outside the source folder', () => {
  it('refuses a base directory outside the source and never takes files from outside it', async () => {
    // GIVEN a source folder beside a folder with a file in it
    const parent = tempFolder();
    const src = tree(join(parent, 'src'), { 'a.txt': 'a' });
    tree(parent, { 'outside/secret.txt': 'secret' });
    // WHEN an artifact reaches outside
    const viaBase = await collectArtifact({ srcDir: src, artifact: { files: ['**/*'], 'base-directory': '../outside' }, destination: join(parent, 'o1') }).catch(
      (e: unknown) => e,
    );
    const viaFiles = await collectArtifact({ srcDir: src, artifact: { files: ['a.txt', '../outside/*'] }, destination: join(parent, 'o2') });
    // THEN the base directory is refused and the outside file left out
    expect((viaBase as Error).message).toBe('base-directory ../outside is outside the source folder');
    expect(await listing(viaFiles.directory)).toEqual(['a.txt']);
  });
});
