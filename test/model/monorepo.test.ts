/**
 * Services of one repository: each names its folder (`source.directory`) and what else it is
 * built from (`source.dependsOn`); the plan says where its steps run and which changes start it.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PipelinesConfig, ServiceConfig } from '../../src/model/config.js';
import { InputError } from '../../src/model/errors.js';
import { buildPipelinePlan, enterDirectoryLine, repositoryFolderOf, serviceOutputDirectory } from '../../src/model/plan.js';
import { FILE_PATH_FILTER_LIMITS, patternRegExpSource, triggerPathsMatcher, triggerPathsRegExpSource } from '../../src/model/trigger-paths.js';
import { validateConfig } from '../../src/model/validate.js';
import { pathKindOnDisk } from '../../src/runtime/path-kind.js';

const CONNECTION = 'arn:aws:codeconnections:us-east-1:111111111111:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789';
const shop = { owner: 'example-org', repo: 'shop', connectionArn: CONNECTION };

function monorepo(services: ServiceConfig[]): PipelinesConfig {
  return {
    cicd: { account: '111111111111', region: 'us-east-1' },
    environments: [{ name: 'dev', account: '222222222222', region: 'us-east-1' }],
    services,
  };
}

function service(name: string, source: Partial<ServiceConfig['source']>): ServiceConfig {
  return { name, flavor: 'custom', commands: { package: 'true', deploy: 'true' }, source: { github: shop, ...source } };
}

/** The problems of an invalid config (where → message). */
function problemsOf(config: unknown, options: Parameters<typeof validateConfig>[2] = {}): Record<string, string> {
  try {
    validateConfig(config, 'pipelines.config.ts', options);
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return Object.fromEntries((error as InputError).problems.map((p) => [p.where, p.message]));
  }
  throw new Error('expected the config to be refused');
}

describe('the plan of a service in a monorepo', () => {
  it('GIVEN two services of one repository with their folders and a shared library WHEN planned THEN each plan says its folder and the patterns that start it', () => {
    const config = validateConfig(
      monorepo([
        service('orders', { directory: 'services/orders', dependsOn: ['libs/money/', 'package-lock.json'] }),
        service('invoices', { directory: 'services/invoices', dependsOn: ['libs/money/**', 'libs/*/package.json'] }),
      ]),
    );

    const orders = buildPipelinePlan(config, 'orders', 'push');
    const invoices = buildPipelinePlan(config, 'invoices', 'pull-request');

    expect(orders.source).toMatchObject({ directory: 'services/orders', triggerPaths: ['services/orders/**', 'libs/money/**', 'package-lock.json'] });
    expect(invoices.source).toMatchObject({ directory: 'services/invoices', triggerPaths: ['services/invoices/**', 'libs/money/**', 'libs/*/package.json'] });
    expect(enterDirectoryLine(orders)).toBe('cd services/orders');
    expect(serviceOutputDirectory(orders, 'Package')).toBe('services/orders/.pipeline/Package');
  });

  it('GIVEN a service of a repository of its own WHEN planned THEN its steps run at the root and any change starts it', () => {
    const config = validateConfig(monorepo([service('api', {})]));

    const plan = buildPipelinePlan(config, 'api', 'push');

    expect(plan.source).toMatchObject({ directory: '.', triggerPaths: [] });
    expect(enterDirectoryLine(plan)).toBeUndefined();
    expect(serviceOutputDirectory(plan, 'Package')).toBe('.pipeline/Package');
  });

  it('GIVEN a dependsOn entry that repeats the folder WHEN planned THEN the pattern is listed once', () => {
    const config = validateConfig(monorepo([service('orders', { directory: 'services/orders', dependsOn: ['services/orders/**', 'libs/money/'] })]));

    expect(buildPipelinePlan(config, 'orders', 'push').source.triggerPaths).toEqual(['services/orders/**', 'libs/money/**']);
  });
});

describe('validation of the services of one repository', () => {
  it('GIVEN two services of one repository and branch in the same folder WHEN validated THEN the second is refused at its directory, naming the first', () => {
    const problems = problemsOf(
      monorepo([service('orders', { directory: 'services/orders' }), service('orders-v2', { directory: 'services/orders', github: { ...shop, owner: 'Example-Org' } })]),
    );

    expect(problems['services[1].source.directory']).toBe('services[0] (orders) has the same folder services/orders of Example-Org/shop@main: each service of a repository needs a directory of its own');
  });

  it('GIVEN two services of one repository without a directory WHEN validated THEN the second is told to give each its folder', () => {
    const problems = problemsOf(monorepo([service('orders', {}), service('invoices', {})]));

    expect(problems['services[1].source.directory']).toMatch(/^services\[0\] \(orders\) builds the whole repository example-org\/shop@main too: give each service its folder/);
  });

  it('GIVEN one folder on two branches, and two repositories WHEN validated THEN both are accepted', () => {
    expect(() =>
      validateConfig(
        monorepo([
          service('orders', { directory: 'services/orders' }),
          service('orders-next', { directory: 'services/orders', github: { ...shop, branch: 'next' } }),
          service('other', { directory: 'services/orders', github: { ...shop, repo: 'other' } }),
        ]),
      ),
    ).not.toThrow();
  });

  it('GIVEN dependsOn without a directory WHEN validated THEN it is refused: the whole repository starts the pipeline already', () => {
    const problems = problemsOf(monorepo([service('orders', { dependsOn: ['libs/money/'] })]));

    expect(problems['services[0].source.dependsOn']).toMatch(/^the service's folder is the whole repository \(no source.directory\)/);
  });

  it(`GIVEN a directory and ${FILE_PATH_FILTER_LIMITS.patterns - 1} dependencies WHEN validated THEN it fits CodePipeline's trigger; with one more THEN it is refused at dependsOn, with the limit`, () => {
    const dependsOn = Array.from({ length: FILE_PATH_FILTER_LIMITS.patterns - 1 }, (_, i) => `libs/lib${i}/`);
    expect(() => validateConfig(monorepo([service('orders', { directory: 'services/orders', dependsOn })]))).not.toThrow();

    const problems = problemsOf(monorepo([service('orders', { directory: 'services/orders', dependsOn: [...dependsOn, 'package-lock.json'] })]));

    expect(problems['services[0].source.dependsOn']).toBe(
      "9 trigger patterns (the directory's and 8 of dependsOn); CodePipeline's push trigger takes at most 8: list at most 7, e.g. a parent folder (\"libs/\") for several libraries",
    );
  });

  it('GIVEN a pattern longer than CodePipeline takes WHEN validated THEN it is refused at its entry', () => {
    const long = `libs/${'a'.repeat(250)}/`;

    const problems = problemsOf(monorepo([service('orders', { directory: 'services/orders', dependsOn: ['package-lock.json', long] })]));

    expect(problems['services[0].source.dependsOn[1]']).toBe('is 258 characters; CodePipeline takes file path patterns of at most 255');
  });

  it.each([
    ['libs/**/src', /may only end a pattern/],
    ['libs/sh**', /whole path segment/],
    ['!libs/legacy/**', /exclusion/],
    ['/libs/money/', /without a leading "\/": "libs\/money\/"/],
    ['./libs/money/', /without a leading "\.\/"/],
    ['libs/{money,tax}/', /read differently/],
    ['libs/mon?y/', /read differently/],
    ['libs/c++/', /read differently/],
    ['libs/../money/', /no "\.", "\.\." or empty parts/],
  ])('GIVEN dependsOn entry %s WHEN validated THEN it is refused, saying why', (entry, message) => {
    const problems = problemsOf(monorepo([service('orders', { directory: 'services/orders', dependsOn: [entry] })]));

    expect(problems['services[0].source.dependsOn[0]']).toMatch(message);
  });

  it.each([
    ['/services/orders', /relative to the repository's root/],
    ['services/orders/', /without the trailing slash: "services\/orders"/],
    ['services/../orders', /no "\.", "\.\." or empty parts/],
    ['services//orders', /no "\.", "\.\." or empty parts/],
    ['services/ord*', /read differently/],
    ['', /must not be empty/],
  ])('GIVEN directory "%s" WHEN validated THEN it is refused, saying why', (directory, message) => {
    const problems = problemsOf(monorepo([service('orders', { directory })]));

    expect(problems['services[0].source.directory']).toMatch(message);
  });
});

describe('validation against the clone on this machine', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'sp-monorepo-config-'));
    for (const folder of ['services/orders', 'libs/money']) mkdirSync(path.join(root, folder), { recursive: true });
    writeFileSync(path.join(root, 'package-lock.json'), '{}');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));
  const onDisk = () => ({ baseDir: root, pathKind: pathKindOnDisk });

  it('GIVEN the service folder, a library folder and the lockfile in the clone WHEN validated THEN it is accepted', () => {
    const config = monorepo([service('orders', { path: './services/orders', directory: 'services/orders', dependsOn: ['libs/money/', 'libs/*/index.js', 'package-lock.json'] })]);

    expect(() => validateConfig(config, 'pipelines.config.ts', onDisk())).not.toThrow();
  });

  it('GIVEN a directory misspelled WHEN validated THEN source.path is not that folder, and it says so', () => {
    const problems = problemsOf(monorepo([service('orders', { path: './services/orders', directory: 'services/ordrs' })]), onDisk());

    expect(problems['services[0].source.path']).toBe(
      `${path.join(root, 'services/orders')} is not the folder services/ordrs of a clone: with source.directory, source.path names the service's folder in a clone of the repository (…/services/ordrs)`,
    );
  });

  it('GIVEN the service folder missing from the clone WHEN validated THEN the directory is refused, naming the clone', () => {
    const problems = problemsOf(monorepo([service('invoices', { path: './services/invoices', directory: 'services/invoices' })]), onDisk());

    expect(problems['services[0].source.directory']).toBe(`no folder services/invoices in the clone at ${root} (source.path ./services/invoices): check the directory's spelling`);
  });

  it('GIVEN a clone that is not on this machine (a synth in the CI of another repository) WHEN validated THEN its folders are not checked', () => {
    const config = monorepo([service('orders', { path: '../elsewhere/shop/services/orders', directory: 'services/orders', dependsOn: ['libs/money/'] })]);

    expect(() => validateConfig(config, 'pipelines.config.ts', onDisk())).not.toThrow();
  });

  it('GIVEN dependsOn naming what the clone lacks, and a folder without its slash WHEN validated THEN each entry is refused with the fix', () => {
    const config = monorepo([service('orders', { path: './services/orders', directory: 'services/orders', dependsOn: ['libs/mony/', 'libs/money', 'package-lock.json/'] })]);

    const problems = problemsOf(config, onDisk());

    expect(problems['services[0].source.dependsOn[0]']).toBe(`nothing at libs/mony in the clone at ${root}: check its spelling`);
    expect(problems['services[0].source.dependsOn[1]']).toBe('libs/money is a folder: write "libs/money/" (or "libs/money/**") for the changes below it; a path without a slash names one file');
    expect(problems['services[0].source.dependsOn[2]']).toBe('package-lock.json is a file, not a folder');
  });

  it('GIVEN a service folder and its directory WHEN the clone is looked for THEN it is the folder above the directory, or none when they disagree', () => {
    expect(repositoryFolderOf(path.join(root, 'services/orders'), 'services/orders')).toBe(root);
    expect(repositoryFolderOf(path.join(root, 'services/orders'), '.')).toBe(path.join(root, 'services/orders'));
    expect(repositoryFolderOf(path.join(root, 'services/orders'), 'services/invoices')).toBeUndefined();
    expect(repositoryFolderOf(path.join(root, 'orders'), 'services/orders')).toBeUndefined();
  });
});

describe('trigger patterns as every engine reads them', () => {
  it.each([
    ['services/orders/**', 'services/orders/src/handler.js', true],
    ['services/orders/**', 'services/orders/package.json', true],
    ['services/orders/**', 'services/orders-v2/package.json', false],
    ['services/orders/**', 'services/orders', false],
    ['*.json', 'package-lock.json', true],
    ['*.json', 'libs/money/package.json', false],
    ['libs/*/package.json', 'libs/money/package.json', true],
    ['libs/*/package.json', 'libs/money/nested/package.json', false],
    ['package-lock.json', 'package-lock.json', true],
    ['package-lock.json', 'services/orders/package-lock.json', false],
    ['libs/money.v2/**', 'libs/moneyXv2/index.js', false],
  ])('GIVEN pattern %s WHEN %s changes THEN it matches: %s', (pattern, file, expected) => {
    expect(new RegExp(patternRegExpSource(pattern)).test(file)).toBe(expected);
    expect(triggerPathsMatcher([pattern])(file) !== undefined).toBe(expected);
  });

  it('GIVEN several patterns WHEN made one regular expression (the CodeBuild filter) THEN it matches what any of them matches, anchored', () => {
    const source = triggerPathsRegExpSource(['services/orders/**', 'libs/money/**', 'package-lock.json']);

    expect(source).toBe('^(?:services/orders/.*|libs/money/.*|package-lock\\.json)$');
    const regexp = new RegExp(source);
    expect(['services/orders/a.js', 'libs/money/index.js', 'package-lock.json'].every((f) => regexp.test(f))).toBe(true);
    expect(['README.md', 'services/invoices/a.js', 'xpackage-lock.json'].some((f) => regexp.test(f))).toBe(false);
  });

  it('GIVEN no patterns WHEN matching THEN every change matches (a repository of its own)', () => {
    expect(triggerPathsMatcher([])('README.md')).toBe('**');
  });
});
