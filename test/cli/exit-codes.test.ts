/**
 * Bad input ends with exit code 2 and a message naming the input, never "unexpected failure"
 * with exit 1, never a silent exit 0; a closed stdout ends the CLI quietly.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BUILDSPEC_MAX_BYTES } from '../../src/buildspec/index.js';
import { runCli } from '../support/cli.js';

const projectRoot = path.resolve(import.meta.dirname, '../..');
const bin = path.join(projectRoot, 'bin/service-pipelines.js');

const folders: string[] = [];
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

function folderWith(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'sp-exit-'));
  folders.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

/** The CLI as a real process (what a user runs), for what only a process shows: process.exit, pipes. */
function runBin(args: readonly string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  expect(existsSync(path.join(projectRoot, 'dist/cli/main.js')), 'npm run build first').toBe(true);
  const result = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const VALID = `{
  cicd: { account: '111111111111', region: 'us-east-1' },
  environments: [{ name: 'dev', account: '222222222222', region: 'us-east-1' }],
  services: [{ name: 'svc', source: { path: '.' } }],
}`;

describe('a config that fails while it loads', () => {
  it('GIVEN a default export that is an async function that throws WHEN planned THEN exit 2 naming the file and the reason', async () => {
    const cwd = folderWith({ 'pipelines.config.ts': `export default async () => {\n  throw new Error('no accounts yet');\n};\n` });

    const run = await runCli(['plan'], { cwd });

    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain(`error: could not load the config file ${path.join(cwd, 'pipelines.config.ts')}`);
    expect(run.stderr).toContain('pipelines.config.ts: its default export (a function) threw: no accounts yet');
    expect(run.stderr).not.toContain('unexpected failure');
  });

  it('GIVEN a config with a getter that throws WHEN planned THEN exit 2 naming the key', async () => {
    const cwd = folderWith({
      'pipelines.config.ts': `const config = ${VALID};\nObject.defineProperty(config.services[0], 'name', { enumerable: true, get() { throw new Error('getter boom'); } });\nexport default config;\n`,
    });

    const run = await runCli(['plan'], { cwd });

    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('services[0].name: reading it threw: getter boom');
    expect(run.stderr).not.toContain('unexpected failure');
  });

  it('GIVEN a config that calls process.exit(0) at its top level WHEN planned THEN exit 2 saying so, not a silent 0', () => {
    const cwd = folderWith({ 'pipelines.config.ts': `process.exit(0);\nexport default ${VALID};\n` });

    const run = runBin(['plan'], cwd);

    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('pipelines.config.ts: it called process.exit(0) while loading');
  });

  it('GIVEN a config whose default export calls process.exit(3) WHEN planned THEN exit 2 saying so', () => {
    const cwd = folderWith({ 'pipelines.config.ts': `export default async () => {\n  process.exit(3);\n};\n` });

    const run = runBin(['plan'], cwd);

    expect(run.status).toBe(2);
    expect(run.stderr).toContain('pipelines.config.ts: it called process.exit(3) while loading');
  });
});

describe('history -n', () => {
  it('GIVEN a count too large for a whole number WHEN history runs THEN exit 2 naming --limit', async () => {
    const cwd = folderWith({});

    const run = await runCli(['history', '-n', '99999999999999999999'], { cwd });

    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('--limit 99999999999999999999');
    expect(run.stderr).toContain('give a count from 1 to 1000000');
  });

  it('GIVEN a count that is not written in digits WHEN history runs THEN exit 2', async () => {
    const cwd = folderWith({});

    for (const count of ['1e3', '0x10', '2.5', '0', '-4']) {
      const run = await runCli(['history', '-n', count], { cwd });
      expect(run.exitCode, count).toBe(2);
    }
  });
});

describe('buildspecs a parser must not be made to chew on', () => {
  const bomb = [
    'version: 0.2',
    'lol1: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]',
    'lol2: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]',
    'lol3: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]',
    'lol4: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]',
    'lol5: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]',
    'lol6: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]',
    'phases:',
    '  build:',
    '    commands: *f',
    '',
  ].join('\n');

  it('GIVEN a YAML alias bomb WHEN checked or run THEN exit 2 with file:line', async () => {
    const cwd = folderWith({ 'bomb.yml': bomb });

    const check = await runCli(['buildspec', 'check', 'bomb.yml'], { cwd });
    const run = await runCli(['buildspec', 'run', 'bomb.yml'], { cwd });

    for (const result of [check, run]) {
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toMatch(/bomb\.yml:\d+:\d+: its aliases expand to too many values/);
      expect(result.stderr).not.toContain('unexpected failure');
    }
  });

  it(`GIVEN a buildspec over ${BUILDSPEC_MAX_BYTES} bytes WHEN checked THEN exit 2 naming the limit, without parsing it`, async () => {
    const commands = Array.from({ length: Math.ceil(BUILDSPEC_MAX_BYTES / 10) }, (_, i) => `      - echo ${i}`).join('\n');
    const cwd = folderWith({ 'huge.yml': `version: 0.2\nphases:\n  build:\n    commands:\n${commands}\n` });

    const run = await runCli(['buildspec', 'check', 'huge.yml'], { cwd });

    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('huge.yml: the buildspec is');
    expect(run.stderr).toContain(`a buildspec is at most 1 MiB (${BUILDSPEC_MAX_BYTES.toLocaleString('en-US')} bytes)`);
  });
});

describe('a closed stdout', () => {
  it('GIVEN stdout piped into a command that does not read it WHEN --help is printed THEN no EPIPE stack trace and exit 0', () => {
    expect(existsSync(path.join(projectRoot, 'dist/cli/main.js')), 'npm run build first').toBe(true);
    const cwd = folderWith({});
    // `true` exits without reading (as `head -1` does after one line): the write meets a closed pipe.
    const result = spawnSync('bash', ['-c', 'set -o pipefail; "$0" "$1" --help | true', process.execPath, bin], { cwd, encoding: 'utf8', timeout: 60_000 });

    expect(result.stderr).not.toContain('EPIPE');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});
