import { describe, expect, it } from 'vitest';
import { realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../../src/model/errors.js';
import { LocalSecretResolver, MASK } from '../../../src/local/executor/index.js';
import { run, tempFolder } from './helpers.js';

describe('runBuildspec: variables', () => {
  it('gives env.variables, the build variables over them, and the CODEBUILD_ variables', async () => {
    // GIVEN buildspec variables, build variables overriding one, a secondary source and a source version
    const src = realpathSync(tempFolder());
    const other = realpathSync(tempFolder());
    const yaml = `version: 0.2
env:
  variables:
    FROM_SPEC: spec
    OVERRIDDEN: spec
    PORT: 8080
phases:
  build:
    commands:
      - echo "$FROM_SPEC $OVERRIDDEN $PORT"
      - echo "$CODEBUILD_SRC_DIR|$CODEBUILD_BUILD_ID|$CODEBUILD_BUILD_SUCCEEDING|$CODEBUILD_RESOLVED_SOURCE_VERSION|$CODEBUILD_SRC_DIR_BuildOutput"
      - echo "home=$HOME"
`;
    // WHEN it runs
    const { output } = await run(yaml, {
      srcDir: src,
      env: { OVERRIDDEN: 'build' },
      buildId: 'local:42',
      resolvedSourceVersion: 'abc123',
      secondarySources: { BuildOutput: other },
      baseEnv: { PATH: process.env.PATH, HOME: '/home/builder' },
    });
    // THEN each variable has the value of the highest place that defines it
    expect(output).toEqual(['spec build 8080', `${src}|local:42|1|abc123|${other}`, 'home=/home/builder']);
  });

  it('runs commands with sh by default and with bash when env.shell says so', async () => {
    // GIVEN the same command under both shells
    const command = `
phases:
  build:
    commands:
      - if [ -n "$BASH_VERSION" ]; then echo bash; else echo not-bash; fi`;
    // WHEN each runs
    const bySh = await run(`version: 0.2${command}`);
    const byBash = await run(`version: 0.2\nenv:\n  shell: bash${command}`);
    // THEN the default is sh, and bash when asked
    expect(bySh.output).toEqual(['not-bash']);
    expect(byBash.output).toEqual(['bash']);
    expect(byBash.log).toContain('Using shell bash');
  });

  it('exports the final values of env.exported-variables, leaving out unset and AWS_ ones', async () => {
    // GIVEN variables set and changed across phases
    const yaml = `version: 0.2
env:
  variables:
    FROM_SPEC: initial
  exported-variables:
    - FROM_SPEC
    - SET_IN_BUILD
    - NEVER_SET
    - AWS_REGION
    - MULTI_LINE
phases:
  install:
    commands:
      - export SET_IN_BUILD=first
  build:
    commands:
      - SET_IN_BUILD="second value"
      - FROM_SPEC=changed
      - export AWS_REGION=eu-west-1
  post_build:
    commands:
      - MULTI_LINE="$(printf 'a\\nb')"
`;
    // WHEN it runs
    const { result, log } = await run(yaml);
    // THEN the values at the end of the build are exported
    expect(result.exportedVariables).toEqual({ FROM_SPEC: 'changed', SET_IN_BUILD: 'second value', MULTI_LINE: 'a\nb' });
    expect(log).toContain('Not exporting AWS_REGION');
  });
});

describe('runBuildspec: parameter-store and secrets-manager', () => {
  it('resolves them through the resolver and masks every value in every log line', async () => {
    // GIVEN a local secrets file with a parameter and a JSON secret
    const folder = tempFolder();
    const secretsFile = join(folder, 'secrets.json');
    writeFileSync(secretsFile, JSON.stringify({ 'parameter-store': { '/app/token': 'tok-123456' }, 'secrets-manager': { 'app/db': { password: 'hunter2-pw', user: 'admin' } } }));
    const yaml = `version: 0.2
env:
  parameter-store:
    TOKEN: /app/token
  secrets-manager:
    DB_PASSWORD: app/db:password
    DB_JSON: app/db
phases:
  build:
    commands:
      - echo "token is $TOKEN"
      - echo "password is $DB_PASSWORD" >&2
      - echo "tok-123456 typed in a command"
      - test "$DB_PASSWORD" = hunter2-pw && echo "the real value reached the command"
`;
    // WHEN it runs
    const { result, lines } = await run(yaml, { secrets: LocalSecretResolver.fromFile(secretsFile) });
    // THEN the commands got the values, and no log line shows them
    expect(result.status).toBe('SUCCEEDED');
    const text = lines.map((line) => line.text).join('\n');
    expect(text).not.toContain('tok-123456');
    expect(text).not.toContain('hunter2-pw');
    expect(text).toContain(`token is ${MASK}`);
    expect(text).toContain(`password is ${MASK}`);
    expect(text).toContain(`Running command echo "${MASK} typed in a command"`);
    expect(text).toContain('the real value reached the command');
  });

  it('reads values from the environment, and masks a build variable that replaces a secret', async () => {
    // GIVEN a parameter given through the environment, and a secret replaced by a build variable
    const yaml = `version: 0.2
env:
  parameter-store:
    TOKEN: /app/token
  secrets-manager:
    KEY: app/key
phases:
  build:
    commands:
      - echo "$TOKEN $KEY"
`;
    const secrets = LocalSecretResolver.fromEnvironment({ SERVICE_PIPELINES_PARAMETER_APP_TOKEN: 'from-env-1' });
    // WHEN it runs
    const { result, output } = await run(yaml, { secrets, env: { KEY: 'given-key-9' } });
    // THEN both are used, and masked
    expect(result.status).toBe('SUCCEEDED');
    expect(output).toEqual([`${MASK} ${MASK}`]);
  });

  it('refuses to run when a value cannot be found, naming every missing one and where it is declared', async () => {
    // GIVEN two references with no local value
    const yaml = `version: 0.2
env:
  parameter-store:
    A: /missing/a
  secrets-manager:
    B: missing-b
phases:
  build:
    commands:
      - touch ran.txt
`;
    // WHEN it runs
    const error = await run(yaml, { secrets: LocalSecretResolver.fromEnvironment({}) }).catch((e: unknown) => e);
    // THEN it is bad input naming both, and nothing ran
    expect(error).toBeInstanceOf(InputError);
    const problems = (error as InputError).problems;
    expect(problems.map((p) => p.where)).toEqual(['buildspec.yml: env.parameter-store.A', 'buildspec.yml: env.secrets-manager.B']);
    expect(problems[0]!.message).toContain('SERVICE_PIPELINES_PARAMETER_MISSING_A');
  });
});
