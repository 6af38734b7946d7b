/**
 * The plan's step calls carried out in the engine's process give what the command does: the same
 * result (status, exit code, failed command), the same files, and the same log, for each step,
 * when it passes, when its commands fail and when its input is bad. Each case runs the same
 * buildspec twice through the executor: once with the steps in-process, once as the commands the
 * plan renders (`service-pipelines step ...`, through the CLI shim, as CI runners run them).
 * Needs `npm run build` (the command path runs the built CLI).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBuildspec } from '../../src/local/executor/run-buildspec.js';
import type { LogLine } from '../../src/local/executor/types.js';
import { inProcessStepCalls } from '../../src/local/in-process-steps.js';
import { ensureCliShim } from '../../src/local/shim.js';
import { actionCommandLines, stepCommandLine } from '../../src/model/plan.js';
import type { StepCall } from '../../src/model/plan-schema.js';
import { systemClock } from '../../src/runtime/clock.js';
import { nodeProcesses, nodeProcessTable } from '../../src/runtime/process.js';
import { stepOptionsOfCall } from '../../src/steps/step-arguments.js';
import { tempFolder, writeFiles } from './helpers.js';

const root = path.resolve(import.meta.dirname, '../..');
const built = existsSync(path.join(root, 'dist', 'cli', 'main.js'));

let work: { dir: string; cleanup: () => void };
let home: string;
let shim: string;

beforeAll(async () => {
  work = tempFolder('sp-in-process-');
  home = path.join(work.dir, '.service-pipelines');
  shim = await ensureCliShim(home);
});
afterAll(() => work?.cleanup());

const custom = (step: StepCall['step'], args: string[], commands: string[]): StepCall => ({ step, args, flavor: 'custom', commands });
const serverless = (step: StepCall['step'], args: string[] = []): StepCall => ({ step, args, flavor: 'serverless', commands: [] });

/** What a run of the calls gives, with what differs from run to run by nature (times, folders) written out. */
interface Observed {
  readonly status: string;
  readonly phases: ReadonlyArray<{ name: string; status: string; exitCode?: number; failedCommand?: string }>;
  readonly system: string[];
  readonly stdout: string[];
  readonly stderr: string[];
  readonly files: string[];
}

let counter = 0;

/** Run `calls` as one action's buildspec in a fresh copy of `files`, in-process or as commands. */
async function observe(calls: StepCall[], files: Record<string, string>, how: 'in-process' | 'command', env: Record<string, string> = {}): Promise<Observed> {
  counter += 1;
  const srcDir = path.join(work.dir, `${how}-${counter}`, 'src');
  writeFiles(srcDir, files);
  const lines: LogLine[] = [];
  const result = await runBuildspec({
    buildspec: { file: 'equivalence buildspec', document: { version: 0.2, env: { shell: 'sh', variables: { SERVICE_NAME: 'svc', ...env } }, phases: { build: { commands: actionCommandLines({ setup: [], commands: calls.map(stepCommandLine) }) } } } },
    srcDir,
    env: { SERVICE_PIPELINES_TARGET: 'local', SERVICE_PIPELINES_HOME: home, SERVICE_PIPELINES_EXECUTION_ID: 'equivalence' },
    baseEnv: { PATH: `${shim}${path.delimiter}${process.env.PATH ?? ''}`, HOME: process.env.HOME ?? work.dir, NO_COLOR: '1', npm_config_update_notifier: 'false', npm_config_fund: 'false' },
    buildId: 'equivalence:1',
    resolvedSourceVersion: 'abc123',
    onLog: (line) => lines.push(line),
    ...(how === 'in-process' ? { inProcess: inProcessStepCalls(calls, { processes: nodeProcesses, processTable: nodeProcessTable, clock: systemClock }) } : {}),
  });
  const normal = (text: string) =>
    text
      .replaceAll(srcDir, '<src>')
      .replace(/^\[Container\] \d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d\.\d+ /, '[Container] <time> ')
      .replace(/\(\d+\.\d s\)/g, '(<t> s)')
      .replace(/"createdAt": "[^"]+"/g, '"createdAt": "<time>"');
  const of = (stream: LogLine['stream']) => lines.filter((l) => l.stream === stream).map((l) => normal(l.text));
  return {
    status: result.status,
    phases: result.phases.map((p) => ({ name: p.name, status: p.status, ...(p.exitCode !== undefined ? { exitCode: p.exitCode } : {}), ...(p.failedCommand ? { failedCommand: p.failedCommand } : {}) })),
    system: of('system'),
    stdout: of('stdout'),
    stderr: of('stderr'),
    files: listFiles(srcDir).map((file) => `${file}: ${file.endsWith('.sha256') ? anchors(srcDir, file) : normal(readFileSync(path.join(srcDir, file), 'utf8'))}`),
  };
}

/** A digest file, as what it anchors: the manifest (written at a time of its own) it is the sha256 of. */
function anchors(dir: string, file: string): string {
  const digest = readFileSync(path.join(dir, file), 'utf8').trim();
  const manifest = path.join(dir, file.replace(/\.sha256$/, ''), 'manifest.json');
  return createHash('sha256').update(readFileSync(manifest)).digest('hex') === digest ? 'the sha256 of its manifest.json' : `another digest: ${digest}`;
}

function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(path.join(dir, prefix), { withFileTypes: true }).flatMap((entry) => {
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    return entry.isDirectory() ? listFiles(dir, relative) : entry.isFile() ? [relative] : [];
  });
}

const service = { 'README.md': '# svc\n', 'package.json': JSON.stringify({ name: 'svc', version: '1.0.0', scripts: { lint: 'echo lint ok', test: 'echo unit ok && echo "1 warning" >&2' } }) };
const packageCommand = 'mkdir -p .pipeline/Package && cp README.md .pipeline/Package/readme.txt';

const cases: Array<[string, StepCall[], Record<string, string>, Record<string, string>?]> = [
  ['install, custom commands', [custom('install', [], ['echo installing', 'echo to stderr >&2'])], service],
  ['install without a package.json (bad input, exit 2)', [serverless('install')], { 'README.md': '# no package\n' }],
  ['lint and unit tests of the npm scripts, after a custom install', [custom('install', [], ['true']), serverless('lint'), serverless('test-unit')], service],
  ['integration tests that fail (exit 1)', [custom('test-integration', [], ['echo "Error: 2 tests failed" >&2; exit 3'])], service],
  ['a step without its --stage (bad input, exit 2)', [custom('deploy', [], ['true'])], service],
  ['a step with a region that is not one (bad input, exit 2)', [custom('test-acceptance', ['--stage', 'dev', '--region', 'mars'], ['true'])], service],
  [
    'package, deploy, acceptance tests and rollback, custom, to the local target',
    [
      custom('package', ['--stage', 'dev@us-east-1', '--permissions-boundary', 'dev=arn:aws:iam::222222222222:policy/svc-dev-boundary'], [packageCommand]),
      custom('deploy', ['--stage', 'dev', '--region', 'us-east-1'], ['test -f "$PACKAGE_DIR/readme.txt"', 'echo "deployed $STAGE to $TARGET_REGION"']),
      custom('test-acceptance', ['--stage', 'dev', '--region', 'us-east-1'], ['test -f .pipeline/Outputs_dev/stack-outputs.json && echo "accepted $SERVICE_URL"']),
      custom('rollback', ['--stage', 'dev', '--region', 'us-east-1'], ['echo "rolled $STAGE back"']),
    ],
    service,
  ],
];

describe.skipIf(!built)('step calls in-process and as commands', () => {
  it.each(cases)('GIVEN %s WHEN run both ways THEN the result, files and log are the same', async (_name, calls, files, env) => {
    const inProcess = await observe(calls, files, 'in-process', env);
    const command = await observe(calls, files, 'command', env);

    expect(inProcess).toEqual(command);
  }, 60_000);

  it('GIVEN the cases WHEN run THEN they cover every step, passing and failing, with exit codes 1 and 2', async () => {
    expect(new Set(cases.flatMap(([, calls]) => calls.map((c) => c.step)))).toEqual(new Set(['install', 'lint', 'test-unit', 'test-integration', 'package', 'deploy', 'test-acceptance', 'rollback']));
    const failing = await observe(cases[3]![1], cases[3]![2], 'in-process');
    const bad = await observe(cases[1]![1], cases[1]![2], 'in-process');
    expect(failing.phases.find((p) => p.name === 'build')).toMatchObject({ status: 'FAILED', exitCode: 1 });
    expect(failing.stderr).toEqual(['Error: 2 tests failed', 'error: step test-integration failed: `echo "Error: 2 tests failed" >&2; exit 3` exited with code 3']);
    expect(bad.phases.find((p) => p.name === 'build')).toMatchObject({ status: 'FAILED', exitCode: 2 });
  }, 60_000);

  it('GIVEN a step call whose arguments are not written plainly WHEN asked THEN it is left to the command line, which says what is wrong', () => {
    expect(stepOptionsOfCall(custom('deploy', ['--stage=dev'], ['true']))).toBeUndefined();
    expect(stepOptionsOfCall(custom('deploy', ['--stage', 'dev', '--unknown', 'x'], ['true']))).toBeUndefined();
    expect(stepOptionsOfCall(custom('deploy', ['--stage'], ['true']))).toBeUndefined();
    const calls = [custom('deploy', ['--stage=dev'], ['true'])];
    expect(inProcessStepCalls(calls, { processes: nodeProcesses, processTable: nodeProcessTable, clock: systemClock })(stepCommandLine(calls[0]!))).toBeUndefined();
    expect(stepOptionsOfCall(custom('package', ['--stage', 'dev@us-east-1', '--stage', 'prod@us-east-1', '--region', 'us-east-1'], ['true']))).toEqual({
      flavor: 'custom',
      stage: ['dev@us-east-1', 'prod@us-east-1'],
      region: 'us-east-1',
      command: ['true'],
    });
  });
});
