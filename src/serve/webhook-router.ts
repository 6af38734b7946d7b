/**
 * Which runs a GitHub webhook starts: pure, from the event name, its payload and the config.
 *
 * - `push` to a service's branch (`source.github.branch`, default `main`) of its repository
 *   starts the service's pipeline. Tag pushes and branch deletions start nothing.
 * - `pull_request` `opened`, `synchronize` or `reopened`, whose base is a service's repository
 *   and branch, starts the service's test-only pipeline (unless `pullRequests: false`).
 * - `ping` (sent when the webhook is created) starts nothing and answers 200.
 *
 * Several services may live in one repository (a monorepo): a push starts those whose folder
 * (`source.directory`) or dependencies (`source.dependsOn`) it changed, by the files its commits
 * list, as CodePipeline's trigger filters by them. A push whose payload may not list every
 * changed file (a new branch, a forced push, as many commits as the payload holds, commits that
 * list no file) starts every service of the branch.
 */
import { z } from 'zod';
import { InputError } from '../model/errors.js';
import type { ValidConfig } from '../model/validate.js';
import { formatPath } from '../model/validate.js';
import { triggerPathsMatcher, triggerPathsOf } from '../model/trigger-paths.js';
import type { RunRequest } from './run-starter.js';

/** A service of the config. */
export type ConfiguredService = ValidConfig['services'][number];

/** The branch a service's pipeline follows when `source.github.branch` is not given. */
export const DEFAULT_BRANCH = 'main';

/** The pull-request actions that start a test-only run, as CodePipeline's pull-request triggers. */
export const PULL_REQUEST_ACTIONS: readonly string[] = ['opened', 'synchronize', 'reopened'];

/** What to do with a webhook. */
export type WebhookRoute =
  | { readonly kind: 'pong'; readonly zen?: string }
  | { readonly kind: 'start'; readonly runs: readonly RunRequest[] }
  | { readonly kind: 'ignore'; readonly reason: string };

const repositorySchema = z.looseObject({ full_name: z.string().min(1) });

const commitSchema = z.looseObject({
  added: z.array(z.string()).optional(),
  removed: z.array(z.string()).optional(),
  modified: z.array(z.string()).optional(),
});

const pushSchema = z.looseObject({
  ref: z.string().min(1),
  after: z.string().optional(),
  deleted: z.boolean().optional(),
  created: z.boolean().optional(),
  forced: z.boolean().optional(),
  commits: z.array(commitSchema).optional(),
  repository: repositorySchema,
});

/** GitHub lists at most this many commits in a push's payload. */
export const PUSH_PAYLOAD_MAX_COMMITS = 2048;

const pullRequestSchema = z.looseObject({
  action: z.string().min(1),
  number: z.number().int(),
  pull_request: z.looseObject({
    head: z.looseObject({ sha: z.string().optional() }),
    base: z.looseObject({ ref: z.string().min(1), repo: repositorySchema }),
  }),
});

const pingSchema = z.looseObject({ zen: z.string().optional() });

/**
 * Decide what a webhook does.
 *
 * @param event the `X-GitHub-Event` header
 * @param payload the parsed JSON body
 * @param services the config's services
 * @param deliveryId the `X-GitHub-Delivery` header, for the runs' reason
 * @throws InputError when the payload lacks a field the event needs (a malformed payload)
 */
export function routeWebhook(event: string, payload: unknown, services: readonly ConfiguredService[], deliveryId: string): WebhookRoute {
  switch (event) {
    case 'ping': {
      const ping = parse(pingSchema, payload, event);
      return { kind: 'pong', ...(ping.zen === undefined ? {} : { zen: ping.zen }) };
    }
    case 'push':
      return routePush(parse(pushSchema, payload, event), services, deliveryId);
    case 'pull_request':
      return routePullRequest(parse(pullRequestSchema, payload, event), services, deliveryId);
    default:
      return { kind: 'ignore', reason: `the "${event}" event starts nothing (only push, pull_request and ping are acted on)` };
  }
}

function routePush(push: z.infer<typeof pushSchema>, services: readonly ConfiguredService[], deliveryId: string): WebhookRoute {
  const repository = push.repository.full_name;
  if (!push.ref.startsWith('refs/heads/')) {
    return { kind: 'ignore', reason: `${push.ref} is not a branch: tag pushes start nothing` };
  }
  const branch = push.ref.slice('refs/heads/'.length);
  if (push.deleted === true) {
    return { kind: 'ignore', reason: `branch ${branch} of ${repository} was deleted: nothing to run` };
  }
  const following = services.filter((s) => followsBranch(s, repository, branch));
  if (following.length === 0) {
    return { kind: 'ignore', reason: `no service follows ${repository}@${branch}${followedList(services)}` };
  }
  const matching = runnable(following);
  if (matching.length === 0) {
    return { kind: 'ignore', reason: notRunnable(following) };
  }
  const revision = commitId(push.after);
  const commit = revision === undefined ? '' : ` ${revision.slice(0, 7)}`;
  const files = pushedFiles(push);
  const touched = matching.flatMap((service) => {
    if (files === undefined) return [{ service, why: '' }];
    const matcher = triggerPathsMatcher(triggerPathsOf(service.source.directory ?? '.', service.source.dependsOn));
    const file = files.find((f) => matcher(f) !== undefined);
    return file === undefined ? [] : [{ service, why: `: ${file} changed` }];
  });
  if (touched.length === 0) {
    const listed = files!.length > 3 ? `${files!.slice(0, 3).join(', ')} and ${files!.length - 3} more` : files!.join(', ');
    return { kind: 'ignore', reason: `push${commit} to ${repository}@${branch} changed nothing the services of that branch follow (${listed}): ${followedPaths(matching)}` };
  }
  return {
    kind: 'start',
    runs: touched.map(({ service, why }) => ({
      service: service.name,
      trigger: 'push',
      reason: `push${commit} to ${repository}@${branch} (delivery ${deliveryId})${why}`,
      ...(revision ? { revision } : {}),
    })),
  };
}

/**
 * The files a push changed, from its commits' lists; undefined when the payload may not list them
 * all (a new branch, a forced push, as many commits as the payload holds, a commit without lists).
 */
function pushedFiles(push: z.infer<typeof pushSchema>): string[] | undefined {
  const commits = push.commits;
  if (push.created === true || push.forced === true || commits === undefined || commits.length === 0 || commits.length >= PUSH_PAYLOAD_MAX_COMMITS) {
    return undefined;
  }
  if (commits.some((c) => c.added === undefined || c.removed === undefined || c.modified === undefined)) {
    return undefined;
  }
  const files = [...new Set(commits.flatMap((c) => [...c.added!, ...c.removed!, ...c.modified!]))];
  // Commits that list no file at all (a merge, say) changed something all the same.
  return files.length === 0 ? undefined : files;
}

function followedPaths(services: readonly ConfiguredService[]): string {
  return services.map((s) => `${s.name} follows ${triggerPathsOf(s.source.directory ?? '.', s.source.dependsOn).join(', ') || 'every file'}`).join('; ');
}

function routePullRequest(event: z.infer<typeof pullRequestSchema>, services: readonly ConfiguredService[], deliveryId: string): WebhookRoute {
  const repository = event.pull_request.base.repo.full_name;
  const branch = event.pull_request.base.ref;
  if (!PULL_REQUEST_ACTIONS.includes(event.action)) {
    return { kind: 'ignore', reason: `pull request action "${event.action}" starts nothing (only ${PULL_REQUEST_ACTIONS.join(', ')} do)` };
  }
  const following = services.filter((s) => followsBranch(s, repository, branch));
  if (following.length === 0) {
    return { kind: 'ignore', reason: `no service follows ${repository}@${branch}, the pull request's base${followedList(services)}` };
  }
  const matching = following.filter((s) => s.pullRequests !== false);
  if (matching.length === 0) {
    return { kind: 'ignore', reason: `pull-request runs are turned off (pullRequests: false) for ${following.map((s) => s.name).join(', ')}` };
  }
  const testing = runnable(matching);
  if (testing.length === 0) {
    return { kind: 'ignore', reason: notRunnable(matching) };
  }
  const revision = commitId(event.pull_request.head.sha);
  const head = revision === undefined ? '' : ` at ${revision.slice(0, 7)}`;
  return {
    kind: 'start',
    runs: testing.map((s) => ({
      service: s.name,
      trigger: 'pull-request',
      reason: `pull request #${event.number} ${event.action}${head} into ${repository}@${branch} (delivery ${deliveryId})`,
      ...(revision ? { revision } : {}),
    })),
  };
}

/** A commit id the run can take (40 or 64 hex digits, not all zeros as a deleted ref's), else undefined. */
function commitId(sha: string | undefined): string | undefined {
  return sha !== undefined && /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/i.test(sha) && !/^0+$/.test(sha) ? sha.toLowerCase() : undefined;
}

/** The services that can run here: a local run needs the service's folder. */
function runnable(services: readonly ConfiguredService[]): ConfiguredService[] {
  return services.filter((s) => s.source.path !== undefined);
}

function notRunnable(services: readonly ConfiguredService[]): string {
  return `${services.map((s) => s.name).join(', ')} ha${services.length === 1 ? 's' : 've'} no source.path: local runs need the service's folder`;
}

/** Whether a service's pipeline follows that repository's branch. GitHub names are case-insensitive. */
function followsBranch(service: ConfiguredService, repository: string, branch: string): boolean {
  const github = service.source.github;
  if (github === undefined) {
    return false;
  }
  return `${github.owner}/${github.repo}`.toLowerCase() === repository.toLowerCase() && (github.branch ?? DEFAULT_BRANCH) === branch;
}

function followedList(services: readonly ConfiguredService[]): string {
  const followed = services.flatMap((s) => (s.source.github ? [`${s.source.github.owner}/${s.source.github.repo}@${s.source.github.branch ?? DEFAULT_BRANCH}`] : []));
  return followed.length ? ` (followed: ${followed.join(', ')})` : ' (no service has source.github)';
}

function parse<T>(schema: z.ZodType<T>, payload: unknown, event: string): T {
  const result = schema.safeParse(payload);
  if (!result.success) {
    throw new InputError(
      `malformed ${event} payload`,
      result.error.issues.map((issue) => ({ where: `payload${issue.path.length ? `.${formatPath(issue.path)}` : ''}`, message: issue.message })),
    );
  }
  return result.data;
}
