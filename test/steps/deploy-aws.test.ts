/**
 * `step deploy` to AWS, without AWS: the AWS seam is a fake STS/CloudFormation, and `osls` is a
 * fake on the service's node_modules/.bin, because the real one cannot deploy without an AWS
 * account. The fake resolves its credentials with the real AWS SDK credential chain, as osls does,
 * so the test shows what a real deploy would get: the deployer role's credentials, from memory.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InputError } from '../../src/model/errors.js';
import type { Clock } from '../../src/runtime/clock.js';
import { nodeProcesses } from '../../src/runtime/process.js';
import type { AssumeRoleRequest, AwsSeam, InvokeFunctionRequest, InvokeFunctionResponse, StackOutputsRequest, TemporaryCredentials } from '../../src/steps/aws.js';
import { environmentForRole, RefreshingCredentialsServer } from '../../src/steps/credentials-server.js';
import { sha256File } from '../../src/steps/package-manifest.js';
import { invokeStageFunction } from '../../src/steps/invoke.js';
import { runStep } from '../../src/steps/run-step.js';
import type { StepRequest } from '../../src/steps/step-types.js';
import { cleanEnv, tempDir } from './support.js';

const ROLE = 'arn:aws:iam::222222222222:role/svc-dev-deployer';
const SECRET = 'fake-secret-key-that-must-never-touch-disk';

/** A fake STS, CloudFormation and Lambda recording what they were asked. */
function fakeAws(): AwsSeam & { assumed: AssumeRoleRequest[]; described: StackOutputsRequest[]; invoked: InvokeFunctionRequest[] } {
  const fake = {
    assumed: [] as AssumeRoleRequest[],
    described: [] as StackOutputsRequest[],
    invoked: [] as InvokeFunctionRequest[],
    async invokeFunction(request: InvokeFunctionRequest): Promise<InvokeFunctionResponse> {
      fake.invoked.push(request);
      const event = JSON.parse(request.payload) as { fail?: boolean };
      return event.fail
        ? { payload: '{"errorMessage":"boom","errorType":"Error"}', functionError: 'Unhandled' }
        : { payload: JSON.stringify({ handledBy: request.functionName, event }) };
    },
    async assumeRole(request: AssumeRoleRequest): Promise<TemporaryCredentials> {
      fake.assumed.push(request);
      const n = fake.assumed.length;
      return { accessKeyId: `ASIAFAKE${n}`, secretAccessKey: `${SECRET}-${n}`, sessionToken: `token-${n}`, expiration: new Date(Date.now() + 3_600_000) };
    },
    async describeStackOutputs(request: StackOutputsRequest): Promise<Record<string, string>> {
      fake.described.push(request);
      return { ServiceEndpoint: 'https://abc123.execute-api.us-east-1.amazonaws.com/dev', ServerlessDeploymentBucketName: 'svc-dev-bucket' };
    },
  };
  return fake;
}

/** A Package as `step package` makes it, with a made-up bundle (and template). */
async function writePackage(dir: string, options: { bundle?: string; template?: unknown } = {}): Promise<void> {
  await mkdir(path.join(dir, 'bundle'), { recursive: true });
  await mkdir(path.join(dir, 'stages', 'dev'), { recursive: true });
  await writeFile(path.join(dir, 'bundle', 'svc.zip'), options.bundle ?? 'PK fake bundle bytes');
  await writeFile(
    path.join(dir, 'stages', 'dev', 'serverless-state.json'),
    JSON.stringify({ service: { service: 'svc', functions: { worker: { name: 'svc-dev-worker', events: [{ sqs: { arn: 'arn:aws:sqs:us-east-1:222222222222:orders' } }] } } }, package: { artifact: 'svc.zip' } }),
  );
  await writeFile(path.join(dir, 'stages', 'dev', 'cloudformation-template-update-stack.json'), JSON.stringify(options.template ?? { Resources: {} }));
  const files: Record<string, string> = {};
  for (const name of ['serverless-state.json', 'cloudformation-template-update-stack.json']) {
    files[`stages/dev/${name}`] = await sha256File(path.join(dir, 'stages', 'dev', name));
  }
  await writeFile(
    path.join(dir, 'manifest.json'),
    JSON.stringify({
      schemaVersion: 1, service: 'svc', flavor: 'serverless', createdAt: new Date().toISOString(),
      bundle: { file: 'bundle/svc.zip', sha256: await sha256File(path.join(dir, 'bundle', 'svc.zip')), bytes: 20 },
      stages: [{ name: 'dev', region: 'us-east-1', directory: 'stages/dev', stackName: 'svc-dev' }],
      files,
    }),
  );
}

/** The fake osls: records its arguments, what is in the package folder, and the credentials the SDK chain resolves. */
async function writeFakeOsls(serviceDir: string, report: string): Promise<void> {
  const providerModule = createRequire(import.meta.url).resolve('@aws-sdk/credential-provider-node');
  const script = `#!/usr/bin/env node
const fs = require('node:fs');
const path = require('node:path');
const { defaultProvider } = require(${JSON.stringify(providerModule)});
(async () => {
  const args = process.argv.slice(2);
  const packageDir = args[args.indexOf('--package') + 1];
  const credentials = await defaultProvider()();
  fs.writeFileSync(${JSON.stringify(report)}, JSON.stringify({
    args,
    packageFiles: fs.readdirSync(packageDir).sort(),
    bundle: fs.readFileSync(path.join(packageDir, 'svc.zip'), 'utf8'),
    accessKeyId: credentials.accessKeyId,
    envHasKeys: Object.keys(process.env).filter((k) => /ACCESS_KEY|SECRET|SESSION_TOKEN/.test(k)),
    envText: JSON.stringify(process.env),
  }));
  console.log('Service deployed to stack svc-dev');
})().catch((error) => { console.error(error.message); process.exit(1); });
`;
  await mkdir(path.join(serviceDir, 'node_modules', '.bin'), { recursive: true });
  await writeFile(path.join(serviceDir, 'node_modules', '.bin', 'osls'), script, { mode: 0o755 });
}

describe('step deploy to AWS (fake STS/CloudFormation, fake osls)', () => {
  let root: { dir: string; remove: () => Promise<void> };
  let service: string;
  let report: string;
  const out: string[] = [];
  const deps = (aws: AwsSeam, env: Record<string, string> = {}) => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    stdout.on('data', (c: Buffer) => out.push(c.toString()));
    stderr.on('data', (c: Buffer) => out.push(c.toString()));
    return {
      cwd: service,
      // The ambient credentials a CodeBuild container or a laptop has: the deploy must not use them.
      env: cleanEnv({ AWS_ACCESS_KEY_ID: 'AKIAAMBIENT', AWS_SECRET_ACCESS_KEY: 'ambient-secret', AWS_PROFILE: 'laptop', AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/codebuild', ...env }),
      output: { stdout, stderr },
      processes: nodeProcesses,
      clock: { now: () => Date.now(), sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)) } satisfies Clock,
      aws,
    };
  };
  const request: StepRequest = { step: 'deploy', stage: 'dev', region: 'us-east-1' };

  beforeEach(async () => {
    root = await tempDir('deploy-aws');
    service = path.join(root.dir, 'svc');
    report = path.join(root.dir, 'osls-report.json');
    await mkdir(service);
    await writeFile(path.join(service, 'serverless.yml'), 'service: svc\nprovider:\n  name: aws\n');
    await writeFakeOsls(service, report);
    await writePackage(path.join(root.dir, 'Package'));
    out.length = 0;
  });
  afterEach(() => root.remove());

  it('GIVEN DEPLOYER_ROLE_ARN WHEN deploying THEN osls runs with the role credentials, served from memory, and the stack outputs are written', async () => {
    const aws = fakeAws();
    const result = await runStep(request, deps(aws, { DEPLOYER_ROLE_ARN: ROLE, CODEBUILD_SRC_DIR_Package: path.join(root.dir, 'Package') }));

    expect(aws.assumed).toEqual([{ roleArn: ROLE, region: 'us-east-1', sessionName: 'sp-svc-dev', durationSeconds: 3600 }]);
    const seen = JSON.parse(await readFile(report, 'utf8')) as { args: string[]; packageFiles: string[]; bundle: string; accessKeyId: string; envHasKeys: string[]; envText: string };
    expect(seen.args.slice(0, 2)).toEqual(['deploy', '--package']);
    expect(seen.args.slice(3)).toEqual(['--stage', 'dev', '--region', 'us-east-1']);
    expect(seen.packageFiles).toEqual(['cloudformation-template-update-stack.json', 'serverless-state.json', 'svc.zip']);
    expect(seen.bundle).toBe('PK fake bundle bytes');
    // The real SDK chain in the child resolved the deployer role, not the ambient keys or profile.
    expect(seen.accessKeyId).toBe('ASIAFAKE1');
    expect(seen.envHasKeys).toEqual([]);
    expect(seen.envText).not.toContain(SECRET);

    expect(aws.described).toHaveLength(1);
    expect(aws.described[0]).toMatchObject({ stackName: 'svc-dev', region: 'us-east-1', credentials: { accessKeyId: 'ASIAFAKE1' } });
    const outputsFile = path.join(service, '.pipeline', 'Outputs_dev', 'stack-outputs.json');
    expect(result.files?.stackOutputs).toBe(outputsFile);
    expect(JSON.parse(await readFile(outputsFile, 'utf8'))).toEqual({
      ServiceEndpoint: 'https://abc123.execute-api.us-east-1.amazonaws.com/dev',
      ServerlessDeploymentBucketName: 'svc-dev-bucket',
    });
    expect(out.join('')).toContain(`assuming ${ROLE}`);
    expect(out.join('')).not.toContain(SECRET);
    // Never on disk: no file the deploy could have left holds the secret.
    for (const folder of [service, path.join(service, '.pipeline', 'Outputs_dev'), path.join(root.dir, 'Package')]) {
      for (const name of await readdir(folder)) {
        const file = path.join(folder, name);
        const text = await readFile(file, 'utf8').catch(() => '');
        expect(text).not.toContain(SECRET);
      }
    }
  });

  it('GIVEN a tampered bundle WHEN deploying THEN it is refused before any role is assumed or osls runs', async () => {
    await writeFile(path.join(root.dir, 'Package', 'bundle', 'svc.zip'), 'PK other bytes');
    const aws = fakeAws();
    await expect(runStep({ ...request, packageDir: path.join(root.dir, 'Package') }, deps(aws, { DEPLOYER_ROLE_ARN: ROLE }))).rejects.toThrow(
      /refusing to deploy: the code bundle .*svc\.zip has sha256/,
    );
    expect(aws.assumed).toEqual([]);
    await expect(readFile(report)).rejects.toThrow();
  });

  it("GIVEN PACKAGE_SHA256 from the Package action WHEN the artifact's bundle (and its manifest) were replaced THEN the deploy refuses before any role is assumed", async () => {
    const recorded = await sha256File(path.join(root.dir, 'Package', 'bundle', 'svc.zip'));
    // Bundle and manifest replaced together: consistent with each other, so only the anchored digest tells.
    await writePackage(path.join(root.dir, 'Package'), { bundle: 'PK bytes that were never tested' });
    const aws = fakeAws();
    const error = await runStep({ ...request, packageDir: path.join(root.dir, 'Package') }, deps(aws, { DEPLOYER_ROLE_ARN: ROLE, PACKAGE_SHA256: recorded })).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(new RegExp(`refusing to deploy: the code bundle has sha256 [0-9a-f]{64}, but the Package action recorded ${recorded} \\(PACKAGE_SHA256\\)`));
    expect(aws.assumed).toEqual([]);
    await expect(readFile(report)).rejects.toThrow();
  });

  it("GIVEN PACKAGE_MANIFEST_SHA256 from the Package action WHEN a template (not the bundle) and the manifest were replaced THEN the deploy refuses before any role is assumed", async () => {
    const packageDir = path.join(root.dir, 'Package');
    const bundle = await sha256File(path.join(packageDir, 'bundle', 'svc.zip'));
    const manifest = await sha256File(path.join(packageDir, 'manifest.json'));
    // The same bundle, another template (a role without limits), and a manifest that agrees with both.
    await writePackage(packageDir, { template: { Resources: { Extra: { Type: 'AWS::SNS::Topic' } } } });
    const aws = fakeAws();
    const error = await runStep({ ...request, packageDir }, deps(aws, { DEPLOYER_ROLE_ARN: ROLE, PACKAGE_SHA256: bundle, PACKAGE_MANIFEST_SHA256: manifest })).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(new RegExp(`refusing to deploy: the package manifest has sha256 [0-9a-f]{64}, but the Package action recorded ${manifest} \\(PACKAGE_MANIFEST_SHA256\\)`));
    expect(aws.assumed).toEqual([]);
    await expect(readFile(report)).rejects.toThrow();
  });

  it('GIVEN an empty PACKAGE_SHA256 (a package without a bundle, as the AWS engine passes it) and the manifest digest WHEN deploying THEN the manifest is checked', async () => {
    const packageDir = path.join(root.dir, 'Package');
    const manifest = await sha256File(path.join(packageDir, 'manifest.json'));
    await runStep({ ...request, packageDir }, deps(fakeAws(), { DEPLOYER_ROLE_ARN: ROLE, PACKAGE_SHA256: '', PACKAGE_MANIFEST_SHA256: manifest }));
    expect(out.join('')).toContain(`the manifest's sha256 is the one the Package action recorded (PACKAGE_MANIFEST_SHA256 ${manifest})`);
  });

  it('GIVEN PACKAGE_SHA256 equal to the bundle WHEN deploying THEN the deploy goes on, saying the digest was checked against it', async () => {
    const recorded = await sha256File(path.join(root.dir, 'Package', 'bundle', 'svc.zip'));
    await runStep({ ...request, packageDir: path.join(root.dir, 'Package') }, deps(fakeAws(), { DEPLOYER_ROLE_ARN: ROLE, PACKAGE_SHA256: recorded }));
    expect(out.join('')).toContain(`the bundle's sha256 is the one the Package action recorded (PACKAGE_SHA256 ${recorded})`);
    expect((JSON.parse(await readFile(report, 'utf8')) as { args: string[] }).args[0]).toBe('deploy');
  });

  it('GIVEN a PACKAGE_SHA256 that is not a sha256 WHEN deploying THEN bad input, nothing run', async () => {
    const error = await runStep({ ...request, packageDir: path.join(root.dir, 'Package') }, deps(fakeAws(), { PACKAGE_SHA256: 'abc' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toContain('PACKAGE_SHA256: must be a sha256 in hex');
  });

  const BOUNDARY = 'arn:aws:iam::222222222222:policy/svc-dev-boundary';
  const role = (properties: Record<string, unknown>) => ({ Type: 'AWS::IAM::Role', Properties: { AssumeRolePolicyDocument: {}, ...properties } });

  it.each(['aws', 'local'])("GIVEN PERMISSIONS_BOUNDARY_ARN and a template role without it WHEN deploying (%s) THEN it is refused naming the role, before any role is assumed", async (target) => {
    await writePackage(path.join(root.dir, 'Package'), {
      template: { Resources: { IamRoleLambdaExecution: role({ PermissionsBoundary: BOUNDARY }), WorkerRole: role({}), OtherRole: role({ PermissionsBoundary: 'arn:aws:iam::222222222222:policy/AdministratorAccess' }) } },
    });
    const aws = fakeAws();
    const env = { DEPLOYER_ROLE_ARN: ROLE, PERMISSIONS_BOUNDARY_ARN: BOUNDARY, ...(target === 'local' ? { SERVICE_PIPELINES_TARGET: 'local', SERVICE_PIPELINES_HOME: path.join(root.dir, 'home') } : {}) };
    const error = await runStep({ ...request, packageDir: path.join(root.dir, 'Package') }, deps(aws, env)).catch((e: unknown) => e);
    const message = (error as Error).message;
    expect(message).toContain(`refusing to deploy: the dev template creates roles without the permissions boundary ${BOUNDARY}`);
    expect(message).toContain('the role WorkerRole has no PermissionsBoundary');
    expect(message).toContain('the role OtherRole has the PermissionsBoundary arn:aws:iam::222222222222:policy/AdministratorAccess');
    expect(message).toContain('PermissionsBoundary: ${env:PERMISSIONS_BOUNDARY_ARN}');
    expect(message).not.toContain('IamRoleLambdaExecution');
    expect(aws.assumed).toEqual([]);
    await expect(readFile(report)).rejects.toThrow();
  });

  it('GIVEN PERMISSIONS_BOUNDARY_ARN and roles carrying it (a plain ARN, or Fn::Sub of the account) WHEN deploying THEN the deploy goes on', async () => {
    await writePackage(path.join(root.dir, 'Package'), {
      template: { Resources: { A: role({ PermissionsBoundary: BOUNDARY }), B: role({ PermissionsBoundary: { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/svc-dev-boundary' } }) } },
    });
    await runStep({ ...request, packageDir: path.join(root.dir, 'Package') }, deps(fakeAws(), { DEPLOYER_ROLE_ARN: ROLE, PERMISSIONS_BOUNDARY_ARN: BOUNDARY }));
    expect(out.join('')).toContain(`every role of the dev template carries the permissions boundary ${BOUNDARY}`);
  });

  it('GIVEN a region other than the one the stage was packaged for WHEN deploying THEN bad input, nothing run', async () => {
    const aws = fakeAws();
    const error = await runStep({ ...request, region: 'eu-west-1', packageDir: path.join(root.dir, 'Package') }, deps(aws, { DEPLOYER_ROLE_ARN: ROLE })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toContain('the dev package was made for us-east-1, not eu-west-1');
    expect(aws.assumed).toEqual([]);
  });

  it('GIVEN a role that cannot be assumed WHEN deploying THEN it fails before osls runs', async () => {
    const aws = fakeAws();
    aws.assumeRole = async () => {
      throw new Error('AccessDenied: not authorized to perform sts:AssumeRole');
    };
    await expect(runStep({ ...request, packageDir: path.join(root.dir, 'Package') }, deps(aws, { DEPLOYER_ROLE_ARN: ROLE }))).rejects.toThrow('AccessDenied');
    await expect(readFile(report)).rejects.toThrow();
  });

  it('GIVEN a service without osls installed WHEN deploying THEN bad input is reported before any role is assumed', async () => {
    const { rm } = await import('node:fs/promises');
    await rm(path.join(service, 'node_modules'), { recursive: true });
    const aws = fakeAws();
    const error = await runStep({ ...request, packageDir: path.join(root.dir, 'Package') }, deps(aws, { DEPLOYER_ROLE_ARN: ROLE })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toContain('the Serverless Framework is not installed in');
    expect(aws.assumed).toEqual([]);
  });

  it('GIVEN no DEPLOYER_ROLE_ARN WHEN deploying THEN no role is assumed and osls uses the ambient credentials', async () => {
    const aws = fakeAws();
    const ambient = deps(aws);
    // Keys only: with a profile named too, the SDK would (rightly) look for that profile instead.
    delete ambient.env.AWS_PROFILE;
    delete ambient.env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI;
    await runStep({ ...request, packageDir: path.join(root.dir, 'Package') }, ambient);
    expect(aws.assumed).toEqual([]);
    expect((JSON.parse(await readFile(report, 'utf8')) as { accessKeyId: string }).accessKeyId).toBe('AKIAAMBIENT');
    expect(out.join('')).toContain('DEPLOYER_ROLE_ARN is not set: deploying with the ambient AWS credentials');
  });

  it('GIVEN a deployed stage WHEN its acceptance tests invoke a function THEN Lambda is called by its deployed name, with the deployer role, and its answer returned', async () => {
    const aws = fakeAws();
    await runStep({ ...request, packageDir: path.join(root.dir, 'Package') }, deps(aws, { DEPLOYER_ROLE_ARN: ROLE }));
    expect(JSON.parse(await readFile(path.join(service, '.pipeline', 'Outputs_dev', 'functions.json'), 'utf8'))).toEqual({ target: 'aws', region: 'us-east-1', functions: { worker: 'svc-dev-worker' } });

    // What `step test-acceptance` gives the tests, and what they run with it.
    const acceptanceEnv = deps(aws, { DEPLOYER_ROLE_ARN: ROLE, SERVICE_NAME: 'svc', CODEBUILD_SRC_DIR_Outputs_dev: path.join(service, '.pipeline', 'Outputs_dev') }).env;
    const result = await invokeStageFunction({ stage: 'dev', function: 'worker', payload: '{"Records":[]}' }, { cwd: root.dir, env: acceptanceEnv, aws });
    expect(JSON.parse(result.payload)).toEqual({ handledBy: 'svc-dev-worker', event: { Records: [] } });
    expect(aws.invoked).toEqual([{ functionName: 'svc-dev-worker', region: 'us-east-1', payload: '{"Records":[]}', credentials: expect.objectContaining({ accessKeyId: 'ASIAFAKE2' }) }]);
    expect(aws.assumed[1]).toMatchObject({ roleArn: ROLE, sessionName: 'sp-svc-dev-invoke', durationSeconds: 900 });

    await expect(invokeStageFunction({ stage: 'dev', function: 'worker', payload: '{"fail":true}' }, { cwd: root.dir, env: acceptanceEnv, aws })).rejects.toThrow(
      'the function svc-dev-worker (dev) failed (Unhandled): {"errorMessage":"boom","errorType":"Error"}',
    );
    const error = await invokeStageFunction({ stage: 'dev', function: 'worker', payload: '{not json' }, { cwd: root.dir, env: acceptanceEnv, aws }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
  });

  it('GIVEN a previous package WHEN rolling back in AWS THEN that package is deployed again', async () => {
    const aws = fakeAws();
    const result = await runStep({ step: 'rollback', stage: 'dev', region: 'us-east-1', packageDir: path.join(root.dir, 'Package') }, deps(aws, { DEPLOYER_ROLE_ARN: ROLE }));
    expect(result.summary).toBe('deployed svc to dev (us-east-1)');
    expect((JSON.parse(await readFile(report, 'utf8')) as { args: string[] }).args[0]).toBe('deploy');
  });
});

describe('RefreshingCredentialsServer', () => {
  let now = Date.parse('2026-01-01T00:00:00Z');
  const clock: Clock = { now: () => now, sleep: async () => undefined };
  const sts = (): AwsSeam & { calls: number } => {
    const seam = {
      calls: 0,
      async assumeRole(): Promise<TemporaryCredentials> {
        seam.calls += 1;
        await new Promise((r) => setTimeout(r, 20));
        return { accessKeyId: `ASIA${seam.calls}`, secretAccessKey: 's', sessionToken: 't', expiration: new Date(now + 3_600_000) };
      },
      async describeStackOutputs(): Promise<Record<string, string>> {
        return {};
      },
      async invokeFunction(): Promise<InvokeFunctionResponse> {
        return { payload: '' };
      },
    };
    return seam;
  };
  const request = { roleArn: ROLE, sessionName: 's', durationSeconds: 3600, region: 'us-east-1' };

  it('GIVEN served credentials WHEN they near expiry THEN the role is assumed again and the new ones are served', async () => {
    const aws = sts();
    const server = new RefreshingCredentialsServer({ aws, request, clock });
    const env = await server.start();
    try {
      const get = async () =>
        (await (await fetch(env.AWS_CONTAINER_CREDENTIALS_FULL_URI, { headers: { authorization: env.AWS_CONTAINER_AUTHORIZATION_TOKEN } })).json()) as { AccessKeyId: string; Expiration: string };
      const [a, b, c] = await Promise.all([get(), get(), get()]);
      expect([a.AccessKeyId, b.AccessKeyId, c.AccessKeyId]).toEqual(['ASIA1', 'ASIA1', 'ASIA1']);
      now += 49 * 60_000;
      expect((await get()).AccessKeyId).toBe('ASIA1');
      now += 2 * 60_000; // 9 minutes left: inside the 10-minute refresh window
      const [d, e] = await Promise.all([get(), get()]);
      expect([d.AccessKeyId, e.AccessKeyId]).toEqual(['ASIA2', 'ASIA2']);
      expect(aws.calls).toBe(2);
      expect(Date.parse(d.Expiration)).toBe(now + 3_600_000);
    } finally {
      await server.stop();
    }
  });

  it('GIVEN a request without the token THEN 403, and nothing is served after stop', async () => {
    const server = new RefreshingCredentialsServer({ aws: sts(), request, clock });
    const env = await server.start();
    expect((await fetch(env.AWS_CONTAINER_CREDENTIALS_FULL_URI)).status).toBe(403);
    expect((await fetch(env.AWS_CONTAINER_CREDENTIALS_FULL_URI, { headers: { authorization: 'guess' } })).status).toBe(403);
    await server.stop();
    await expect(fetch(env.AWS_CONTAINER_CREDENTIALS_FULL_URI, { headers: { authorization: env.AWS_CONTAINER_AUTHORIZATION_TOKEN } })).rejects.toThrow();
  });

  it('GIVEN ambient credentials of every kind THEN the child environment keeps none of them', () => {
    const env = environmentForRole(
      { PATH: '/bin', AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b', AWS_SESSION_TOKEN: 'c', AWS_PROFILE: 'p', AWS_DEV_PROFILE: 'q', AWS_DEV_ACCESS_KEY_ID: 'r', AWS_WEB_IDENTITY_TOKEN_FILE: '/t', AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/x' },
      { AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://127.0.0.1:1/credentials', AWS_CONTAINER_AUTHORIZATION_TOKEN: 'tok' },
      'eu-west-1',
    );
    expect(env).toEqual({
      PATH: '/bin',
      AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://127.0.0.1:1/credentials',
      AWS_CONTAINER_AUTHORIZATION_TOKEN: 'tok',
      AWS_REGION: 'eu-west-1',
      AWS_DEFAULT_REGION: 'eu-west-1',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_CONFIG_FILE: '/dev/null',
      AWS_EC2_METADATA_DISABLED: 'true',
    });
  });
});
