/**
 * `synth` through the CLI: what it tells the user to run next works without a global CDK CLI.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { PACK_TIMEOUT_MS, packingEnv } from '../support/tool-fixtures.js';

const folders: string[] = [];
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

const CONNECTION = 'arn:aws:codeconnections:us-east-1:111111111111:connection/0b1e5c44-1111-4a4a-9b9b-123456789012';

function configFolder(selfUpdate: boolean): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'sp-synth-cli-'));
  folders.push(dir);
  const config = {
    cicd: { account: '111111111111', region: 'us-east-1' },
    environments: [{ name: 'dev', account: '222222222222', region: 'us-east-1' }],
    services: [{ name: 'svc', source: { github: { owner: 'example-org', repo: 'svc', connectionArn: CONNECTION } } }],
    ...(selfUpdate ? { selfUpdate: { github: { owner: 'example-org', repo: 'pipelines', connectionArn: CONNECTION } } } : {}),
  };
  writeFileSync(path.join(dir, 'pipelines.config.json'), JSON.stringify(config));
  return dir;
}

describe('service-pipelines synth', { timeout: PACK_TIMEOUT_MS }, () => {
  it('GIVEN a config WHEN synthesized THEN it says to deploy with npx aws-cdk@2 (the aws-cdk CLI is not a dependency)', async () => {
    const cwd = configFolder(false);

    const run = await runCli(['synth', '--config', 'pipelines.config.json', '--no-validate'], { cwd, env: packingEnv() });

    expect(run.exitCode, run.stderr).toBe(0);
    const last = run.stdout.trimEnd().split('\n').at(-1);
    expect(last).toMatch(/^Deploy with: npx aws-cdk@2 deploy --app cdk\.out --all /);
    expect(run.stdout).not.toContain('Deploy with: cdk deploy');
  }, PACK_TIMEOUT_MS);

  it('GIVEN a config with selfUpdate WHEN synthesized THEN it says to deploy the self-update stack alone', async () => {
    const cwd = configFolder(true);

    const run = await runCli(['synth', '--config', 'pipelines.config.json', '--no-validate', '--out', 'assembly'], { cwd, env: packingEnv() });

    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout.trimEnd().split('\n').at(-1)).toBe(
      'Deploy with: npx aws-cdk@2 deploy --app assembly SelfUpdate  (its pipeline deploys the other stacks and keeps them up to date)',
    );
  }, PACK_TIMEOUT_MS);
});
