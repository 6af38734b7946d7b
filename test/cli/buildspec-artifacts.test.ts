/**
 * `buildspec run --artifacts-out` through the real CLI: the scenarios of a careless or hostile
 * source (links to host files and folders), and the write-through check.
 */
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { glob } from 'tinyglobby';
import { runCli } from '../support/cli.js';

const folders: string[] = [];
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

/** A working folder with `src/` (the build's source) and `host/` (files the build does not own). */
function workspace(): { cwd: string; src: string; host: string } {
  const cwd = mkdtempSync(path.join(tmpdir(), 'sp-cli-artifacts-'));
  folders.push(cwd);
  const src = path.join(cwd, 'src');
  const host = path.join(cwd, 'host');
  mkdirSync(src);
  mkdirSync(path.join(host, 'ssh'), { recursive: true });
  writeFileSync(path.join(host, 'passwd'), 'root:x:0:0\n');
  writeFileSync(path.join(host, 'ssh', 'id_ed25519'), 'PRIVATE KEY\n');
  writeFileSync(path.join(src, 'data.txt'), 'original\n');
  return { cwd, src, host };
}

function buildspec(cwd: string, files: string[]): string {
  const file = path.join(cwd, 'buildspec.yml');
  writeFileSync(file, `version: 0.2\nphases:\n  build:\n    commands:\n      - echo built\nartifacts:\n  files:\n${files.map((f) => `    - '${f}'`).join('\n')}\n`);
  return 'buildspec.yml';
}

const env = { PATH: process.env.PATH, HOME: process.env.HOME };

describe('service-pipelines buildspec run --artifacts-out: links out of the source', () => {
  it('GIVEN src/passwd-link -> a host file in files WHEN run THEN exit 1 naming the link and its target, and the host file is not in the artifact', async () => {
    const { cwd, src, host } = workspace();
    symlinkSync(path.join(host, 'passwd'), path.join(src, 'passwd-link'));

    const run = await runCli(['buildspec', 'run', buildspec(cwd, ['passwd-link']), '--src', 'src', '--artifacts-out', 'out'], { cwd, env });

    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain(`passwd-link is a symbolic link to ${path.join(host, 'passwd')}, outside the source folder`);
    expect(existsSync(path.join(cwd, 'out', 'primary', 'passwd-link'))).toBe(false);
  });

  it('GIVEN src/etc-link -> a host folder and files **/* WHEN run THEN exit 1 and not one host file is collected', async () => {
    const { cwd, src, host } = workspace();
    symlinkSync(host, path.join(src, 'etc-link'));

    const run = await runCli(['buildspec', 'run', buildspec(cwd, ['**/*']), '--src', 'src', '--artifacts-out', 'out'], { cwd, env });

    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain(`etc-link is a symbolic link to ${host}, outside the source folder`);
    expect(await glob(['**/*'], { cwd: path.join(cwd, 'out'), dot: true })).toEqual([]);
  });
});

describe('service-pipelines buildspec run --artifacts-out: writing to an artifact', () => {
  it("GIVEN --in-place WHEN the artifact's file is appended to THEN the source file is unchanged", async () => {
    const { cwd } = workspace();

    const run = await runCli(['buildspec', 'run', buildspec(cwd, ['data.txt']), '--src', 'src', '--in-place', '--artifacts-out', 'out'], { cwd, env });
    appendFileSync(path.join(cwd, 'out', 'primary', 'data.txt'), 'changed through the artifact\n');

    expect(run.exitCode).toBe(0);
    expect(readFileSync(path.join(cwd, 'src', 'data.txt'), 'utf8')).toBe('original\n');
  });

  it("GIVEN a build in a copy WHEN the artifact's file is appended to THEN the source file is unchanged", async () => {
    const { cwd } = workspace();

    const run = await runCli(['buildspec', 'run', buildspec(cwd, ['data.txt']), '--src', 'src', '--artifacts-out', 'out'], { cwd, env });
    appendFileSync(path.join(cwd, 'out', 'primary', 'data.txt'), 'changed through the artifact\n');

    expect(run.exitCode).toBe(0);
    expect(readFileSync(path.join(cwd, 'src', 'data.txt'), 'utf8')).toBe('original\n');
  });

  it("GIVEN --src names a symbolic link to the source folder WHEN run in a copy THEN the build runs in a copy of the folder, which stays as it was", async () => {
    const { cwd, src } = workspace();
    symlinkSync(src, path.join(cwd, 'src-link'));
    const file = path.join(cwd, 'writes.yml');
    writeFileSync(file, "version: 0.2\nphases:\n  build:\n    commands:\n      - echo built > built.txt\nartifacts:\n  files: ['**/*']\n");

    const run = await runCli(['buildspec', 'run', 'writes.yml', '--src', 'src-link', '--artifacts-out', 'out'], { cwd, env });
    appendFileSync(path.join(cwd, 'out', 'primary', 'data.txt'), 'changed through the artifact\n');

    expect(run.exitCode, run.stderr).toBe(0);
    expect(existsSync(path.join(src, 'built.txt'))).toBe(false);
    expect(readFileSync(path.join(src, 'data.txt'), 'utf8')).toBe('original\n');
  });
});
