import { describe, expect, it } from 'vitest';
import { readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { run, tempFolder } from './helpers.js';

describe('runBuildspec: phases in one shell', () => {
  it('runs install, pre_build, build and post_build in order, in one shell, so cd and export carry over', async () => {
    // GIVEN a buildspec whose phases change folder and export a variable
    const src = realpathSync(tempFolder());
    const yaml = `version: 0.2
phases:
  install:
    commands:
      - mkdir -p sub/deeper && cd sub
      - export FROM_INSTALL=yes
      - LOCAL_ONLY=kept
  pre_build:
    commands:
      - cd deeper
  build:
    commands:
      - pwd
      - echo "install=$FROM_INSTALL local=$LOCAL_ONLY"
  post_build:
    commands:
      - echo post
`;
    // WHEN it runs
    const { result, output } = await run(yaml, { srcDir: src });
    // THEN every phase succeeded, in order, and the state of the shell carried over
    expect(result.status).toBe('SUCCEEDED');
    expect(result.phases.map((p) => [p.name, p.status])).toEqual([
      ['install', 'SUCCEEDED'],
      ['pre_build', 'SUCCEEDED'],
      ['build', 'SUCCEEDED'],
      ['post_build', 'SUCCEEDED'],
    ]);
    expect(output).toEqual([`${src}/sub/deeper`, 'install=yes local=kept', 'post']);
  });

  it('stops a phase at its first failing command, runs finally, then post_build with CODEBUILD_BUILD_SUCCEEDING=0', async () => {
    // GIVEN a build phase whose second command fails
    const yaml = `version: 0.2
phases:
  build:
    commands:
      - echo "before $CODEBUILD_BUILD_SUCCEEDING"
      - sh -c 'exit 3'
      - echo never
    finally:
      - echo "finally $CODEBUILD_BUILD_SUCCEEDING"
  post_build:
    commands:
      - echo "post $CODEBUILD_BUILD_SUCCEEDING"
`;
    // WHEN it runs
    const { result, output, log } = await run(yaml);
    // THEN the build failed in BUILD at that command, finally and post_build ran and saw 0
    expect(result.status).toBe('FAILED');
    expect(output).toEqual(['before 1', 'finally 0', 'post 0']);
    const build = result.phases.find((p) => p.name === 'build')!;
    expect(build).toMatchObject({ status: 'FAILED', exitCode: 3, failedCommand: "sh -c 'exit 3'" });
    expect(result.phases.find((p) => p.name === 'post_build')!.status).toBe('SUCCEEDED');
    expect(result.failure).toMatchObject({ phase: 'BUILD', command: "sh -c 'exit 3'", exitCode: 3 });
    expect(log).toMatch(/\[Container\] \d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d\.\d{6} Entering phase BUILD/);
    expect(log).toContain("Command did not exit successfully sh -c 'exit 3' exit status 3");
    expect(log).toContain('Phase complete: BUILD State: FAILED');
  });
});

describe('runBuildspec: failures and on-failure', () => {
  it('ends the build after a failed install: later phases are skipped and no artifact is collected', async () => {
    // GIVEN an install phase that fails, and artifacts to collect
    const out = tempFolder();
    const yaml = `version: 0.2
phases:
  install:
    commands:
      - echo installing > installed.txt
      - exit 4
  build:
    commands:
      - echo never
  post_build:
    commands:
      - echo never
artifacts:
  files: ['**/*']
`;
    // WHEN it runs
    const { result, output, log } = await run(yaml, { artifactsOut: out });
    // THEN install failed with the shell's status, and nothing after it ran
    expect(result.status).toBe('FAILED');
    expect(result.phases.map((p) => p.status)).toEqual(['FAILED', 'SKIPPED', 'SKIPPED', 'SKIPPED']);
    expect(result.phases[0]).toMatchObject({ exitCode: 4, failedCommand: 'exit 4' });
    expect(output).toEqual([]);
    expect(result.artifacts).toEqual({ secondary: {} });
    expect(log).toContain('Skipping UPLOAD_ARTIFACTS');
  });

  it('goes on to the next phase with on-failure: CONTINUE, and still fails the build', async () => {
    // GIVEN a failing pre_build that says CONTINUE
    const yaml = `version: 0.2
phases:
  pre_build:
    on-failure: CONTINUE
    commands:
      - "false"
  build:
    commands:
      - echo "build ran, succeeding=$CODEBUILD_BUILD_SUCCEEDING"
`;
    // WHEN it runs
    const { result, output } = await run(yaml);
    // THEN build ran after the failure, saw the build failing, and the build is FAILED
    expect(output).toEqual(['build ran, succeeding=0']);
    expect(result.phases.map((p) => p.status)).toEqual(['SUCCEEDED', 'FAILED', 'SUCCEEDED', 'SUCCEEDED']);
    expect(result.status).toBe('FAILED');
    expect(result.failure).toMatchObject({ phase: 'PRE_BUILD', command: 'false', exitCode: 1 });
  });

  it('stops the build at a failed phase with on-failure: ABORT: post_build does not run, no artifacts', async () => {
    // GIVEN a failing build phase that says ABORT
    const out = tempFolder();
    const yaml = `version: 0.2
phases:
  build:
    on-failure: ABORT
    commands:
      - touch built.txt
      - "false"
    finally:
      - echo finally
  post_build:
    commands:
      - echo post
artifacts:
  files: ['*.txt']
`;
    // WHEN it runs
    const { result, output } = await run(yaml, { artifactsOut: out });
    // THEN finally ran (it belongs to the phase), post_build did not, nothing was collected
    expect(output).toEqual(['finally']);
    expect(result.phases.map((p) => p.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'FAILED', 'SKIPPED']);
    expect(result.artifacts.primary).toBeUndefined();
  });

  it('fails a phase whose finally block fails, stopping that block at its first failure', async () => {
    // GIVEN commands that succeed and a finally block whose first command fails
    const yaml = `version: 0.2
phases:
  build:
    commands:
      - echo ok
    finally:
      - sh -c 'exit 7'
      - echo never
`;
    // WHEN it runs
    const { result, output } = await run(yaml);
    // THEN the phase failed with the finally command's status
    expect(output).toEqual(['ok']);
    expect(result.phases[2]).toMatchObject({ name: 'build', status: 'FAILED', exitCode: 7, failedCommand: "sh -c 'exit 7'" });
  });

  it('uploads artifacts after a failed build phase, as CodeBuild always attempts UPLOAD_ARTIFACTS then', async () => {
    // GIVEN a build that writes a report, then fails
    const out = tempFolder();
    const yaml = `version: 0.2
phases:
  build:
    commands:
      - mkdir reports && echo '<testsuite/>' > reports/junit.xml
      - "false"
artifacts:
  files: ['reports/**/*']
`;
    // WHEN it runs
    const { result } = await run(yaml, { artifactsOut: out });
    // THEN the build failed and the report was still collected
    expect(result.status).toBe('FAILED');
    expect(readFileSync(join(result.artifacts.primary!, 'reports/junit.xml'), 'utf8')).toBe('<testsuite/>\n');
  });

  it('runs the later commands in a new shell, in the same folder, when a command ends the shell', async () => {
    // GIVEN a command that exits the shell with success, after a cd
    const src = realpathSync(tempFolder());
    const yaml = `version: 0.2
phases:
  build:
    commands:
      - mkdir -p inner && cd inner && export LOST=yes
      - exit 0
      - pwd
      - echo "lost=\${LOST:-unset}"
`;
    // WHEN it runs
    const { result, output, log } = await run(yaml, { srcDir: src });
    // THEN the build went on in the same folder, without the exported variable, and says so
    expect(result.status).toBe('SUCCEEDED');
    expect(output).toEqual([`${src}/inner`, 'lost=unset']);
    expect(log).toContain('The shell ended (exit status 0)');
  });

  it('reports a command with a shell syntax error as failed with status 2, and keeps the shell', async () => {
    // GIVEN a command that is not valid shell, in a phase that continues
    const yaml = `version: 0.2
phases:
  install:
    commands:
      - export KEPT=yes
  build:
    on-failure: CONTINUE
    commands:
      - "if true; then"
  post_build:
    commands:
      - echo "kept=$KEPT"
`;
    // WHEN it runs
    const { result, output } = await run(yaml);
    // THEN the command failed with 2 and the shell (with its variables) lived on
    expect(result.phases[2]).toMatchObject({ status: 'FAILED', exitCode: 2 });
    expect(output.at(-1)).toBe('kept=yes');
  });

  it('stops the running command when the signal aborts, and runs neither finally nor post_build', async () => {
    // GIVEN a long command and a signal that aborts shortly after it starts
    const controller = new AbortController();
    const yaml = `version: 0.2
phases:
  build:
    commands:
      - echo started
      - sleep 30
    finally:
      - echo finally
  post_build:
    commands:
      - echo post
`;
    const started = Date.now();
    // WHEN it runs and the signal aborts
    const running = run(yaml, {
      signal: controller.signal,
      onLog: undefined,
    });
    setTimeout(() => controller.abort(), 300);
    const { result, output } = await running;
    // THEN the build ended quickly, FAILED, with nothing after the killed command
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(result.status).toBe('FAILED');
    expect(result.failure?.phase).toBe('STOPPED');
    expect(output).toEqual(['started']);
    expect(result.phases.map((p) => p.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'FAILED', 'SKIPPED']);
  });

  it('keeps output without a final newline and stderr in the order the commands wrote them', async () => {
    // GIVEN commands writing partial lines and stderr
    const yaml = `version: 0.2
phases:
  build:
    commands:
      - printf 'no newline'
      - echo to-stderr >&2
      - printf 'a\\nb'
`;
    // WHEN it runs
    const { lines } = await run(yaml);
    // THEN every piece is its own line, in order, on its stream
    const output = lines.filter((line) => line.kind === 'output').map((line) => [line.stream, line.text]);
    expect(output).toEqual([
      ['stdout', 'no newline'],
      ['stderr', 'to-stderr'],
      ['stdout', 'a'],
      ['stdout', 'b'],
    ]);
  });
});

describe('runBuildspec: a signal aborted before the start', () => {
  it('runs nothing and fails the build as stopped', async () => {
    // GIVEN a signal that is already aborted
    const controller = new AbortController();
    controller.abort();
    // WHEN a build runs with it
    const { result, output } = await run('version: 0.2\nphases:\n  build:\n    commands: [echo ran]\n', { signal: controller.signal });
    // THEN nothing ran and the build failed as stopped
    expect(output).toEqual([]);
    expect(result.status).toBe('FAILED');
    expect(result.failure).toMatchObject({ phase: 'STOPPED', message: 'the build was stopped before phase INSTALL' });
    expect(result.phases.every((phase) => phase.status === 'SKIPPED')).toBe(true);
  });
});
