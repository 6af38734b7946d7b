import { describe, expect, it, afterEach } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { main } from '../../src/cli/main.js';
import type { CliContext } from '../../src/cli/context.js';

const folders: string[] = [];
afterEach(() => {
  for (const folder of folders.splice(0)) {
    rmSync(folder, { recursive: true, force: true });
  }
});

function tempFolder(): string {
  const folder = mkdtempSync(join(tmpdir(), 'sp-buildspec-cli-'));
  folders.push(folder);
  return folder;
}

/** Run the CLI in-process in `cwd`; returns its exit code and what it printed. */
async function cli(cwd: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => out.push(chunk));
  stderr.on('data', (chunk: Buffer) => err.push(chunk));
  const ctx: CliContext = { stdout, stderr, stdin: new PassThrough(), cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME }, exitCode: 0 };
  const code = await main(['node', 'service-pipelines', ...args], ctx);
  return { code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

const BUILD = `version: 0.2
env:
  exported-variables: [RESULT]
phases:
  build:
    commands:
      - echo "built $GREETING" > output.txt
      - export RESULT=ok
artifacts:
  files: [output.txt]
`;

describe('service-pipelines buildspec run', () => {
  it('runs in a copy of the source, prints the JSON result on stdout and the log on stderr', async () => {
    // GIVEN a source folder with a buildspec
    const cwd = tempFolder();
    writeFileSync(join(cwd, 'buildspec.yml'), BUILD);
    // WHEN it runs with --json, a variable and an artifacts folder
    const { code, stdout, stderr } = await cli(cwd, 'buildspec', 'run', 'buildspec.yml', '--json', '--env', 'GREETING=world', '--artifacts-out', 'out');
    // THEN it succeeded, the source is untouched, and the artifact holds the build's file
    expect(code).toBe(0);
    const result = JSON.parse(stdout) as { status: string; phases: unknown[]; exportedVariables: unknown; artifacts: { primary: string; secondary: unknown } };
    expect(result.status).toBe('SUCCEEDED');
    expect(result.phases).toEqual([
      { name: 'install', status: 'SUCCEEDED' },
      { name: 'pre_build', status: 'SUCCEEDED' },
      { name: 'build', status: 'SUCCEEDED' },
      { name: 'post_build', status: 'SUCCEEDED' },
    ]);
    expect(result.exportedVariables).toEqual({ RESULT: 'ok' });
    expect(result.artifacts).toEqual({ primary: join(cwd, 'out', 'primary'), secondary: {} });
    expect(readFileSync(join(cwd, 'out/primary/output.txt'), 'utf8')).toBe('built world\n');
    expect(existsSync(join(cwd, 'output.txt'))).toBe(false);
    expect(stderr).toContain('Entering phase BUILD');
    expect(stderr).toContain('Running command export RESULT=ok');
  });

  it('runs in the source folder itself with --in-place, printing the log on stdout', async () => {
    // GIVEN a source folder with a buildspec
    const cwd = tempFolder();
    writeFileSync(join(cwd, 'buildspec.yml'), BUILD);
    // WHEN it runs in place
    const { code, stdout } = await cli(cwd, 'buildspec', 'run', 'buildspec.yml', '--in-place');
    // THEN the build's file is in the source folder
    expect(code).toBe(0);
    expect(readFileSync(join(cwd, 'output.txt'), 'utf8')).toBe('built \n');
    expect(stdout).toContain('Phase complete: BUILD State: SUCCEEDED');
  });

  it('exits 1 on a failed build, naming the phase and the command, and keeps the log', async () => {
    // GIVEN a buildspec whose test command fails
    const cwd = tempFolder();
    writeFileSync(join(cwd, 'buildspec.yml'), 'version: 0.2\nphases:\n  build:\n    commands:\n      - echo testing\n      - sh -c "exit 5"\n');
    // WHEN it runs
    const { code, stderr } = await cli(cwd, 'buildspec', 'run', 'buildspec.yml');
    // THEN the failure is named and the log file is there
    expect(code).toBe(1);
    expect(stderr).toContain('error: the build failed: command "sh -c "exit 5"" exited with status 5 in phase BUILD');
    const logFile = /the log is kept at (\S+)/.exec(stderr)![1]!;
    folders.push(join(logFile, '..'));
    expect(readFileSync(logFile, 'utf8')).toContain('Command did not exit successfully sh -c "exit 5" exit status 5');
  });

  it('exits 2 on bad input: a missing file, invalid YAML, a bad --env, a missing --src, a missing secret', async () => {
    // GIVEN a folder with a broken buildspec and one needing a secret
    const cwd = tempFolder();
    writeFileSync(join(cwd, 'broken.yml'), 'version: 0.2\nphases:\n  build:\n    commands: make\n');
    writeFileSync(join(cwd, 'secret.yml'), 'version: 0.2\nenv:\n  parameter-store:\n    T: /x/token\nphases:\n  build:\n    commands: [touch ran]\n');
    // WHEN each runs
    const missing = await cli(cwd, 'buildspec', 'run', 'nope.yml');
    const broken = await cli(cwd, 'buildspec', 'run', 'broken.yml');
    const badEnv = await cli(cwd, 'buildspec', 'run', 'broken.yml', '--env', '1X=2');
    const noSrc = await cli(cwd, 'buildspec', 'run', 'broken.yml', '--src', 'absent');
    const noSecret = await cli(cwd, 'buildspec', 'run', 'secret.yml', '--in-place');
    // THEN each exits 2 and names the place
    expect([missing.code, broken.code, badEnv.code, noSrc.code, noSecret.code]).toEqual([2, 2, 2, 2, 2]);
    expect(missing.stderr).toContain('nope.yml: no such file');
    expect(broken.stderr).toContain('broken.yml:4:15: phases.build.commands must be a list of commands');
    expect(badEnv.stderr).toContain('--env 1X=2: expected NAME=value');
    expect(noSrc.stderr).toContain('--src absent: no such folder');
    expect(noSecret.stderr).toContain('secret.yml: env.parameter-store.T: parameter "/x/token" has no local value');
    expect(existsSync(join(cwd, 'ran'))).toBe(false);
  });
});

describe('service-pipelines buildspec run in a git repository', () => {
  it('sets CODEBUILD_RESOLVED_SOURCE_VERSION to the commit', async () => {
    // GIVEN a source folder that is a git repository with one commit
    const cwd = tempFolder();
    writeFileSync(join(cwd, 'buildspec.yml'), 'version: 0.2\nphases:\n  build:\n    commands:\n      - echo "version=$CODEBUILD_RESOLVED_SOURCE_VERSION"\n');
    const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd, encoding: 'utf8' }).trim();
    git('init', '-q');
    git('add', '.');
    git('commit', '-q', '-m', 'first');
    const head = git('rev-parse', 'HEAD');
    // WHEN the buildspec runs
    const { code, stdout } = await cli(cwd, 'buildspec', 'run', 'buildspec.yml');
    // THEN the build saw the commit
    expect(code).toBe(0);
    expect(stdout).toContain(`version=${head}`);
  });
});

describe('service-pipelines buildspec run --secrets-file', () => {
  it('gives the build the secrets of the file and masks them in the log', async () => {
    // GIVEN a buildspec reading a parameter, and a secrets file holding it
    const cwd = tempFolder();
    writeFileSync(join(cwd, 'buildspec.yml'), 'version: 0.2\nenv:\n  parameter-store:\n    TOKEN: /app/token\nphases:\n  build:\n    commands:\n      - echo "token=$TOKEN"\n');
    writeFileSync(join(cwd, 'secrets.json'), JSON.stringify({ 'parameter-store': { '/app/token': 's3cr3t-value' } }));
    // WHEN it runs with the file
    const { code, stdout } = await cli(cwd, 'buildspec', 'run', 'buildspec.yml', '--secrets-file', 'secrets.json');
    // THEN the command had the value and the log shows it masked
    expect(code).toBe(0);
    expect(stdout).toContain('token=***');
    expect(stdout).not.toContain('s3cr3t-value');
  });
});

describe('service-pipelines buildspec check', () => {
  it('says a valid buildspec is valid and lists the problems of an invalid one', async () => {
    // GIVEN a valid and an invalid buildspec
    const cwd = tempFolder();
    writeFileSync(join(cwd, 'good.yml'), BUILD);
    writeFileSync(join(cwd, 'bad.yml'), 'version: 0.2\nphases:\n  biuld:\n    commands: [make]\n');
    // WHEN each is checked
    const good = await cli(cwd, 'buildspec', 'check', 'good.yml');
    const bad = await cli(cwd, 'buildspec', 'check', 'bad.yml');
    // THEN the exit codes and messages say so
    expect(good.code).toBe(0);
    expect(good.stdout).toContain('good.yml: valid buildspec (phases: build; artifacts: primary)');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('bad.yml:3:3: phases: unknown phase "biuld" (did you mean "build"?)');
  });
});
