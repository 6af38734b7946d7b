/**
 * `history --config`: the runs of one config's services, when several configs run in one folder.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

let cwd: string;

/** A config whose one service, `svc`, builds the folder `folder` with plain shell commands. */
function config(file: string, folder: string): void {
  writeFileSync(
    path.join(cwd, file),
    JSON.stringify({
      cicd: { account: '111111111111', region: 'us-east-1' },
      environments: [{ name: 'dev', account: '222222222222', region: 'us-east-1' }],
      services: [
        {
          name: 'svc',
          flavor: 'custom',
          source: { path: `./${folder}` },
          commands: { install: 'true', lint: 'true', testUnit: 'true', testIntegration: 'true', package: 'mkdir -p .pipeline/Package && cp file.txt .pipeline/Package/', deploy: 'true' },
        },
      ],
    }),
  );
  mkdirSync(path.join(cwd, folder));
  writeFileSync(path.join(cwd, folder, 'file.txt'), `${folder}\n`);
  execFileSync('git', ['-c', 'init.defaultBranch=main', 'init', '-q'], { cwd: path.join(cwd, folder) });
}

beforeAll(async () => {
  cwd = mkdtempSync(path.join(tmpdir(), 'sp-history-'));
  config('a.config.json', 'a');
  config('b.config.json', 'b');
  for (const file of ['a.config.json', 'b.config.json']) {
    const run = await runCli(['run', 'svc', '--config', file, '--pull-request'], { cwd });
    expect(run.exitCode, run.stderr).toBe(0);
  }
}, 180_000);
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

interface HistoryJson {
  executions: Array<{ service: string; configFile: string }>;
}

describe('service-pipelines history --config', () => {
  it("GIVEN runs of two configs in one folder WHEN history --config a THEN only a's runs are listed", async () => {
    const run = await runCli(['history', '--config', 'a.config.json', '--json'], { cwd });

    expect(run.exitCode, run.stderr).toBe(0);
    expect((JSON.parse(run.stdout) as HistoryJson).executions.map((e) => e.configFile)).toEqual([path.join(cwd, 'a.config.json')]);
  });

  it('GIVEN the same WHEN history svc -c b, or history without --config THEN b, or both, are listed', async () => {
    const fromB = await runCli(['history', 'svc', '-c', 'b.config.json', '--json'], { cwd });
    const all = await runCli(['history', '--json'], { cwd });

    expect((JSON.parse(fromB.stdout) as HistoryJson).executions.map((e) => e.configFile)).toEqual([path.join(cwd, 'b.config.json')]);
    expect((JSON.parse(all.stdout) as HistoryJson).executions).toHaveLength(2);
  });

  it("GIVEN a service the config does not have WHEN history --config THEN exit 2 listing the config's services", async () => {
    const run = await runCli(['history', 'billing', '--config', 'a.config.json'], { cwd });

    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('unknown service "billing"; the config has: svc');
  });
});
