/**
 * Serves the deployer role's temporary credentials to the deploy command (osls) on the loopback
 * interface, the way ECS and CodeBuild serve a container's role: through
 * `AWS_CONTAINER_CREDENTIALS_FULL_URI` and `AWS_CONTAINER_AUTHORIZATION_TOKEN`.
 *
 * Why not `AWS_ACCESS_KEY_ID` & co.: a child's environment cannot be changed once it runs, so a
 * deploy that outlives the session (role chaining caps it at one hour) would fail half-way. The
 * AWS SDK asks this endpoint again when its credentials near expiry, and the server assumes the
 * role again then. The credentials live in this process's memory only: never on disk, never in
 * the child's environment (which holds the URL and a random token, useless once the step ends).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../runtime/clock.js';
import type { AssumeRoleRequest, AwsSeam, TemporaryCredentials } from './aws.js';

/** Props of `RefreshingCredentialsServer`. */
export interface RefreshingCredentialsServerProps {
  readonly aws: AwsSeam;
  readonly request: AssumeRoleRequest;
  readonly clock: Clock;
  /**
   * Assume the role again when the credentials held expire within this many milliseconds.
   * Longer than the SDK's own 5-minute window, so a client never gets credentials it would refuse.
   *
   * @default 600_000 (10 minutes)
   */
  readonly refreshWindowMs?: number;
}

/** The environment a child needs to get its credentials from the server. */
export interface ContainerCredentialsEnv {
  readonly AWS_CONTAINER_CREDENTIALS_FULL_URI: string;
  readonly AWS_CONTAINER_AUTHORIZATION_TOKEN: string;
}

/** A loopback credentials endpoint that assumes a role, and assumes it again before it expires. */
export class RefreshingCredentialsServer {
  private readonly props: RefreshingCredentialsServerProps;
  private readonly token = randomBytes(32).toString('hex');
  private readonly refreshWindowMs: number;
  private current: TemporaryCredentials | undefined;
  private pending: Promise<TemporaryCredentials> | undefined;
  private server: Server | undefined;
  private url: string | undefined;
  /** How many times the role was assumed (the first time, then each refresh). */
  assumeCount = 0;

  constructor(props: RefreshingCredentialsServerProps) {
    this.props = props;
    this.refreshWindowMs = props.refreshWindowMs ?? 600_000;
  }

  /** Assume the role (so that a bad role fails before anything runs) and start listening on 127.0.0.1. */
  async start(): Promise<ContainerCredentialsEnv> {
    await this.credentials();
    const server = createServer((request, response) => {
      void this.handle(request.headers.authorization, request.method, response);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/credentials`;
    return this.childEnv();
  }

  /** The variables that point a child at this server. */
  childEnv(): ContainerCredentialsEnv {
    if (!this.url) {
      throw new Error('the credentials server is not started');
    }
    return { AWS_CONTAINER_CREDENTIALS_FULL_URI: this.url, AWS_CONTAINER_AUTHORIZATION_TOKEN: this.token };
  }

  /** Valid credentials: those held, or new ones when they expire within the refresh window. */
  async credentials(): Promise<TemporaryCredentials> {
    if (this.current && this.current.expiration.getTime() - this.props.clock.now() > this.refreshWindowMs) {
      return this.current;
    }
    // One AssumeRole at a time, however many requests arrive together.
    this.pending ??= this.props.aws
      .assumeRole(this.props.request)
      .then((credentials) => {
        this.current = credentials;
        this.assumeCount += 1;
        return credentials;
      })
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }

  /** Stop serving and forget the credentials. */
  async stop(): Promise<void> {
    this.current = undefined;
    const server = this.server;
    this.server = undefined;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  private async handle(authorization: string | undefined, method: string | undefined, response: ServerResponse): Promise<void> {
    if (method !== 'GET') {
      response.writeHead(405).end();
      return;
    }
    if (!authorization || !sameSecret(authorization, this.token)) {
      response.writeHead(403, { 'content-type': 'application/json' }).end('{"message":"forbidden"}');
      return;
    }
    try {
      const c = await this.credentials();
      response.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          AccessKeyId: c.accessKeyId,
          SecretAccessKey: c.secretAccessKey,
          Token: c.sessionToken,
          Expiration: c.expiration.toISOString(),
        }),
      );
    } catch (error) {
      response.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ message: (error as Error).message }));
    }
  }
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The child environment of a command that must use only the deployer role: every other source of
 * credentials the AWS SDK (and osls) would try first is removed, and the container endpoint added.
 */
export function environmentForRole(base: NodeJS.ProcessEnv, endpoint: ContainerCredentialsEnv, region: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(base)) {
    if (!isCredentialSource(key)) {
      env[key] = value;
    }
  }
  return {
    ...env,
    ...endpoint,
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    // An empty file: no profile of the machine's (e.g. a developer's default) wins over the role.
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}

function isCredentialSource(key: string): boolean {
  return (
    /^AWS_(\w+_)?(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|PROFILE)$/.test(key) ||
    key === 'AWS_SECRET_KEY' ||
    key === 'AWS_ACCESS_KEY' ||
    key === 'AWS_CREDENTIAL_EXPIRATION' ||
    key === 'AWS_DEFAULT_PROFILE' ||
    key === 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI' ||
    key === 'AWS_CONTAINER_CREDENTIALS_FULL_URI' ||
    key === 'AWS_CONTAINER_AUTHORIZATION_TOKEN' ||
    key === 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE' ||
    key === 'AWS_WEB_IDENTITY_TOKEN_FILE' ||
    key === 'AWS_ROLE_ARN' ||
    key === 'AWS_ROLE_SESSION_NAME'
  );
}
