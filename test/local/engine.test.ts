import { readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/local/events.js';
import { runPipeline } from '../../src/local/engine.js';
import { decideApproval, showExecution, listExecutions } from '../../src/local/history.js';
import { InputError } from '../../src/model/errors.js';
import { customConfig, gitRepository, shellPlan, tempFolder, writeArtifact, writeFiles, runPlanned, type PlannedRun } from './helpers.js';

let work: { dir: string; cleanup: () => void };
let source: string;
let home: string;
let commit: string;

beforeEach(() => {
  work = tempFolder();
  source = path.join(work.dir, 'svc');
  home = path.join(work.dir, '.service-pipelines');
  commit = gitRepository(source, { 'README.md': '# svc\n', 'app.sh': 'echo app\n' });
});
afterEach(() => work.cleanup());

function options(config: ReturnType<typeof customConfig>, commands: Record<string, string[]>, extra: Partial<PlannedRun> = {}): PlannedRun {
  return {
    definitionFile: path.join(work.dir, 'pipelines.config.json'),
    baseDir: work.dir,
    home,
    plan: shellPlan(config, commands),
    pollMs: 50,
    ...extra,
  };
}

const happyCommands = {
  'Build.Lint': ['echo lint $SERVICE_PIPELINES_TARGET $CODEBUILD_RESOLVED_SOURCE_VERSION > /dev/null', 'sleep 0.4'],
  'Build.UnitTests': ['sleep 0.4'],
  'Build.IntegrationTests': ['sleep 0.4'],
  'Build.Package': ['sleep 0.4', writeArtifact('Package', 'bundle.txt', 'bundle-v1')],
  'Deploy-dev.Deploy': [
    'test "$(cat $CODEBUILD_SRC_DIR_Package/bundle.txt)" = bundle-v1',
    writeArtifact('Outputs_dev', 'stack-outputs.json', '{"ServiceEndpoint":"http://127.0.0.1:1/dev"}'),
  ],
  'Deploy-dev.AcceptanceTests': ['grep -q ServiceEndpoint $CODEBUILD_SRC_DIR_Outputs_dev/stack-outputs.json', 'test -f README.md'],
  'Deploy-prod.Deploy': ['echo "env: $SERVICE_PIPELINES_TARGET $SERVICE_PIPELINES_EXECUTION_ID $STAGE"', writeArtifact('Outputs_prod', 'stack-outputs.json', '{}')],
};

describe('runPipeline (plain shell plans)', () => {
  it('GIVEN a passing pipeline WHEN it runs THEN every stage succeeds, Build runs in parallel, and artifacts and the commit are recorded', async () => {
    const events: RunEvent[] = [];
    const result = await runPlanned(options(customConfig(source), happyCommands, { approval: 'approve', onEvent: (e) => events.push(e) }));

    expect(result.status).toBe('SUCCEEDED');
    const document = await showExecution({ home, executionId: result.executionId });
    expect(document.stages.map((s) => [s.name, s.status])).toEqual([
      ['Source', 'SUCCEEDED'],
      ['Build', 'SUCCEEDED'],
      ['Deploy-dev', 'SUCCEEDED'],
      ['Approve-prod', 'SUCCEEDED'],
      ['Deploy-prod', 'SUCCEEDED'],
    ]);
    expect(document.source).toMatchObject({ revision: commit, uncommittedChanges: false });
    // Four 0.4 s actions side by side take well under the 1.6 s they would one after another.
    expect(document.stages[1]!.durationMs!).toBeLessThan(1400);
    expect(document.approvals[0]).toMatchObject({ status: 'APPROVED', decidedBy: '--approve' });
    const packageArtifact = document.artifacts.find((a) => a.name === 'Package')!;
    expect(packageArtifact.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(readFileSync(path.join(packageArtifact.path, 'bundle.txt'), 'utf8')).toBe('bundle-v1');
    // A stored artifact cannot be changed through a link to it.
    expect(statSync(path.join(packageArtifact.path, 'bundle.txt')).mode & 0o222).toBe(0);
    const deployLog = document.stages[4]!.actions[0]!.log!;
    expect(deployLog).toContain(`env: local ${result.executionId} prod`);
    expect(events.at(-1)).toMatchObject({ type: 'execution-finished', status: 'SUCCEEDED' });
  });

  it('GIVEN uncommitted changes WHEN the pipeline runs THEN they are in the snapshot and flagged in the history', async () => {
    writeFiles(source, { 'app.sh': 'echo changed\n' });
    const result = await runPlanned(options(customConfig(source), { ...happyCommands, 'Build.UnitTests': ['grep -q changed app.sh'] }, { until: 'dev' }));

    expect(result.status).toBe('SUCCEEDED');
    const [execution] = await listExecutions({ home });
    expect(execution).toMatchObject({ sourceRevision: commit, sourceDirty: true, status: 'SUCCEEDED' });
    const document = await showExecution({ home, executionId: result.executionId });
    expect(document.stages.filter((s) => s.status === 'SKIPPED').map((s) => s.name)).toEqual(['Approve-prod', 'Deploy-prod']);
  });

  it('GIVEN a failing unit test WHEN the pipeline runs THEN Build fails with the exit status and log, and nothing is deployed', async () => {
    const result = await runPlanned(
      options(customConfig(source), { ...happyCommands, 'Build.UnitTests': ['echo "1 test failed" >&2', 'exit 3'] }, { approval: 'approve' }),
    );

    expect(result.status).toBe('FAILED');
    expect(result.reason).toContain('Build failed: UnitTests');
    const document = await showExecution({ home, executionId: result.executionId });
    const unit = document.stages[1]!.actions.find((a) => a.name === 'UnitTests')!;
    expect(unit).toMatchObject({ status: 'FAILED', exitCode: 3, failedCommand: 'exit 3' });
    expect(unit.log).toContain('1 test failed');
    expect(document.stages.slice(2).every((s) => s.status === 'SKIPPED')).toBe(true);
  });

  it('GIVEN --reject WHEN the run reaches the prod approval THEN it fails there, prod untouched', async () => {
    const result = await runPlanned(options(customConfig(source), happyCommands, { approval: 'reject' }));

    expect(result.status).toBe('FAILED');
    const document = await showExecution({ home, executionId: result.executionId });
    expect(document.stages.map((s) => s.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED', 'FAILED', 'SKIPPED']);
    expect(document.stages[3]!.actions[0]).toMatchObject({ status: 'REJECTED' });
  });

  it('GIVEN no terminal and no flag WHEN another shell approves THEN the waiting run goes on to prod', async () => {
    const events: RunEvent[] = [];
    let approvedFromOutside: Promise<unknown> | undefined;
    const result = await runPlanned(
      options(customConfig(source), happyCommands, {
        onEvent: (event) => {
          events.push(event);
          if (event.type === 'approval-waiting') {
            approvedFromOutside = decideApproval({ home, executionId: event.executionId.slice(0, 8), decision: 'APPROVED', summary: 'looks good' });
          }
        },
      }),
    );

    await approvedFromOutside;
    expect(result.status).toBe('SUCCEEDED');
    const document = await showExecution({ home, executionId: result.executionId });
    expect(document.approvals[0]).toMatchObject({ status: 'APPROVED', decidedBy: 'approve command', summary: 'looks good' });
    expect(events.map((e) => e.type)).toContain('approval-waiting');
  });

  it('GIVEN an action that does not write its declared output WHEN it ends THEN it fails naming the artifact and folder', async () => {
    const result = await runPlanned(options(customConfig(source), { 'Build.Package': ['true'] }, { until: 'dev' }));

    expect(result.status).toBe('FAILED');
    expect(result.reason).toContain('did not write its output artifact Package (expected in .pipeline/Package/)');
  });

  it('GIVEN a plan that is not one or a missing source folder WHEN a run starts THEN InputError naming what is wrong, and nothing is recorded', async () => {
    const config = customConfig(source);
    const { plan, ...rest } = options(config, {});
    const broken = { ...plan, stages: [{ ...plan.stages[0]!, onFailure: 'MAYBE' }] } as unknown as typeof plan;
    const refused = await runPipeline(broken, rest).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(InputError);
    expect((refused as InputError).problems[0]).toMatchObject({ where: 'plan: stages.0.onFailure' });
    const missing = customConfig(path.join(work.dir, 'does-not-exist'));
    const error = await runPlanned(options(missing, {})).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).problems[0]).toMatchObject({ where: 'source.path of the svc plan' });
    expect(await runPlanned({ ...options(missing, {}), sourceWhere: 'services[0].source.path' }).catch((e: InputError) => e.problems[0]!.where)).toBe('services[0].source.path');
    expect(existsSync(path.join(home, 'state.db'))).toBe(false);
  });

  it('GIVEN a webhook WHEN runs wait for approval, fail and succeed THEN it receives Slack-compatible messages', async () => {
    const received: Array<{ text: string; blocks?: unknown[] }> = [];
    const server: Server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        received.push(JSON.parse(body) as { text: string });
        response.end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
      const config = customConfig(source, { webhook: url, email: true });
      const events: RunEvent[] = [];
      const failed = await runPlanned(options(config, { 'Build.Lint': ['exit 1'] }, { onEvent: (e) => events.push(e) }));
      const passed = await runPlanned(
        options(config, happyCommands, {
          onEvent: (event) => {
            if (event.type === 'approval-waiting') {
              void decideApproval({ home, executionId: event.executionId, decision: 'APPROVED' });
            }
          },
        }),
      );

      expect(received.map((m) => m.text.split('.')[0])).toEqual([
        `:x: svc: execution ${failed.executionId} failed`,
        `:raised_hand: svc: execution ${passed.executionId} is awaiting approval`,
        `:white_check_mark: svc: execution ${passed.executionId} succeeded`,
      ]);
      expect(received[0]!.blocks?.length).toBeGreaterThan(0);
      expect(events).toContainEqual({ type: 'notice', message: expect.stringContaining('e-mail notifications are AWS-only') });
    } finally {
      server.close();
    }
  });

  it('GIVEN stored artifacts WHEN a later action changes its copy of the source THEN the stored artifact is unchanged', async () => {
    const result = await runPlanned(
      options(customConfig(source), { ...happyCommands, 'Build.Lint': ['rm README.md', 'echo replaced > README.md'], 'Build.UnitTests': ['echo x >> app.sh || true'] }, { until: 'dev' }),
    );

    expect(result.status).toBe('SUCCEEDED');
    const document = await showExecution({ home, executionId: result.executionId });
    const stored = document.artifacts.find((a) => a.name === 'Source')!;
    expect(readFileSync(path.join(stored.path, 'README.md'), 'utf8')).toBe('# svc\n');
    // Appending in place fails on a read-only hard link, or (as root) changes a private copy.
    expect(readFileSync(path.join(stored.path, 'app.sh'), 'utf8')).toBe('echo app\n');
    writeFileSync(path.join(source, 'README.md'), 'user edit\n');
    expect(readFileSync(path.join(stored.path, 'README.md'), 'utf8')).toBe('# svc\n');
  });

  it('GIVEN a run in the middle of an action WHEN it is stopped THEN the command is killed and the run ends STOPPED with the reason', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const result = await runPlanned(
      options(customConfig(source), { ...happyCommands, 'Build.UnitTests': ['sleep 30'] }, {
        signal: controller.signal,
        onEvent: (event) => {
          if (event.type === 'action-started' && event.action === 'UnitTests') {
            setTimeout(() => controller.abort(new Error('interrupted by SIGINT')), 300);
          }
        },
      }),
    );

    expect(result).toMatchObject({ status: 'STOPPED', reason: 'stopped (interrupted by SIGINT)' });
    expect(Date.now() - started).toBeLessThan(15_000);
    const document = await showExecution({ home, executionId: result.executionId });
    expect(document.stages[1]!.actions.find((a) => a.name === 'UnitTests')).toMatchObject({ status: 'FAILED', statusReason: 'stopped (interrupted by SIGINT)' });
    expect(document.stages.slice(2).every((s) => s.status === 'SKIPPED')).toBe(true);
  });
});
