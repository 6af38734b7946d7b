import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FailureError, InputError } from '../../../src/model/errors.js';
import { AwsSecretResolver, LocalSecretResolver, parseSecretReference } from '../../../src/local/executor/index.js';
import { tempFolder } from './helpers.js';

describe('parseSecretReference', () => {
  it('reads secret-id:json-key:version-stage:version-id, an ARN id keeping its colons', () => {
    // GIVEN references with and without the optional parts
    // WHEN they are parsed / THEN each part is where CodeBuild reads it
    expect(parseSecretReference('prod/db')).toEqual({ secretId: 'prod/db' });
    expect(parseSecretReference('prod/db:password::v-1')).toEqual({ secretId: 'prod/db', jsonKey: 'password', versionId: 'v-1' });
    expect(parseSecretReference('arn:aws:secretsmanager:eu-west-1:111122223333:secret:db-AbCdEf:user:AWSPREVIOUS')).toEqual({
      secretId: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:db-AbCdEf',
      jsonKey: 'user',
      versionStage: 'AWSPREVIOUS',
    });
  });
});

describe('LocalSecretResolver', () => {
  it('rejects a secrets file of the wrong shape, naming each problem', () => {
    // GIVEN a file with an unknown section and a non-string parameter
    const file = join(tempFolder(), 'secrets.json');
    writeFileSync(file, JSON.stringify({ parameters: {}, 'parameter-store': { a: 1 } }));
    // WHEN it is read / THEN it is bad input
    expect(() => LocalSecretResolver.fromFile(file)).toThrow(InputError);
    try {
      LocalSecretResolver.fromFile(file);
    } catch (error) {
      expect((error as InputError).problems.map((p) => p.where)).toEqual([`${file}: parameters`, `${file}: parameter-store.a`]);
    }
  });
});

describe('AwsSecretResolver', () => {
  it('reads decrypted parameters and secret versions through the SDK seam, picking json-key', async () => {
    // GIVEN readers standing for SSM and Secrets Manager that record their requests
    const requests: unknown[] = [];
    const resolver = new AwsSecretResolver({
      parameters: {
        getParameter: async (input) => {
          requests.push(input);
          return { Parameter: { Value: 'param-value' } };
        },
      },
      secrets: {
        getSecretValue: async (input) => {
          requests.push(input);
          return { SecretString: JSON.stringify({ password: 'pw' }) };
        },
      },
    });
    // WHEN a parameter and a secret are resolved
    const parameter = await resolver.parameter('/app/x');
    const secret = await resolver.secret('app/db:password:AWSPREVIOUS');
    // THEN the requests are CodeBuild's, and the values are returned
    expect(parameter).toBe('param-value');
    expect(secret).toBe('pw');
    expect(requests).toEqual([{ Name: '/app/x', WithDecryption: true }, { SecretId: 'app/db', VersionStage: 'AWSPREVIOUS' }]);
  });

  it('reports a missing parameter as bad input and other AWS errors as failures', async () => {
    // GIVEN readers failing the way the SDK does
    const notFound = Object.assign(new Error('not found'), { name: 'ParameterNotFound' });
    const denied = Object.assign(new Error('denied'), { name: 'AccessDeniedException' });
    const resolver = new AwsSecretResolver({
      parameters: { getParameter: async () => Promise.reject(notFound) },
      secrets: { getSecretValue: async () => Promise.reject(denied) },
    });
    // WHEN they are resolved / THEN each error has its kind
    await expect(resolver.parameter('/nope')).rejects.toThrow(InputError);
    await expect(resolver.secret('x')).rejects.toThrow(FailureError);
  });
});
