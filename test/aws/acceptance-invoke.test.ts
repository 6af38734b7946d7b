/**
 * `SERVICE_INVOKE` in AWS: the acceptance action's environment names its invoker role, and
 * `invoke` calls Lambda with that role's credentials, not the deployer's.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AssumeRoleRequest, AwsSeam, InvokeFunctionRequest, InvokeFunctionResponse, TemporaryCredentials } from '../../src/steps/aws.js';
import { invokeStageFunction } from '../../src/steps/invoke.js';

const INVOKER = 'arn:aws:iam::222222222222:role/svc-dev-invoker';
const DEPLOYER = 'arn:aws:iam::222222222222:role/svc-dev-deployer';

const folders: string[] = [];
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

/** STS and Lambda, recording what they were asked. */
function fakeAws(): AwsSeam & { assumed: AssumeRoleRequest[]; invoked: InvokeFunctionRequest[] } {
  const fake = {
    assumed: [] as AssumeRoleRequest[],
    invoked: [] as InvokeFunctionRequest[],
    async assumeRole(request: AssumeRoleRequest): Promise<TemporaryCredentials> {
      fake.assumed.push(request);
      return { accessKeyId: `ASIA-${request.roleArn.split('/')[1]}`, secretAccessKey: 's', sessionToken: 't', expiration: new Date(Date.now() + 3_600_000) };
    },
    async invokeFunction(request: InvokeFunctionRequest): Promise<InvokeFunctionResponse> {
      fake.invoked.push(request);
      return { payload: JSON.stringify({ ok: true }) };
    },
    async describeStackOutputs(): Promise<Record<string, string>> {
      return {};
    },
  };
  return fake;
}

/** The Outputs_dev artifact of a stage deployed to AWS, as the deploy action writes it. */
function outputsArtifact(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'sp-invoke-'));
  folders.push(dir);
  writeFileSync(path.join(dir, 'functions.json'), JSON.stringify({ target: 'aws', region: 'us-east-1', functions: { worker: 'svc-dev-worker' } }));
  return dir;
}

describe('SERVICE_INVOKE in an AWS acceptance action', () => {
  it("GIVEN the acceptance action's environment (INVOKER_ROLE_ARN, and a DEPLOYER_ROLE_ARN left over) WHEN a test invokes a function THEN Lambda is called with the invoker role's credentials, never the deployer's", async () => {
    const aws = fakeAws();
    const env = { INVOKER_ROLE_ARN: INVOKER, DEPLOYER_ROLE_ARN: DEPLOYER, SERVICE_NAME: 'svc', CODEBUILD_SRC_DIR_Outputs_dev: outputsArtifact() };

    const result = await invokeStageFunction({ stage: 'dev', function: 'worker', payload: '{}' }, { cwd: tmpdir(), env, aws });

    expect(JSON.parse(result.payload)).toEqual({ ok: true });
    expect(aws.assumed.map((a) => a.roleArn)).toEqual([INVOKER]);
    expect(aws.invoked).toEqual([{ functionName: 'svc-dev-worker', region: 'us-east-1', payload: '{}', credentials: expect.objectContaining({ accessKeyId: 'ASIA-svc-dev-invoker' }) }]);
  });
});
