/**
 * The production resolver of `env.parameter-store` and `env.secrets-manager`: the AWS SDK v3, as
 * CodeBuild reads them (parameters decrypted; secrets by `secret-id:json-key:version-stage:version-id`).
 * The SDK clients load on first use, so a build without secrets never pays for them.
 */
import { FailureError, InputError } from '../../model/errors.js';
import { parseSecretReference, selectJsonKey } from './secrets.js';
import type { SecretResolver } from './types.js';

/** What the resolver needs of SSM: `GetParameter`. */
export interface ParameterReader {
  getParameter(input: { Name: string; WithDecryption: boolean }): Promise<{ Parameter?: { Value?: string } }>;
}

/** What the resolver needs of Secrets Manager: `GetSecretValue`. */
export interface SecretReader {
  getSecretValue(input: { SecretId: string; VersionStage?: string; VersionId?: string }): Promise<{ SecretString?: string; SecretBinary?: Uint8Array }>;
}

/** Props of `AwsSecretResolver`. */
export interface AwsSecretResolverProps {
  /**
   * The region of the parameters and secrets.
   *
   * @default - the SDK's (AWS_REGION, the profile...)
   */
  readonly region?: string;
  /**
   * Reads parameters.
   *
   * @default - an SSM client of @aws-sdk/client-ssm
   */
  readonly parameters?: ParameterReader;
  /**
   * Reads secrets.
   *
   * @default - a Secrets Manager client of @aws-sdk/client-secrets-manager
   */
  readonly secrets?: SecretReader;
}

const NOT_FOUND = new Set(['ParameterNotFound', 'ParameterVersionNotFound', 'ResourceNotFoundException']);

/** Resolves parameters and secrets in AWS, with the default credentials of the SDK. */
export class AwsSecretResolver implements SecretResolver {
  private parameters: ParameterReader | undefined;
  private secrets: SecretReader | undefined;

  constructor(private readonly props: AwsSecretResolverProps = {}) {
    this.parameters = props.parameters;
    this.secrets = props.secrets;
  }

  async parameter(name: string): Promise<string> {
    const reader = (this.parameters ??= await this.ssmReader());
    try {
      const response = await reader.getParameter({ Name: name, WithDecryption: true });
      const value = response.Parameter?.Value;
      if (value === undefined) {
        throw new InputError(`parameter "${name}" has no value`);
      }
      return value;
    } catch (error) {
      throw translate(error, `parameter "${name}"`);
    }
  }

  async secret(reference: string): Promise<string> {
    const parsed = parseSecretReference(reference);
    const reader = (this.secrets ??= await this.secretsManagerReader());
    let value: string;
    try {
      const response = await reader.getSecretValue({
        SecretId: parsed.secretId,
        ...(parsed.versionStage !== undefined ? { VersionStage: parsed.versionStage } : {}),
        ...(parsed.versionId !== undefined ? { VersionId: parsed.versionId } : {}),
      });
      if (response.SecretString !== undefined) {
        value = response.SecretString;
      } else if (response.SecretBinary !== undefined) {
        value = Buffer.from(response.SecretBinary).toString('utf8');
      } else {
        throw new InputError(`secret "${parsed.secretId}" has no value`);
      }
    } catch (error) {
      throw translate(error, `secret "${parsed.secretId}"`);
    }
    return selectJsonKey(value, parsed, `secret "${parsed.secretId}"`);
  }

  private async ssmReader(): Promise<ParameterReader> {
    const { SSMClient, GetParameterCommand } = await import('@aws-sdk/client-ssm');
    const client = new SSMClient(this.props.region ? { region: this.props.region } : {});
    return { getParameter: (input) => client.send(new GetParameterCommand(input)) };
  }

  private async secretsManagerReader(): Promise<SecretReader> {
    const { SecretsManagerClient, GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
    const client = new SecretsManagerClient(this.props.region ? { region: this.props.region } : {});
    return { getSecretValue: (input) => client.send(new GetSecretValueCommand(input)) };
  }
}

/** A missing parameter or secret is bad input; anything else (credentials, network) a failure. */
function translate(error: unknown, what: string): Error {
  if (error instanceof InputError || error instanceof FailureError) {
    return error;
  }
  const name = (error as { name?: string }).name ?? '';
  const message = (error as Error).message ?? String(error);
  if (NOT_FOUND.has(name)) {
    return new InputError(`${what} was not found in AWS (${name})`, [], { cause: error });
  }
  return new FailureError(`${what} could not be read from AWS: ${name ? `${name}: ` : ''}${message}`, { cause: error });
}
