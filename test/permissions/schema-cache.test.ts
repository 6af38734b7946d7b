import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FailureError, InputError } from '../../src/model/errors.js';
import { loadSchemaRegistry } from '../../src/permissions/index.js';
import { cachedSchemaBundle, defaultSchemaCacheDir, hasCachedSchemaBundle, locateSchemas, schemaBundleUrl, updateSchemaCache } from '../../src/permissions/schema-cache.js';
import { hasSharedSchemas, NEEDS_SCHEMAS, SHARED_SCHEMAS, schemaFileOf, tempDir, writeZip } from './helpers.js';

describe('schema bundle locations', () => {
  it('GIVEN a region WHEN its bundle URL is asked THEN it is AWS\'s published URL, with the China suffix in China', () => {
    expect(schemaBundleUrl('eu-west-1')).toBe('https://schema.cloudformation.eu-west-1.amazonaws.com/CloudformationSchema.zip');
    expect(schemaBundleUrl('cn-north-1')).toBe('https://schema.cloudformation.cn-north-1.amazonaws.com.cn/CloudformationSchema.zip');
  });

  it('GIVEN XDG_CACHE_HOME or only a home folder WHEN the cache folder is asked THEN it follows the XDG convention', () => {
    expect(defaultSchemaCacheDir({ XDG_CACHE_HOME: '/c' }, '/home/u')).toBe(path.join('/c', 'service-pipelines', 'cloudformation-schemas'));
    expect(defaultSchemaCacheDir({}, '/home/u')).toBe(path.join('/home/u', '.cache', 'service-pipelines', 'cloudformation-schemas'));
  });
});

describe('locateSchemas', () => {
  it('GIVEN --schemas, $SERVICE_PIPELINES_SCHEMAS and a cached bundle WHEN located THEN they win in that order, and without any an InputError says how to get one', async () => {
    const cache = tempDir();
    const env = { XDG_CACHE_HOME: cache };
    const bundle = cachedSchemaBundle(defaultSchemaCacheDir(env), 'eu-west-1');
    await expect(locateSchemas({ cwd: '/work', env, region: 'eu-west-1' })).rejects.toThrow(/run "service-pipelines permissions update --region eu-west-1" once/);
    mkdirSync(path.dirname(bundle), { recursive: true });
    writeFileSync(bundle, '');
    expect(await locateSchemas({ cwd: '/work', env, region: 'eu-west-1' })).toBe(bundle);
    expect(await locateSchemas({ cwd: '/work', env: { ...env, SERVICE_PIPELINES_SCHEMAS: 'from-env' }, region: 'eu-west-1' })).toBe(path.resolve('/work', 'from-env'));
    expect(await locateSchemas({ schemas: 'given.zip', cwd: '/work', env: { ...env, SERVICE_PIPELINES_SCHEMAS: 'from-env' }, region: 'eu-west-1' })).toBe(path.resolve('/work', 'given.zip'));
  });
});

describe.skipIf(!hasSharedSchemas)(`updateSchemaCache from a local HTTP server${NEEDS_SCHEMAS}`, () => {
  let server: Server;
  let base: string;
  let bundle: Buffer;
  const requests: string[] = [];

  beforeAll(async () => {
    const types = ['AWS::SQS::Queue', 'AWS::SNS::Topic'];
    bundle = readFileSync(writeZip(path.join(tempDir(), 'bundle.zip'), Object.fromEntries(types.map((t) => [schemaFileOf(t), readFileSync(path.join(SHARED_SCHEMAS, schemaFileOf(t)))]))));
    server = createServer((request, response) => {
      requests.push(request.url ?? '');
      if (request.url === '/us-east-1/CloudformationSchema.zip') response.writeHead(200, { 'content-type': 'application/zip' }).end(bundle);
      else if (request.url === '/garbage.zip') response.writeHead(200).end('<html>not a zip</html>');
      else response.writeHead(404, 'Not Found').end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('GIVEN a served bundle WHEN the cache is updated THEN the zip is cached for the region and loads as a registry', async () => {
    const cacheDir = tempDir();
    expect(await hasCachedSchemaBundle(cacheDir, 'us-east-1')).toBe(false);
    const update = await updateSchemaCache({ region: 'us-east-1', cacheDir, fetch: (url) => fetch(url), url: `${base}/us-east-1/CloudformationSchema.zip` });
    expect(update).toEqual({ file: cachedSchemaBundle(cacheDir, 'us-east-1'), url: `${base}/us-east-1/CloudformationSchema.zip`, bytes: bundle.length, schemas: 2 });
    expect(await hasCachedSchemaBundle(cacheDir, 'us-east-1')).toBe(true);
    const registry = await loadSchemaRegistry(update.file, { arnTemplates: false });
    expect(registry.typeNames().sort()).toEqual(['AWS::SNS::Topic', 'AWS::SQS::Queue']);
  });

  it('GIVEN no URL WHEN the cache is updated THEN AWS\'s URL for the region is fetched, through the injected fetch', async () => {
    const fetched: string[] = [];
    const update = await updateSchemaCache({
      region: 'us-east-1',
      cacheDir: tempDir(),
      fetch: (url) => {
        fetched.push(url);
        return fetch(`${base}/us-east-1/CloudformationSchema.zip`);
      },
    });
    expect(fetched).toEqual(['https://schema.cloudformation.us-east-1.amazonaws.com/CloudformationSchema.zip']);
    expect(update.schemas).toBe(2);
  });

  it('GIVEN a cached bundle WHEN a download fails or serves something else THEN the cached bundle is kept as it was, and no partial file is left', async () => {
    const cacheDir = tempDir();
    await updateSchemaCache({ region: 'us-east-1', cacheDir, fetch: (url) => fetch(url), url: `${base}/us-east-1/CloudformationSchema.zip` });
    const cached = cachedSchemaBundle(cacheDir, 'us-east-1');

    const missing = await updateSchemaCache({ region: 'us-east-1', cacheDir, fetch: (url) => fetch(url), url: `${base}/missing.zip` }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(FailureError);
    expect((missing as Error).message).toContain('HTTP 404 Not Found');

    const garbage = await updateSchemaCache({ region: 'us-east-1', cacheDir, fetch: (url) => fetch(url), url: `${base}/garbage.zip` }).catch((e: unknown) => e);
    expect(garbage).toBeInstanceOf(InputError);
    expect((garbage as Error).message).toContain('is not a CloudFormation schema bundle');

    const unreachable = await updateSchemaCache({ region: 'us-east-1', cacheDir, fetch: (url) => fetch(url), url: 'http://127.0.0.1:9/none.zip' }).catch((e: unknown) => e);
    expect(unreachable).toBeInstanceOf(FailureError);

    expect(readFileSync(cached).equals(bundle)).toBe(true);
    expect(existsSync(`${cached}.${process.pid}.download`)).toBe(false);
  });

  it('GIVEN the CLI WHEN "permissions update --url" runs THEN the bundle lands in the user cache and "permissions" uses it without --schemas', async () => {
    const { runCli } = await import('../support/cli.js');
    const cache = tempDir();
    const { SERVICE_PIPELINES_SCHEMAS: _ignored, ...inherited } = process.env;
    const env = { ...inherited, XDG_CACHE_HOME: cache };
    const update = await runCli(['permissions', 'update', '--region', 'us-east-1', '--url', `${base}/us-east-1/CloudformationSchema.zip`], { env });
    expect(update.stderr).toBe('');
    expect(update.exitCode).toBe(0);
    expect(update.stdout).toContain('Cached 2 resource schemas');
    expect(existsSync(path.join(cache, 'service-pipelines', 'cloudformation-schemas', 'us-east-1', 'CloudformationSchema.zip'))).toBe(true);

    const template = path.join(tempDir(), 'queue.json');
    writeFileSync(template, JSON.stringify({ Resources: { Jobs: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'jobs' } } } }));
    const run = await runCli(['permissions', template, '--json', '--account', '123456789012'], { env });
    expect(run.exitCode).toBe(0);
    const policy = JSON.parse(run.stdout) as { schemas: string; statements: { statement: { Action: string[]; Resource: string[] } }[] };
    expect(policy.schemas).toBe(path.join(cache, 'service-pipelines', 'cloudformation-schemas', 'us-east-1', 'CloudformationSchema.zip'));
    expect(policy.statements.find((s) => s.statement.Action.includes('sqs:CreateQueue'))!.statement.Resource).toEqual(['arn:aws:sqs:us-east-1:123456789012:jobs']);
  });

  it('GIVEN a bad region or URL WHEN "permissions update" runs THEN exit 2 before anything is downloaded', async () => {
    const { runCli } = await import('../support/cli.js');
    const before = requests.length;
    const env = { ...process.env, XDG_CACHE_HOME: tempDir() };
    expect((await runCli(['permissions', 'update', '--region', 'mars-1'], { env })).exitCode).toBe(2);
    expect((await runCli(['permissions', 'update', '--url', 'ftp://x/y.zip'], { env })).exitCode).toBe(2);
    expect(requests.length).toBe(before);
  });
});
