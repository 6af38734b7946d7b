/**
 * Which services a change touches (`run --changed`, `plan --changed`, `serve --watch`): real git
 * repositories, the services of a monorepo with a shared library.
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { changedFiles, changedServices, parseNameStatus, type ChangedServices, type LastSuccess } from '../../src/local/changes.js';
import type { ServiceConfig } from '../../src/model/config.js';
import { InputError } from '../../src/model/errors.js';
import type { PipelinePlan } from '../../src/model/plan-schema.js';
import { validateConfig, type ValidConfig } from '../../src/model/validate.js';
import { nodeProcesses } from '../../src/runtime/process.js';
import { git, gitRepository, tempFolder, writeFiles } from './helpers.js';

const shop = { owner: 'example-org', repo: 'shop', connectionArn: 'arn:aws:codeconnections:us-east-1:111111111111:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789' };

/** The monorepo of the tests: two services importing a shared library, a root README and lockfile. */
const FILES = {
  'README.md': '# shop\n',
  'package-lock.json': '{}\n',
  'libs/money/index.js': 'export const formatPrice = (cents) => `${cents / 100} EUR`;\n',
  'services/orders/src/handler.js': "import '../../../libs/money/index.js';\n",
  'services/orders/package.json': '{}\n',
  'services/invoices/src/handler.js': "import '../../../libs/money/index.js';\n",
  'services/invoices/package.json': '{}\n',
};

function service(name: string, source: Partial<ServiceConfig['source']> = {}): ServiceConfig {
  return {
    name,
    flavor: 'custom',
    commands: { package: 'true', deploy: 'true' },
    source: { github: shop, directory: `services/${name}`, path: `./services/${name}`, dependsOn: ['libs/money/'], ...source },
  };
}

function configOf(services: ServiceConfig[]): ValidConfig {
  return validateConfig({ cicd: { account: '111111111111', region: 'us-east-1' }, environments: [{ name: 'dev', account: '222222222222', region: 'us-east-1' }], services });
}

let work: { dir: string; cleanup: () => void };
let repository: string;
let first: string;
beforeEach(() => {
  work = tempFolder('sp-changes-');
  repository = path.join(work.dir, 'shop');
  first = gitRepository(repository, FILES);
});
afterEach(() => work.cleanup());

/** Commit the working tree; returns the commit. */
function commit(message: string): string {
  git(repository, 'add', '-A');
  git(repository, 'commit', '-q', '-m', message);
  return git(repository, 'rev-parse', 'HEAD');
}

/** Every service's last successful run took `commit`. */
const ranAt = (commit: string) => (plan: PipelinePlan): LastSuccess => ({ commit, executionId: `run-of-${plan.service}` });

async function decide(options: { since?: string; lastSuccess?: (plan: PipelinePlan) => LastSuccess | undefined; config?: ValidConfig; baseDir?: string } = {}): Promise<ChangedServices> {
  return changedServices({
    config: options.config ?? configOf([service('orders'), service('invoices')]),
    baseDir: options.baseDir ?? repository,
    processes: nodeProcesses,
    lastSuccess: options.lastSuccess ?? ranAt(first),
    ...(options.since === undefined ? {} : { since: options.since }),
  });
}

function running(changes: ChangedServices): Record<string, string> {
  return Object.fromEntries(changes.services.filter((s) => s.runs).map((s) => [s.service, s.reason]));
}

describe('changedServices', () => {
  it('GIVEN a commit that touches one service WHEN deciding THEN only that service runs, saying which file', async () => {
    writeFiles(repository, { 'services/orders/src/handler.js': "import '../../../libs/money/index.js';\nexport const v = 2;\n" });
    commit('orders: v2');

    const changes = await decide();

    expect(running(changes)).toEqual({ orders: `services/orders/src/handler.js (services/orders/**) changed since ${first.slice(0, 7)}, its last successful run` });
    expect(changes.services.find((s) => s.service === 'invoices')).toMatchObject({ runs: false, reason: `nothing it follows changed since ${first.slice(0, 7)}, its last successful run` });
  });

  it('GIVEN a commit that touches both services WHEN deciding THEN both run', async () => {
    writeFiles(repository, { 'services/orders/package.json': '{"v":2}\n', 'services/invoices/package.json': '{"v":2}\n' });
    commit('both');

    expect(Object.keys(running(await decide()))).toEqual(['orders', 'invoices']);
  });

  it('GIVEN a commit that touches only the shared library WHEN deciding THEN both services run, by their dependsOn', async () => {
    writeFiles(repository, { 'libs/money/index.js': 'export const formatPrice = (cents) => `${(cents / 100).toFixed(2)} EUR`;\n' });
    commit('money: two decimals');

    const changes = await decide();

    expect(running(changes)).toEqual({
      orders: `libs/money/index.js (libs/money/**) changed since ${first.slice(0, 7)}, its last successful run`,
      invoices: `libs/money/index.js (libs/money/**) changed since ${first.slice(0, 7)}, its last successful run`,
    });
  });

  it('GIVEN a commit that touches only the README at the root WHEN deciding THEN nothing runs', async () => {
    writeFiles(repository, { 'README.md': '# shop\n\nTwo services.\n' });
    commit('docs');

    const changes = await decide();

    expect(running(changes)).toEqual({});
    expect(changes.services.map((s) => s.runs)).toEqual([false, false]);
  });

  it('GIVEN a file moved from one service to the other WHEN deciding THEN both run: one lost it, the other gained it', async () => {
    writeFiles(repository, { 'services/orders/src/tax.js': 'export const rate = 0.2;\n'.repeat(20) });
    const before = commit('orders: tax');
    git(repository, 'mv', 'services/orders/src/tax.js', 'services/invoices/src/tax.js');
    commit('tax moves to invoices');

    const changes = await decide({ lastSuccess: ranAt(before) });

    const move = 'services/orders/src/tax.js → services/invoices/src/tax.js';
    expect(running(changes)).toEqual({
      orders: `${move} (services/orders/**) changed since ${before.slice(0, 7)}, its last successful run`,
      invoices: `${move} (services/invoices/**) changed since ${before.slice(0, 7)}, its last successful run`,
    });
  });

  it('GIVEN uncommitted and untracked changes WHEN deciding THEN they count: a local run takes the working tree', async () => {
    writeFiles(repository, { 'services/orders/src/handler.js': '// edited, not committed\n', 'services/invoices/src/new.js': '// untracked\n' });

    expect(Object.keys(running(await decide()))).toEqual(['orders', 'invoices']);
  });

  it('GIVEN what a Source snapshot leaves out changed (node_modules, local state) WHEN deciding THEN nothing runs', async () => {
    writeFiles(repository, { 'services/orders/node_modules/x/index.js': '//\n', 'services/orders/.pipeline/Package/a': 'a', 'services/invoices/.service-pipelines/state.db': '' });

    expect(running(await decide())).toEqual({});
  });

  it('GIVEN each service last succeeded at another commit WHEN deciding THEN each is compared with its own', async () => {
    writeFiles(repository, { 'services/orders/package.json': '{"v":2}\n' });
    const second = commit('orders v2');
    writeFiles(repository, { 'services/invoices/package.json': '{"v":2}\n' });
    commit('invoices v2');

    const changes = await decide({ lastSuccess: (plan) => ({ commit: plan.service === 'orders' ? second : first, executionId: 'e' }) });

    expect(Object.keys(running(changes))).toEqual(['invoices']);
  });

  it('GIVEN --since a ref WHEN deciding THEN every service is compared with it, whatever its history says', async () => {
    git(repository, 'tag', 'release-1');
    writeFiles(repository, { 'services/invoices/package.json': '{"v":2}\n' });
    commit('invoices v2');

    const changes = await decide({ since: 'release-1', lastSuccess: () => undefined });

    expect(running(changes)).toEqual({ invoices: `services/invoices/package.json (services/invoices/**) changed since release-1 (${first.slice(0, 7)})` });
    expect(changes.services[0]!.base).toEqual({ commit: first, from: 'since', ref: 'release-1' });
  });

  it('GIVEN --since something the repository lacks WHEN deciding THEN InputError names --since and the repository', async () => {
    const decision = decide({ since: 'no-such-tag' });

    await expect(decision).rejects.toThrow(InputError);
    await expect(decision).rejects.toThrow(`--since no-such-tag: not a commit of the repository at ${repository}`);
    await expect(decide({ since: '--output=/tmp/x' })).rejects.toThrow(InputError);
  });

  it('GIVEN no successful run yet, or one of a commit this clone lacks WHEN deciding THEN the service runs, saying why', async () => {
    const changes = await decide({ lastSuccess: (plan) => (plan.service === 'orders' ? undefined : { commit: 'f'.repeat(40), executionId: 'abcdef0123' }) });

    expect(running(changes)).toEqual({
      orders: 'no successful run yet to compare with',
      invoices: `its last successful run (execution abcdef01) took commit fffffff, which this clone lacks: nothing to compare with`,
    });
  });

  it('GIVEN the monorepo in a folder of a larger repository WHEN deciding THEN its paths are the monorepo\'s, and changes outside it touch nothing', async () => {
    const outer = path.join(work.dir, 'outer');
    const files = Object.fromEntries(Object.entries(FILES).map(([name, content]) => [`shop/${name}`, content]));
    const base = gitRepository(outer, { ...files, 'services/orders/elsewhere.js': '//\n' });
    writeFiles(outer, { 'shop/libs/money/index.js': '// v2\n', 'services/orders/elsewhere.js': '// v2\n' });

    const changes = await decide({ baseDir: path.join(outer, 'shop'), lastSuccess: ranAt(base) });

    expect(running(changes)).toEqual({
      orders: `libs/money/index.js (libs/money/**) changed since ${base.slice(0, 7)}, its last successful run`,
      invoices: `libs/money/index.js (libs/money/**) changed since ${base.slice(0, 7)}, its last successful run`,
    });
  });

  it('GIVEN a service of a repository of its own in a folder of this one WHEN its folder or another changes THEN it runs only for its own', async () => {
    const config = configOf([{ name: 'api', flavor: 'custom', commands: { package: 'true', deploy: 'true' }, source: { path: './services/orders' } }]);
    writeFiles(repository, { 'services/invoices/package.json': '{"v":2}\n' });
    commit('invoices');

    expect(running(await decide({ config }))).toEqual({});

    writeFiles(repository, { 'services/orders/README.md': 'api\n' });
    expect(running(await decide({ config }))).toEqual({ api: `README.md changed since ${first.slice(0, 7)}, its last successful run` });
  });

  it('GIVEN a service folder outside git, and one without source.path WHEN deciding THEN the first runs (nothing to compare with) and the second is skipped', async () => {
    const plain = path.join(work.dir, 'plain');
    writeFiles(plain, { 'index.js': '//\n' });
    const config = configOf([
      { name: 'plain', flavor: 'custom', commands: { package: 'true', deploy: 'true' }, source: { path: plain } },
      { name: 'cloud', source: { github: { ...shop, repo: 'cloud' } } },
    ]);

    const changes = await decide({ config });

    expect(running(changes)).toEqual({ plain: `${plain} is not in a git repository: nothing to compare with` });
    expect(changes.skipped).toEqual([{ service: 'cloud', reason: 'no source.path: it has no folder on this machine (AWS only)' }]);
  });
});

describe('changedFiles between two commits', () => {
  it('GIVEN two commits WHEN listing what changed in a folder THEN paths are relative to it, and a move out of it is a deletion', async () => {
    writeFiles(repository, { 'services/orders/a.js': '1\n'.repeat(30) });
    const from = commit('a');
    git(repository, 'mv', 'services/orders/a.js', 'libs/money/a.js');
    writeFiles(repository, { 'README.md': 'changed\n' });
    const to = commit('move');

    expect(await changedFiles(nodeProcesses, repository, from, to)).toEqual([{ path: 'README.md' }, { path: 'libs/money/a.js', renamedFrom: 'services/orders/a.js' }]);
    expect(await changedFiles(nodeProcesses, path.join(repository, 'services'), from, to)).toEqual([{ path: 'orders/a.js' }]);
    expect(await changedFiles(nodeProcesses, repository, from, 'f'.repeat(40))).toBeUndefined();
  });

  it('GIVEN git name-status output with a rename and a copy WHEN parsed THEN renames keep both sides', () => {
    expect(parseNameStatus('M\0a.js\0R095\0old.js\0new.js\0C100\0x.js\0y.js\0D\0gone.js\0')).toEqual([
      { path: 'a.js' },
      { path: 'new.js', renamedFrom: 'old.js' },
      { path: 'y.js' },
      { path: 'gone.js' },
    ]);
  });
});
