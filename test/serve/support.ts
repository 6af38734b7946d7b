/**
 * Helpers of the serve tests: GitHub's example payloads re-signed with a test secret, a config
 * that follows their repository, temp folders, and a starter that records what it was asked.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Webhooks } from '@octokit/webhooks';
import { validateConfig, type ValidConfig } from '../../src/model/validate.js';
import { FailureError } from '../../src/model/errors.js';
import type { RunRequest, RunStarter, StartedRun } from '../../src/serve/run-starter.js';

export const TEST_SECRET = 'test-webhook-secret-0123456789';

interface WebhookDefinition {
  readonly name: string;
  readonly examples: ReadonlyArray<Record<string, unknown>>;
}

const definitions = createRequire(import.meta.url)('@octokit/webhooks-examples') as WebhookDefinition[];

/** GitHub's example payloads of an event (from @octokit/webhooks-examples). */
export function examplesOf(event: string, filter: (payload: Record<string, unknown>) => boolean = () => true): Array<Record<string, unknown>> {
  const definition = definitions.find((d) => d.name === event);
  if (!definition) {
    throw new Error(`no examples of ${event}`);
  }
  return definition.examples.filter(filter);
}

/** The first example payload of an event that passes `filter`. */
export function exampleOf(event: string, filter: (payload: Record<string, unknown>) => boolean = () => true): Record<string, unknown> {
  const [first] = examplesOf(event, filter);
  if (!first) {
    throw new Error(`no example of ${event} passes the filter`);
  }
  return first;
}

/** A webhook delivery as GitHub sends it: body, signed with `secret`, and headers. */
export async function signedDelivery(
  event: string,
  payload: unknown,
  options: { secret?: string; delivery?: string; body?: string } = {},
): Promise<{ body: string; headers: Record<string, string> }> {
  const body = options.body ?? JSON.stringify(payload);
  const signature = await new Webhooks({ secret: options.secret ?? TEST_SECRET }).sign(body);
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'user-agent': 'GitHub-Hookshot/test',
      'x-github-event': event,
      'x-github-delivery': options.delivery ?? crypto.randomUUID(),
      'x-hub-signature-256': signature,
    },
  };
}

/**
 * A config whose services follow the examples' repository (`Codertocat/Hello-World`, branch
 * `master`): `api` (custom flavor) and, with `monorepo`, `worker` in the same repository.
 */
export function followingConfig(options: { sourcePath?: string | false; monorepo?: boolean; pullRequests?: boolean } = {}): ValidConfig {
  const github = { owner: 'Codertocat', repo: 'Hello-World', branch: 'master', connectionArn: 'arn:aws:codeconnections:us-east-1:111111111111:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789' };
  const service = (name: string) => ({
    name,
    flavor: 'custom' as const,
    // Services of one repository name their folder in it.
    source: { ...(options.sourcePath === false ? {} : { path: options.sourcePath ?? `./${name}` }), github, ...(options.monorepo ? { directory: name } : {}) },
    commands: { package: 'true', deploy: 'true' },
    ...(options.pullRequests === false ? { pullRequests: false } : {}),
  });
  return validateConfig({
    cicd: { account: '111111111111', region: 'us-east-1' },
    environments: [{ name: 'dev', account: '222222222222', region: 'us-east-1' }],
    services: options.monorepo ? [service('api'), service('worker')] : [service('api')],
  });
}

/** A temp folder and its removal. */
export function tempFolder(prefix = 'sp-serve-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Records the runs it is asked to start instead of starting processes: for the tests of what a
 * webhook starts. (The real starter is tested on its own, with real processes.)
 */
export class RecordingStarter implements RunStarter {
  readonly requests: RunRequest[] = [];
  /** Make the next starts fail, as when the CLI cannot be spawned. */
  failing = false;

  async start(request: RunRequest): Promise<StartedRun> {
    if (this.failing) {
      throw new FailureError(`could not start the run of ${request.service}: spawn failed`);
    }
    this.requests.push(request);
    return { service: request.service, trigger: request.trigger, pid: 40_000 + this.requests.length, outputFile: '/dev/null', ...(request.executionId ? { executionId: request.executionId } : {}) };
  }
}
