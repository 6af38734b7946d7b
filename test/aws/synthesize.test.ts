import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CfnResource, type Stack } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { plansDocumentSchema } from '../../src/model/plan-schema.js';
import { runCli } from '../support/cli.js';
import { PACK_TIMEOUT_MS, packingEnv } from '../support/tool-fixtures.js';
import { appOf, config, service } from './helpers.js';

const projectRoot = path.resolve(import.meta.dirname, '../..');
const exampleConfig = path.join(projectRoot, 'examples/pipelines.config.ts');

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'sp-synth-'));
}

describe('service-pipelines synth', { timeout: PACK_TIMEOUT_MS }, () => {
  it('GIVEN the example config WHEN synthesized (template validation on) THEN the cdk.out layout cdk deploy reads is written with pipelines.plan.json', async () => {
    const out = path.join(tempDir(), 'cdk.out');
    const run = await runCli(['synth', '--config', exampleConfig, '--out', out], { env: packingEnv() });
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(/Wrote 5 stacks to /);
    expect(run.stdout).toMatch(/service-pipelines-pipelines-1 +111111111111\/us-east-1 +25 resources/);

    const files = readdirSync(out);
    expect(files).toEqual(expect.arrayContaining(['manifest.json', 'tree.json', 'cdk.out', 'pipelines.plan.json']));
    const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as {
      artifacts: Record<string, { type: string; environment?: string; properties?: { templateFile: string; stackName?: string } }>;
    };
    const stacks = Object.values(manifest.artifacts).filter((a) => a.type === 'aws:cloudformation:stack');
    expect(stacks.map((s) => `${s.properties!.stackName} ${s.environment}`).sort()).toEqual([
      'service-pipelines-deployers-222222222222-1 aws://222222222222/us-east-1',
      'service-pipelines-deployers-333333333333-1 aws://333333333333/us-east-1',
      'service-pipelines-deployers-444444444444-1 aws://444444444444/us-east-1',
      'service-pipelines-pipelines-1 aws://111111111111/us-east-1',
      'service-pipelines-shared aws://111111111111/us-east-1',
    ]);
    for (const stack of stacks) expect(existsSync(path.join(out, stack.properties!.templateFile))).toBe(true);
    // Each stack's template is published through an asset manifest, as `cdk deploy` expects.
    expect(Object.values(manifest.artifacts).filter((a) => a.type === 'cdk:asset-manifest')).toHaveLength(5);
    const plans = plansDocumentSchema.parse(JSON.parse(readFileSync(path.join(out, 'pipelines.plan.json'), 'utf8')));
    expect(plans.pipelines.map((p) => p.pipelineName)).toEqual(['ac-rest-api', 'ac-rest-api-pr', 'order-events', 'order-events-pr']);
    // The stacks of order-events take the name its serverless.yml gives, read at synth.
    expect(plans.pipelines[2]!.environments.map((e) => e.stackName)).toEqual(['dev', 'staging', 'prod'].map((env) => `order-events-digest-scheduled-jobs-${env}`));
    // No staging folder is left behind.
    expect(readdirSync(path.dirname(out))).toEqual(['cdk.out']);
  }, PACK_TIMEOUT_MS);

  it('GIVEN the app context WHEN a template breaks a CloudFormation rule THEN synthesis fails instead of warning', () => {
    const { app, cicd } = appOf(config([service('orders')]), { outdir: tempDir(), validateTemplates: true });
    new CfnResource(cicd.sharedStack as Stack, 'Broken', { type: 'AWS::SNS::Topic', properties: { TopicName: 42, NoSuchProperty: true } });
    expect(() => app.synth()).toThrow(/NoSuchProperty|Additional properties|not allowed/);
  });

  it('GIVEN an output folder holding something else WHEN synthesized THEN exit 2 and the folder is untouched', async () => {
    const out = tempDir();
    writeFileSync(path.join(out, 'notes.txt'), 'keep me');
    const run = await runCli(['synth', '--config', exampleConfig, '--out', out, '--no-validate'], { env: packingEnv() });
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('holds no cloud assembly (no manifest.json)');
    expect(readdirSync(out)).toEqual(['notes.txt']);
  });

  it('GIVEN a config whose service has no GitHub source WHEN synthesized THEN exit 2 names the path and nothing is written', async () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'svc'));
    writeFileSync(
      path.join(dir, 'pipelines.config.ts'),
      `export default { cicd: { account: '111111111111', region: 'us-east-1' }, environments: [{ name: 'dev', account: '222222222222', region: 'us-east-1' }], services: [{ name: 'svc', source: { path: './svc' } }] };\n`,
    );
    const run = await runCli(['synth', '--no-validate'], { cwd: dir, env: packingEnv() });
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('services.svc.source.github: required for the AWS engine');
    expect(existsSync(path.join(dir, 'cdk.out'))).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(['pipelines.config.ts', 'svc']);
  });

  it("GIVEN the service's own statement with a wildcard nobody acknowledged WHEN synthesized THEN exit 2 names the statement and acknowledgeWildcards, and nothing is written", async () => {
    const dir = tempDir();
    writeFileSync(
      path.join(dir, 'pipelines.config.ts'),
      `export default { cicd: { account: '111111111111', region: 'us-east-1' }, environments: [{ name: 'dev', account: '222222222222', region: 'us-east-1' }],
        services: [{ name: 'svc', source: { github: { owner: 'o', repo: 'svc', connectionArn: 'arn:aws:codeconnections:us-east-1:111111111111:connection/abc' } },
          deployPermissions: [{ Sid: 'Queues', Action: ['sqs:*'], Resource: 'arn:aws:sqs:us-east-1:222222222222:svc-*' }] }] };\n`,
    );
    const run = await runCli(['synth', '--no-validate'], { cwd: dir, env: packingEnv() });
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('services[0].deployPermissions[0] Sid Queues: wildcards sqs:*, arn:aws:sqs:us-east-1:222222222222:svc-* (cdk-nag AwsSolutions-IAM5): say in services[0].acknowledgeWildcards.Queues why');
    expect(existsSync(path.join(dir, 'cdk.out'))).toBe(false);
  });

  it('GIVEN a prefix no bucket can be named with WHEN synthesized THEN exit 2 names --prefix', async () => {
    const run = await runCli(['synth', '--config', exampleConfig, '--out', path.join(tempDir(), 'out'), '--no-validate', '--prefix', 'My_Pipelines'], { env: packingEnv() });
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('--prefix: must start with a lower-case letter');
  });

  it('GIVEN --json WHEN synthesized twice into the same folder THEN the second replaces the first and the stacks are listed with sizes', async () => {
    const out = path.join(tempDir(), 'assembly');
    await runCli(['synth', '--config', exampleConfig, '--out', out, '--no-validate'], { env: packingEnv() });
    const run = await runCli(['synth', '--config', exampleConfig, '--out', out, '--no-validate', '--json'], { env: packingEnv() });
    expect(run.exitCode).toBe(0);
    const result = JSON.parse(run.stdout) as { outdir: string; stacks: { stackName: string; resources: number; bytes: number }[] };
    expect(result.outdir).toBe(out);
    expect(result.stacks.find((s) => s.stackName === 'service-pipelines-shared')).toMatchObject({ resources: 10 });
    for (const stack of result.stacks) expect(stack.bytes).toBeGreaterThan(0);
  }, PACK_TIMEOUT_MS);
});
