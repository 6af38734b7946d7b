/**
 * `serve` and the services of one repository: a push (a webhook, or a commit `serve --watch`
 * sees) starts the services whose folder or dependencies it changed, and only those.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ServiceConfig } from '../../src/model/config.js';
import { validateConfig, type ValidConfig } from '../../src/model/validate.js';
import { systemClock } from '../../src/runtime/clock.js';
import { nodeProcesses } from '../../src/runtime/process.js';
import { GitWatcher } from '../../src/serve/git-watcher.js';
import { PUSH_PAYLOAD_MAX_COMMITS, routeWebhook, type WebhookRoute } from '../../src/serve/webhook-router.js';
import { exampleOf, RecordingStarter, tempFolder } from './support.js';

const github = { owner: 'Codertocat', repo: 'Hello-World', branch: 'master', connectionArn: 'arn:aws:codeconnections:us-east-1:111111111111:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789' };

function shop(extra: ServiceConfig[] = []): ValidConfig {
  const service = (name: string): ServiceConfig => ({
    name,
    flavor: 'custom',
    commands: { package: 'true', deploy: 'true' },
    source: { github, directory: `services/${name}`, path: `./shop/services/${name}`, dependsOn: ['libs/money/', 'package-lock.json'] },
  });
  return validateConfig({
    cicd: { account: '111111111111', region: 'us-east-1' },
    environments: [{ name: 'dev', account: '222222222222', region: 'us-east-1' }],
    services: [service('orders'), service('invoices'), ...extra],
  });
}

/** GitHub's push example to master, as a push of new commits to an existing branch, changing `files`. */
function pushOf(commits: Array<{ added?: string[]; removed?: string[]; modified?: string[] }>, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ...exampleOf('push', (p) => p.ref === 'refs/heads/master'),
    before: '6113728f27ae82c7b1a177c8d03f9e96e0adf246',
    created: false,
    forced: false,
    commits: commits.map((c) => ({ id: '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c', message: 'change', added: c.added ?? [], removed: c.removed ?? [], modified: c.modified ?? [] })),
    ...fields,
  };
}

function started(route: WebhookRoute): Record<string, string> {
  expect(route.kind).toBe('start');
  return route.kind === 'start' ? Object.fromEntries(route.runs.map((r) => [r.service, r.reason])) : {};
}

describe('routeWebhook: a push to a monorepo', () => {
  it('GIVEN a push that changes one service WHEN routed THEN only that service starts, its reason naming the file', () => {
    const route = routeWebhook('push', pushOf([{ modified: ['services/orders/src/handler.js'] }, { added: ['docs/orders.md'] }]), shop().services, 'd-1');

    expect(started(route)).toEqual({ orders: expect.stringMatching(/ to Codertocat\/Hello-World@master \(delivery d-1\): services\/orders\/src\/handler\.js changed$/) });
  });

  it('GIVEN a push that changes both services in two commits WHEN routed THEN both start', () => {
    const route = routeWebhook('push', pushOf([{ modified: ['services/orders/package.json'] }, { removed: ['services/invoices/src/old.js'] }]), shop().services, 'd-2');

    expect(Object.keys(started(route))).toEqual(['orders', 'invoices']);
  });

  it('GIVEN a push that changes only the shared library, or the root lockfile WHEN routed THEN both services start', () => {
    expect(Object.keys(started(routeWebhook('push', pushOf([{ modified: ['libs/money/index.js'] }]), shop().services, 'd-3')))).toEqual(['orders', 'invoices']);
    expect(Object.keys(started(routeWebhook('push', pushOf([{ modified: ['package-lock.json'] }]), shop().services, 'd-4')))).toEqual(['orders', 'invoices']);
  });

  it('GIVEN a push that changes only the README at the root WHEN routed THEN nothing starts, and the reason lists what the services follow', () => {
    const route = routeWebhook('push', pushOf([{ modified: ['README.md'] }]), shop().services, 'd-5');

    expect(route).toEqual({
      kind: 'ignore',
      reason: expect.stringContaining(
        'to Codertocat/Hello-World@master changed nothing the services of that branch follow (README.md): orders follows services/orders/**, libs/money/**, package-lock.json; invoices follows services/invoices/**',
      ),
    });
  });

  it('GIVEN a file moved from one service to the other WHEN routed THEN both start (GitHub lists it as removed and added)', () => {
    const route = routeWebhook('push', pushOf([{ removed: ['services/orders/src/tax.js'], added: ['services/invoices/src/tax.js'] }]), shop().services, 'd-6');

    expect(Object.keys(started(route))).toEqual(['orders', 'invoices']);
  });

  it('GIVEN a service of a repository of its own beside the monorepo services WHEN any file of the repository changes THEN it starts', () => {
    const whole: ServiceConfig = { name: 'site', flavor: 'custom', commands: { package: 'true', deploy: 'true' }, source: { github: { ...github, repo: 'site' }, path: './site' } };
    const push = pushOf([{ modified: ['README.md'] }], { repository: { ...(exampleOf('push').repository as object), full_name: 'Codertocat/site' } });

    expect(Object.keys(started(routeWebhook('push', push, shop([whole]).services, 'd-7')))).toEqual(['site']);
  });

  it.each([
    ['a new branch', { created: true }],
    ['a forced push', { forced: true }],
    ['commits without file lists', { commits: [{ id: 'x', message: 'm' }] }],
    ['commits that list no file (a merge)', { commits: [{ id: 'x', message: 'm', added: [], removed: [], modified: [] }] }],
    ['as many commits as GitHub puts in a payload', { commits: Array.from({ length: PUSH_PAYLOAD_MAX_COMMITS }, () => ({ id: 'x', message: 'm', added: [], removed: [], modified: ['README.md'] })) }],
  ])('GIVEN %s (the payload may not list every changed file) WHEN routed THEN every service of the branch starts', (_what, fields) => {
    const route = routeWebhook('push', pushOf([{ modified: ['README.md'] }], fields), shop().services, 'd-8');

    expect(Object.keys(started(route))).toEqual(['orders', 'invoices']);
  });
});

describe('GitWatcher: commits to a monorepo on this machine', () => {
  let work: { dir: string; cleanup: () => void };
  let repository: string;
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.com', '-c', 'init.defaultBranch=master', ...args], { cwd: repository, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1' } }).trim();
  const commit = (files: Record<string, string>) => {
    for (const [name, content] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(repository, name)), { recursive: true });
      writeFileSync(path.join(repository, name), content);
    }
    git('add', '-A');
    git('commit', '-q', '-m', 'change');
    return git('rev-parse', 'HEAD');
  };

  beforeEach(() => {
    work = tempFolder();
    repository = path.join(work.dir, 'shop');
    mkdirSync(repository);
    git('init', '-q');
    commit({ 'README.md': '# shop\n', 'package-lock.json': '{}\n', 'libs/money/index.js': '//\n', 'services/orders/a.js': '//\n', 'services/invoices/a.js': '//\n' });
  });
  afterEach(() => work.cleanup());

  it('GIVEN commits to one service, to the library, to the README WHEN polled after each THEN the services each touched start, and a README starts nothing', async () => {
    const starter = new RecordingStarter();
    const lines: string[] = [];
    const watcher = new GitWatcher({ services: shop().services, baseDir: work.dir, processes: nodeProcesses, clock: systemClock, starter, log: (l) => lines.push(l) });
    await watcher.poll();

    const orders = commit({ 'services/orders/a.js': '// v2\n' });
    const afterOrders = await watcher.poll();
    commit({ 'libs/money/index.js': '// v2\n' });
    const afterLibrary = await watcher.poll();
    const readme = commit({ 'README.md': '# shop v2\n' });
    const afterReadme = await watcher.poll();

    expect(afterOrders).toEqual(['orders']);
    expect(starter.requests[0]).toMatchObject({ service: 'orders', revision: orders, reason: expect.stringMatching(/: services\/orders\/a\.js changed$/) });
    expect(afterLibrary).toEqual(['orders', 'invoices']);
    expect(afterReadme).toEqual([]);
    expect(lines).toContain(`orders: master moved to ${readme.slice(0, 7)}, changing nothing it follows (services/orders/**, libs/money/**, package-lock.json)`);
  });
});
