/**
 * The local engine's commands (`run`, `history`, `show`, `approve`, `reject`, `up`) through the
 * CLI's `main`, as a person or a script uses them: exit codes, output, and bad input.
 */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { CliContext } from '../../src/cli/context.js';
import type { ExecutionDocument } from '../../src/local/describe.js';
import { gitRepository, tempFolder } from './helpers.js';

const root = path.resolve(import.meta.dirname, '../..');
const built = existsSync(path.join(root, 'dist', 'cli', 'main.js'));

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

let work: { dir: string; cleanup: () => void };

beforeEach(() => {
  work = tempFolder('sp-cli-');
  gitRepository(path.join(work.dir, 'svc'), { 'file.txt': 'hello\n' });
  writeFileSync(
    path.join(work.dir, 'pipelines.config.json'),
    JSON.stringify({
      cicd: { account: '111111111111', region: 'us-east-1' },
      environments: [
        { name: 'dev', account: '222222222222', region: 'us-east-1' },
        { name: 'prod', account: '444444444444', region: 'us-east-1', approval: true },
      ],
      services: [
        {
          name: 'svc',
          flavor: 'custom',
          source: { path: './svc' },
          commands: {
            install: 'true',
            lint: 'echo linting the service',
            testUnit: 'echo unit',
            testIntegration: 'echo integration',
            testAcceptance: 'echo acceptance',
            package: 'mkdir -p .pipeline/Package && cp file.txt .pipeline/Package/',
            deploy: 'mkdir -p .pipeline/Outputs_$STAGE && echo "{}" > .pipeline/Outputs_$STAGE/stack-outputs.json',
          },
        },
        { name: 'elsewhere', flavor: 'custom', source: { path: './not-there' }, commands: { package: 'true', deploy: 'true' } },
      ],
    }),
  );
});
afterEach(() => work.cleanup());

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Capture();
  const stderr = new Capture();
  const ctx: CliContext = { stdout, stderr, stdin: process.stdin, cwd: work.dir, env: process.env, exitCode: 0 };
  const code = await main(['node', 'service-pipelines', ...args], ctx);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

const config = ['--config', 'pipelines.config.json'];

describe('local engine commands: bad input exits 2 and records nothing', () => {
  it('GIVEN an unknown service WHEN run THEN exit 2 listing the services of the config', async () => {
    const result = await cli('run', 'nope', ...config);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown service "nope"; the config has: svc, elsewhere');
    expect(existsSync(path.join(work.dir, '.service-pipelines', 'state.db'))).toBe(false);
  });

  it('GIVEN a source path that does not exist WHEN run THEN exit 2 naming the path and where it is configured', async () => {
    const result = await cli('run', 'elsewhere', ...config);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(path.join(work.dir, 'not-there'));
    expect(result.stderr).toContain('services[1].source.path');
  });

  it('GIVEN conflicting or unknown flags WHEN run THEN exit 2 saying which', async () => {
    expect((await cli('run', 'svc', ...config, '--approve', '--reject')).stderr).toContain('--approve and --reject cannot both be given');
    const until = await cli('run', 'svc', ...config, '--until', 'qa');
    expect(until.code).toBe(2);
    expect(until.stderr).toContain('give one of: dev, prod');
  });

  it('GIVEN no runs WHEN history, show, approve or up THEN they say there is nothing, naming where they looked', async () => {
    expect((await cli('history')).stdout).toContain('no local runs recorded in');
    const show = await cli('show', 'abcdef12');
    expect(show.code).toBe(2);
    expect(show.stderr).toContain('no execution "abcdef12"');
    expect((await cli('approve', 'abcdef12')).code).toBe(2);
    const up = await cli('up', 'svc');
    expect(up.code).toBe(2);
    expect(up.stderr).toContain('nothing was deployed here yet');
  });
});

describe.skipIf(!built)('local engine commands over a custom-flavor service (plain shell, no npm)', () => {
  it('GIVEN a run until dev WHEN it ends THEN --json prints the execution, history lists it and show prints the logs', async () => {
    const run = await cli('run', 'svc', ...config, '--until', 'dev', '--json');

    expect(run.code, run.stderr).toBe(0);
    const document = JSON.parse(run.stdout) as ExecutionDocument;
    expect(document).toMatchObject({ pipeline: 'svc', status: 'SUCCEEDED', until: 'dev' });
    expect(document.stages.map((s) => s.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED', 'SKIPPED', 'SKIPPED']);
    expect(document.artifacts.find((a) => a.name === 'Package')).toMatchObject({ digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/), producedBy: 'Build.Package' });
    expect(document.history.database).toBe(path.join(work.dir, '.service-pipelines', 'state.db'));

    const history = await cli('history', 'svc');
    expect(history.stdout).toMatch(new RegExp(`${document.executionId}\\s+svc\\s+SUCCEEDED`));
    const show = await cli('show', document.executionId.slice(0, 8));
    expect(show.stdout).toContain('── log of Build.Lint ──');
    expect(show.stdout).toContain('linting the service');
    const approve = await cli('approve', document.executionId);
    expect(approve.code).toBe(2);
    expect(approve.stderr).toContain('is not awaiting approval');
  });

  it('GIVEN a failing action WHEN run without --json THEN exit 1, with plain progress lines and the failing log lines', async () => {
    const result = await cli('run', 'svc', ...config, '--reject');

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Build.Lint: SUCCEEDED');
    expect(result.stderr).toContain('Approve-prod: rejected by --reject');
    expect(result.stderr).toMatch(/execution [0-9a-f-]{36}: FAILED/);
    expect(result.stderr).toContain('history: ');
  });
});
