import { describe, expect, it } from 'vitest';
import { realpathSync } from 'node:fs';
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
