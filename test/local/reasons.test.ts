/**
 * What the history says about a run: why an action failed (its cause, not only its exit status),
 * why a rollback failed (its own reason, not the trigger's), and which releases it deployed.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatExecution, formatHistory } from '../../src/local/describe.js';
import { failureCause } from '../../src/local/failure-cause.js';
import { listExecutions, showExecution } from '../../src/local/history.js';
import { validateConfig } from '../../src/model/validate.js';
import { openDeploymentRecords } from '../../src/local/deployment-records.js';
import type { RunEvent } from '../../src/local/events.js';
import { customConfig, gitRepository, shellRunOptions, tempFolder, writeArtifact, runPlanned, type PlannedRun } from './helpers.js';

const built = existsSync(path.resolve(import.meta.dirname, '../../dist/cli/main.js'));

let work: { dir: string; cleanup: () => void };
let source: string;
let home: string;

beforeEach(() => {
  work = tempFolder('sp-reasons-');
  source = path.join(work.dir, 'svc');
  home = path.join(work.dir, '.service-pipelines');
  gitRepository(source, { 'README.md': '# svc\n' });
});
afterEach(() => work.cleanup());

function options(config: ReturnType<typeof customConfig>, commands: Record<string, string[]>, extra: Partial<PlannedRun> = {}): PlannedRun {
  return shellRunOptions(config, commands, { baseDir: work.dir, home }, extra);
}

const passing = {
  'Build.Package': [writeArtifact('Package', 'bundle.txt', 'v1')],
  'Deploy-dev.Deploy': [writeArtifact('Outputs_dev', 'stack-outputs.json', '{}')],
  'Deploy-prod.Deploy': [writeArtifact('Outputs_prod', 'stack-outputs.json', '{}')],
};

describe('failureCause', () => {
  it('GIVEN the end of a failed command\'s output WHEN read THEN the line that reads as its error is picked, past npm\'s own report and colours', () => {
    expect(
      failureCause([
        ' RUN  v4.1.12',
        '\u001b[31mFAIL\u001b[39m test/api.test.ts > GET /items returns 404',
        'AssertionError: expected 200 to be 404',
        ' Test Files  1 failed (1)',
        'npm error Lifecycle script `test` failed with error:',
        'npm error code 1',
      ]),
    ).toBe('FAIL test/api.test.ts > GET /items returns 404');
    expect(failureCause(['compiling', 'cannot find module ./handler', 'done'])).toBe('cannot find module ./handler');
    expect(failureCause(['just some output'])).toBe('just some output');
    expect(failureCause([])).toBeUndefined();
    expect(failureCause([`Error: ${'x'.repeat(500)}`])!.length).toBe(200);
  });
});

describe('the history of a failed run', () => {
  it('GIVEN a failing unit test WHEN the run ends THEN the history\'s detail and show name the cause from its output, not only the exit status', async () => {
    const result = await runPlanned(
      options(customConfig(source), {
        ...passing,
        'Build.UnitTests': ['echo "running 3 tests"', 'echo "Error: the handler returned 500 for GET /items" >&2; echo "npm error code 1" >&2; exit 1'],
      }),
    );

    expect(result.status).toBe('FAILED');
    const [execution] = await listExecutions({ home });
    const table = formatHistory([execution!], home);
    expect(table).toContain('exited with status 1 in phase BUILD: Error: the handler returned 500 for GET /items');
    const document = await showExecution({ home, executionId: result.executionId });
    expect(document.stages[1]!.actions.find((a) => a.name === 'UnitTests')!.statusReason).toMatch(/exited with status 1 in phase BUILD: Error: the handler returned 500/);
  });

  it.skipIf(!built)('GIVEN a prod deploy that fails and a rollback that fails too WHEN the run ends THEN the rollback shows its own reason, and the run\'s reason includes it', async () => {
    const result = await runPlanned(
      options(customConfig(source), { ...passing, 'Deploy-prod.Deploy': ['true', 'echo "Error: the prod stack is locked" >&2; exit 4'] }, { approval: 'approve' }),
    );

    expect(result.status).toBe('FAILED');
    const document = await showExecution({ home, executionId: result.executionId });
    const [rollback] = document.rollbacks;
    // The custom flavor with no commands.rollback: the rollback step has nothing to roll back with.
    expect(rollback).toMatchObject({ environment: 'prod', status: 'FAILED', reason: expect.stringContaining('the prod stack is locked') });
    expect(rollback!.failureReason).toMatch(/^Rollback: command ".*step rollback.*" exited with status 2 in phase BUILD: error: \S/);
    expect(formatExecution(document)).toContain(`rollback of prod: FAILED: ${rollback!.failureReason} (started because Deploy: `);
    expect(result.reason).toContain(`the rollback failed too (${rollback!.failureReason})`);
  });
});

describe('releases of a run', () => {
  it('GIVEN a deploy that keys its local stage by serverless.yml\'s service name WHEN the run succeeds THEN show --json lists the release, good once its tests passed', async () => {
    const config = validateConfig({
      ...customConfig(source),
      environments: [{ name: 'dev', account: '222222222222', region: 'us-east-1' }],
      services: [{ name: 'svc', serverlessService: 'serverless-http-api-dynamodb', flavor: 'custom', source: { path: source }, commands: { package: 'true', deploy: 'true' } }],
    });
    // What the deploy step leaves for a local deployment (src/steps/local-deployments.ts): a release,
    // made current for this execution in the deployment records, under serverless.yml's name.
    const stage = '$SERVICE_PIPELINES_HOME/stages/serverless-http-api-dynamodb/dev';
    const deploy = [`mkdir -p ${stage}/releases/1 && echo '{"release":1}' > ${stage}/releases/1/release.json`, writeArtifact('Outputs_dev', 'stack-outputs.json', '{}')];
    let executionId = '';
    const onEvent = (event: RunEvent) => {
      if (event.type === 'execution-started') executionId = event.executionId;
      if (event.type === 'action-finished' && event.stage === 'Deploy-dev' && event.action === 'Deploy') {
        void openDeploymentRecords(home).then(async (records) => {
          await records.makeCurrent({ service: 'serverless-http-api-dynamodb', environment: 'dev', release: 1, packageSha256: 'abc123', executionId, at: Date.now() });
          records.close();
        });
      }
    };
    const result = await runPlanned(options(config, { ...passing, 'Deploy-dev.Deploy': deploy }, { onEvent }));

    expect(result.status).toBe('SUCCEEDED');
    const document = await showExecution({ home, executionId: result.executionId });
    expect(document.releases).toEqual([{ environment: 'dev', release: 1, packageSha256: 'abc123', good: true }]);
    const records = await openDeploymentRecords(home);
    expect(await records.get('serverless-http-api-dynamodb', 'dev')).toMatchObject({ lastGood: { release: 1, executionId: result.executionId } });
    records.close();
  });
});
