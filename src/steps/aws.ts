/**
 * The AWS seam of the steps: the few AWS calls they make (STS AssumeRole, CloudFormation
 * DescribeStacks, Lambda Invoke). Production uses the AWS SDK v3; tests pass their own implementation,
 * so nothing in the test suite calls AWS.
 */
import { FailureError } from '../model/errors.js';

/** Temporary credentials, kept in memory only. */
export interface TemporaryCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  /** When they stop working. */
  readonly expiration: Date;
}

/** What `assumeRole` is asked. */
export interface AssumeRoleRequest {
  readonly roleArn: string;
  /** Shows in CloudTrail as the session that made each call. */
  readonly sessionName: string;
  readonly durationSeconds: number;
  /** The region of the STS endpoint to call (a regional endpoint keeps the call in the target's partition). */
  readonly region: string;
}

/** What `describeStackOutputs` is asked. */
export interface StackOutputsRequest {
  readonly stackName: string;
  readonly region: string;
  /**
   * The credentials to call with.
   *
   * @default - the ambient credentials (environment, profile, container role)
   */
  readonly credentials?: TemporaryCredentials;
}

/** What `invokeFunction` is asked. */
export interface InvokeFunctionRequest {
  readonly functionName: string;
  readonly region: string;
  /** The event, as JSON text. */
  readonly payload: string;
  /**
   * The credentials to call with.
   *
   * @default - the ambient credentials
   */
  readonly credentials?: TemporaryCredentials;
}

/** What Lambda answered an invocation. */
export interface InvokeFunctionResponse {
  /** The function's response (or error), as text. */
  readonly payload: string;
  /** Lambda's `FunctionError` (`Unhandled`...) when the function failed. */
  readonly functionError?: string;
}

/** The AWS calls the steps make. */
export interface AwsSeam {
  /** STS AssumeRole. */
  assumeRole(request: AssumeRoleRequest): Promise<TemporaryCredentials>;
  /** Every output of a deployed CloudFormation stack, `{ OutputKey: OutputValue }`. */
  describeStackOutputs(request: StackOutputsRequest): Promise<Record<string, string>>;
  /** Lambda Invoke (RequestResponse): a function of a deployed stage, for acceptance tests. */
  invokeFunction(request: InvokeFunctionRequest): Promise<InvokeFunctionResponse>;
}

/** The SDK's form of temporary credentials. */
function sdkCredentials(credentials: TemporaryCredentials | undefined) {
  return credentials
    ? {
        credentials: {
          accessKeyId: credentials.accessKeyId,
          secretAccessKey: credentials.secretAccessKey,
          sessionToken: credentials.sessionToken,
          expiration: credentials.expiration,
        },
      }
    : {};
}

/** The real thing: the AWS SDK v3 clients, loaded only when a call is made. */
export const sdkAws: AwsSeam = {
  async assumeRole(request) {
    const { STSClient, AssumeRoleCommand } = await import('@aws-sdk/client-sts');
    const client = new STSClient({ region: request.region });
    try {
      const response = await client.send(
        new AssumeRoleCommand({ RoleArn: request.roleArn, RoleSessionName: request.sessionName, DurationSeconds: request.durationSeconds }),
      );
      const c = response.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
        throw new FailureError(`STS AssumeRole of ${request.roleArn} returned no credentials`);
      }
      return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration };
    } catch (error) {
      if (error instanceof FailureError) throw error;
      throw new FailureError(`could not assume the deployer role ${request.roleArn}: ${(error as Error).message}`, { cause: error });
    } finally {
      client.destroy();
    }
  },

  async describeStackOutputs(request) {
    const { CloudFormationClient, DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');
    const client = new CloudFormationClient({ region: request.region, ...sdkCredentials(request.credentials) });
    try {
      const response = await client.send(new DescribeStacksCommand({ StackName: request.stackName }));
      const stack = response.Stacks?.[0];
      if (!stack) {
        throw new FailureError(`CloudFormation has no stack ${request.stackName} in ${request.region}`);
      }
      const outputs: Record<string, string> = {};
      for (const output of stack.Outputs ?? []) {
        if (output.OutputKey !== undefined && output.OutputValue !== undefined) {
          outputs[output.OutputKey] = output.OutputValue;
        }
      }
      return outputs;
    } catch (error) {
      if (error instanceof FailureError) throw error;
      throw new FailureError(`could not read the outputs of the stack ${request.stackName}: ${(error as Error).message}`, { cause: error });
    } finally {
      client.destroy();
    }
  },

  async invokeFunction(request) {
    const { LambdaClient, InvokeCommand } = await import('@aws-sdk/client-lambda');
    const client = new LambdaClient({ region: request.region, ...sdkCredentials(request.credentials) });
    try {
      const response = await client.send(
        new InvokeCommand({ FunctionName: request.functionName, InvocationType: 'RequestResponse', Payload: new TextEncoder().encode(request.payload) }),
      );
      const payload = response.Payload ? new TextDecoder().decode(response.Payload) : '';
      return { payload, ...(response.FunctionError ? { functionError: response.FunctionError } : {}) };
    } catch (error) {
      throw new FailureError(`could not invoke ${request.functionName} in ${request.region}: ${(error as Error).message}`, { cause: error });
    } finally {
      client.destroy();
    }
  },
};
