import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/model/errors.js';
import { parseBuildspec, renderBuildspec, validateBuildspec, type Buildspec } from '../../src/buildspec/index.js';

/** The problems parseBuildspec reports, as `where message`. */
function problemsOf(yaml: string): string[] {
  try {
    parseBuildspec(yaml, 'buildspec.yml');
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return (error as InputError).problems.map((p) => `${p.where} ${p.message}`);
  }
  throw new Error('expected the buildspec to be rejected');
}

describe('parseBuildspec', () => {
  it('reads a full buildspec into its typed form', () => {
    // GIVEN a buildspec using every section the executor honours
    const yaml = `version: 0.2
env:
  shell: bash
  variables:
    PORT: 8080
    NAME: api
  parameter-store:
    TOKEN: /app/token
  secrets-manager:
    DB: app/db:password
  exported-variables:
    - NAME
phases:
  install:
    runtime-versions:
      nodejs: 20
    commands:
      - npm ci
  build:
    on-failure: CONTINUE
    commands:
      - npm test
      - true
    finally:
      - echo done
artifacts:
  files:
    - '**/*'
  base-directory: dist
  discard-paths: yes
  exclude-paths: '**/*.map'
  secondary-artifacts:
    Reports:
      files: [reports/*.xml]
`;
    // WHEN it is parsed
    const buildspec = parseBuildspec(yaml, 'buildspec.yml');
    // THEN scalars are text, flags booleans, a single exclude pattern a list
    expect(buildspec.env).toEqual({
      shell: 'bash',
      variables: { PORT: '8080', NAME: 'api' },
      'parameter-store': { TOKEN: '/app/token' },
      'secrets-manager': { DB: 'app/db:password' },
      'exported-variables': ['NAME'],
    });
    expect(buildspec.phases.build).toEqual({ 'on-failure': 'CONTINUE', commands: ['npm test', 'true'], finally: ['echo done'] });
    expect(buildspec.phases.install?.['runtime-versions']).toEqual({ nodejs: '20' });
    expect(buildspec.artifacts).toMatchObject({ 'discard-paths': true, 'exclude-paths': ['**/*.map'], 'secondary-artifacts': { Reports: { files: ['reports/*.xml'] } } });
  });

  it('reports invalid YAML at its line and column', () => {
    // GIVEN YAML with an unclosed flow sequence
    // WHEN it is parsed / THEN the problem is placed
    const problems = problemsOf('version: 0.2\nphases:\n  build:\n    commands: [echo\n');
    expect(problems[0]).toMatch(/^buildspec\.yml:\d+:\d+ invalid YAML: /);
  });

  it('reports an unknown version, naming 0.2', () => {
    // GIVEN versions that do not run here
    // WHEN they are parsed / THEN each is refused at the version's value
    expect(problemsOf('version: 0.3\nphases: {}\n')).toEqual(['buildspec.yml:1:10 version 0.3 is not supported: use 0.2']);
    expect(problemsOf('version: 0.1\nphases: {}\n')[0]).toContain('0.1 runs each command in a shell of its own');
    expect(problemsOf('phases: {}\n')[0]).toContain('version is missing');
  });

  it('reports a phase that is not a map, and commands that are not a list of strings, with their positions', () => {
    // GIVEN a phase given as a list and commands given as a string or containing a map
    const yaml = `version: 0.2
phases:
  install:
    - npm ci
  build:
    commands: npm test
  post_build:
    commands:
      - echo ok
      - echo: broken
`;
    // WHEN it is parsed
    const problems = problemsOf(yaml);
    // THEN every problem is reported at once, each at its place
    expect(problems).toEqual([
      'buildspec.yml:4:5 phases.install must be a map, not a list',
      'buildspec.yml:6:15 phases.build.commands must be a list of commands, not the string "npm test"',
      'buildspec.yml:10:9 phases.post_build.commands[1] must be a string, not a map: quote the command (YAML reads "key: value" in it as a map)',
    ]);
  });

  it('reports unknown keys with a suggestion', () => {
    // GIVEN misspelt keys at several levels
    const yaml = `version: 0.2
enviroment: {}
phases:
  biuld:
    commands: [make]
  install:
    comands: [npm ci]
    on-failure: CONTINU
artifacts:
  files: ['**/*']
  discard-path: yes
`;
    // WHEN it is parsed
    const problems = problemsOf(yaml);
    // THEN each is named where it is, with the key meant
    expect(problems).toEqual([
      expect.stringContaining('buildspec.yml:2:1 unknown key "enviroment" (did you mean "env"?)'),
      expect.stringContaining('buildspec.yml:4:3 phases: unknown phase "biuld" (did you mean "build"?)'),
      expect.stringContaining('buildspec.yml:7:5 phases.install: unknown key "comands" (did you mean "commands"?)'),
      expect.stringContaining('buildspec.yml:8:17 phases.install.on-failure must be ABORT or CONTINUE (did you mean "CONTINUE"?)'),
      expect.stringContaining('buildspec.yml:11:3 artifacts: unknown key "discard-path" (did you mean "discard-paths"?)'),
    ]);
  });

  it('reports bad values in env and artifacts', () => {
    // GIVEN a Windows shell, a reserved variable, a bad flag and a missing files list
    const yaml = `version: 0.2
env:
  shell: powershell.exe
  variables:
    CODEBUILD_X: 1
    OK: [1, 2]
phases:
  build:
    commands: [make]
artifacts:
  enable-symlinks: maybe
  secondary-artifacts:
    bad-id:
      files: [x]
    Other:
      name: other
`;
    // WHEN it is parsed
    const problems = problemsOf(yaml);
    // THEN each problem is named
    expect(problems).toEqual([
      expect.stringContaining('buildspec.yml:3:10 env.shell "powershell.exe" is a Windows shell'),
      expect.stringContaining('buildspec.yml:5:5 env.variables: CODEBUILD_X: the CODEBUILD_ prefix is reserved'),
      expect.stringContaining('buildspec.yml:6:9 env.variables.OK must be a string, not a list'),
      expect.stringContaining('buildspec.yml:11:20 artifacts.enable-symlinks must be yes or no'),
      expect.stringContaining('buildspec.yml:13:5 artifacts.secondary-artifacts: "bad-id" is not an artifact identifier'),
      expect.stringContaining('buildspec.yml:16:7 artifacts.secondary-artifacts.Other.files is missing'),
    ]);
  });
});

describe('validateBuildspec', () => {
  it('names problems of a document built in code by their key path', () => {
    // GIVEN a document with a bad command list
    const document = { version: 0.2, phases: { build: { commands: 'make' } } };
    // WHEN it is validated / THEN the file and the path are named
    expect(() => validateBuildspec(document, 'plan action Build/Lint')).toThrow(
      'plan action Build/Lint: phases.build.commands must be a list of commands, not the string "make"',
    );
  });
});

describe('renderBuildspec', () => {
  it('renders a typed buildspec to YAML that parses back to the same buildspec', () => {
    // GIVEN a buildspec built in code, as the AWS engine builds them
    const buildspec: Buildspec = {
      version: 0.2,
      env: { shell: 'bash', variables: { STAGE: 'dev' }, 'exported-variables': ['SERVICE_URL'] },
      phases: {
        install: { commands: ['npx service-pipelines step install'] },
        build: {
          commands: ["npx service-pipelines step deploy --stage dev --region eu-west-1 --command 'a: b'", 'echo "#not a comment"'],
          'on-failure': 'ABORT',
        },
      },
      artifacts: { files: ['**/*'], 'base-directory': '.pipeline/Outputs_dev', 'discard-paths': false },
    };
    // WHEN it is rendered and parsed again
    const yaml = renderBuildspec(buildspec);
    // THEN it reads the same, with flags written as yes/no and version as a number
    expect(yaml).toContain('version: 0.2\n');
    expect(yaml).toContain('discard-paths: no');
    expect(parseBuildspec(yaml, 'rendered.yml')).toEqual(buildspec.artifacts ? { ...buildspec, artifacts: { ...buildspec.artifacts, 'discard-paths': false } } : buildspec);
  });
});
