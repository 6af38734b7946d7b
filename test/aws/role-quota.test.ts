/**
 * IAM roles per account against IAM's default quota: synth counts the roles of its stacks in each
 * account, prints them, and warns past the quota, naming the quota to raise.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IAM_ROLES_QUOTA, IAM_ROLES_QUOTA_NAME, rolesPerAccount } from '../../src/aws/role-quota.js';
import { runCli } from '../support/cli.js';
import { PACK_TIMEOUT_MS, packingEnv } from '../support/tool-fixtures.js';

const CONNECTION = 'arn:aws:codeconnections:us-east-1:111111111111:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789';

const folders: string[] = [];
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

/** A config of `count` services in three environments, in a folder of its own. */
function configFolder(count: number): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'sp-role-quota-'));
  folders.push(dir);
  const config = {
    cicd: { account: '111111111111', region: 'us-east-1' },
    environments: [
      { name: 'dev', account: '222222222222', region: 'us-east-1' },
      { name: 'staging', account: '333333333333', region: 'us-east-1' },
      { name: 'prod', account: '444444444444', region: 'us-east-1', approval: true, rollbackOnFailure: true },
    ],
    services: Array.from({ length: count }, (_, i) => ({
      name: `service-${String(i).padStart(3, '0')}`,
      source: { github: { owner: 'example-org', repo: `service-${i}`, connectionArn: CONNECTION } },
    })),
  };
  writeFileSync(path.join(dir, 'pipelines.config.json'), JSON.stringify(config));
  return dir;
}

interface SynthJson {
  outdir: string;
  stacks: { stackName: string; account: string; templateFile?: string }[];
  rolesPerAccount: { account: string; roles: number; overDefaultQuota: boolean }[];
  warnings: string[];
}

/** The IAM roles each account's templates in a cloud assembly create. */
function rolesInAssembly(outdir: string): Map<string, number> {
  const manifest = JSON.parse(readFileSync(path.join(outdir, 'manifest.json'), 'utf8')) as {
    artifacts: Record<string, { type: string; environment?: string; properties?: { templateFile: string } }>;
  };
  const counts = new Map<string, number>();
  for (const artifact of Object.values(manifest.artifacts).filter((a) => a.type === 'aws:cloudformation:stack')) {
    const account = artifact.environment!.split('/')[2]!;
    const template = JSON.parse(readFileSync(path.join(outdir, artifact.properties!.templateFile), 'utf8')) as { Resources: Record<string, { Type: string }> };
    const roles = Object.values(template.Resources).filter((r) => r.Type === 'AWS::IAM::Role').length;
    counts.set(account, (counts.get(account) ?? 0) + roles);
  }
  return counts;
}

describe('IAM roles per account', { timeout: PACK_TIMEOUT_MS }, () => {
  it("GIVEN stacks in several accounts WHEN counted THEN each account's roles are summed, and only more than the default quota is flagged", () => {
    const counts = rolesPerAccount([
      { account: '111111111111', roles: 600 },
      { account: '222222222222', roles: 7 },
      { account: '111111111111', roles: IAM_ROLES_QUOTA - 600 },
      { account: '333333333333', roles: IAM_ROLES_QUOTA + 1 },
    ]);

    expect(counts).toEqual([
      { account: '111111111111', roles: IAM_ROLES_QUOTA, overDefaultQuota: false },
      { account: '222222222222', roles: 7, overDefaultQuota: false },
      { account: '333333333333', roles: IAM_ROLES_QUOTA + 1, overDefaultQuota: true },
    ]);
  });

  it('GIVEN two services in three environments WHEN synthesized THEN synth prints the roles of each account, as many as the templates create, and warns of nothing', async () => {
    const cwd = configFolder(2);

    const json = await runCli(['synth', '--config', 'pipelines.config.json', '--no-validate', '--json'], { cwd, env: packingEnv() });
    const text = await runCli(['synth', '--config', 'pipelines.config.json', '--no-validate'], { cwd, env: packingEnv() });

    expect(json.exitCode, json.stderr).toBe(0);
    const result = JSON.parse(json.stdout) as SynthJson;
    expect(new Map(result.rolesPerAccount.map((a) => [a.account, a.roles]))).toEqual(rolesInAssembly(result.outdir));
    // Per service: the pipeline's, build, package, a deploy and an acceptance action per environment, the pull-request build; an environment account: a deployer and an invoker.
    expect([...result.rolesPerAccount].sort((a, b) => a.account.localeCompare(b.account))).toEqual([
      { account: '111111111111', roles: 2 * 10, overDefaultQuota: false },
      { account: '222222222222', roles: 2 * 2, overDefaultQuota: false },
      { account: '333333333333', roles: 2 * 2, overDefaultQuota: false },
      { account: '444444444444', roles: 2 * 2, overDefaultQuota: false },
    ]);
    expect(result.warnings).toEqual([]);
    expect(text.exitCode, text.stderr).toBe(0);
    expect(text.stdout).toContain('IAM roles per account (IAM allows 1,000 by default): 111111111111 20 (CICD), 222222222222 4, 333333333333 4, 444444444444 4.');
    expect(text.stderr).toBe('');
  });

  it('GIVEN 101 services in three environments (1,010 roles in the CICD account) WHEN synthesized THEN synth warns for that account alone, naming the quota to raise, and still writes the assembly', async () => {
    const cwd = configFolder(101);

    const run = await runCli(['synth', '--config', 'pipelines.config.json', '--no-validate'], { cwd, env: packingEnv() });

    expect(run.exitCode, run.stderr).toBe(0);
    const warnings = run.stderr.trimEnd().split('\n');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^warning: the stacks create 1,010 IAM roles in account 111111111111, more than IAM's default quota of 1,000 roles per account: raise /);
    expect(warnings[0]).toContain(`"${IAM_ROLES_QUOTA_NAME}"`);
    expect(run.stdout).toContain('111111111111 1010 (CICD), 222222222222 202, 333333333333 202, 444444444444 202.');
    expect(rolesInAssembly(path.join(cwd, 'cdk.out')).get('111111111111')).toBe(1010);
  });
});
