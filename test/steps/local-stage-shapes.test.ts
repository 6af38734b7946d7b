/**
 * Local stages of services shaped as published ones are: an HTTP API (routes at the root), and a
 * service without HTTP events (a schedule), for which serverless-offline never prints "Server
 * ready". Each is the example service with another serverless.yml, deployed for real.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir } from 'node:fs/promises';
import { systemClock } from '../../src/runtime/clock.js';
import { nodeProcessTable } from '../../src/runtime/process.js';
import { stopServer } from '../../src/steps/local-server.js';
import { cleanEnv, copyExample, makeHome, runCli, tempDir, type CliRun } from './support.js';

const readJson = async <T>(file: string) => JSON.parse(await readFile(file, 'utf8')) as T;

/** The example with its `functions:` replaced, installed and packaged for dev. */
async function serviceWithFunctions(root: string, name: string, functions: string): Promise<{ dir: string; step: (args: string[], extra?: Record<string, string>) => Promise<CliRun> }> {
  const dir = await copyExample(path.join(root, name));
  const yml = await readFile(path.join(dir, 'serverless.yml'), 'utf8');
  await writeFile(path.join(dir, 'serverless.yml'), yml.replace('service: ac-rest-api', `service: ${name}`).replace(/functions:\n[\s\S]*?\nplugins:/, `functions:\n${functions}\nplugins:`));
  const home = path.join(root, '.service-pipelines');
  const step = (args: string[], extra: Record<string, string> = {}) =>
    runCli(['step', ...args], { cwd: dir, env: cleanEnv({ SERVICE_PIPELINES_HOME: home, SERVICE_NAME: name, SERVICE_PIPELINES_TARGET: 'local', SERVICE_PIPELINES_EXECUTION_ID: 'exec-shapes', ...extra }) });
  expect((await step(['install'])).code).toBe(0);
  const packaged = await step(['package', '--stage', 'dev@us-east-1']);
  expect(packaged.code, packaged.stderr).toBe(0);
  return { dir, step };
}

describe('local stages of services without a REST API', () => {
  let root: { dir: string; remove: () => Promise<void> };
  let home: string;

  beforeAll(async () => {
    root = await tempDir('shapes');
    home = await makeHome(root.dir);
  });

  afterAll(async () => {
    // Every server: `up` serves a stage for no execution.
    for (const service of home ? await readdir(path.join(home, 'stages')).catch(() => []) : []) {
      for (const environment of await readdir(path.join(home, 'stages', service))) {
        await stopServer(home, service, environment, { processTable: nodeProcessTable, clock: systemClock });
      }
    }
    await root?.remove();
  });

  it('GIVEN an HTTP API service WHEN deployed locally and served again by `up` THEN its URL is the root, where its routes answer', async () => {
    const { dir, step } = await serviceWithFunctions(root.dir, 'hello-http-api', '  hello:\n    handler: src/handler.hello\n    events:\n      - httpApi:\n          method: get\n          path: /hello\n');
    const deploy = await step(['deploy', '--stage', 'dev']);
    expect(deploy.code, deploy.stderr).toBe(0);
    const outputs = await readJson<Record<string, string>>(path.join(dir, '.pipeline', 'Outputs_dev', 'stack-outputs.json'));
    expect(Object.keys(outputs)).toEqual(['HttpApiUrl']);
    expect(outputs.HttpApiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(deploy.stdout).toContain(`serves ${outputs.HttpApiUrl} (pid`);

    const up = await runCli(['up', 'hello-http-api', 'dev', '--json'], { cwd: root.dir, env: cleanEnv() });
    expect(up.code, up.stderr).toBe(0);
    const [served] = (JSON.parse(up.stdout) as { stages: Array<{ url: string; outputs: Record<string, string> }> }).stages;
    expect(served!.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(served!.outputs).toEqual({ HttpApiUrl: served!.url });
    expect((await fetch(`${served!.url}/hello?name=Ada`)).status).toBe(200);

    const text = await runCli(['up', 'hello-http-api', 'dev'], { cwd: root.dir, env: cleanEnv() });
    expect(text.stdout).toMatch(/hello-http-api\/dev: release 1 at HttpApiUrl http:\/\/127\.0\.0\.1:\d+ {2}\(pid \d+\)/);
    expect(text.stdout).not.toMatch(/\/dev {2}\(pid/);
  }, 240_000);

  it('GIVEN a service with a schedule and no HTTP event WHEN deployed locally THEN it is ready, says what it emulates, and its function can be invoked', async () => {
    const { dir, step } = await serviceWithFunctions(root.dir, 'hello-schedule', '  tick:\n    handler: src/handler.hello\n    events:\n      - schedule: rate(1 day)\n      - sqs:\n          arn: arn:aws:sqs:us-east-1:222222222222:ticks\n');
    const started = Date.now();
    const deploy = await step(['deploy', '--stage', 'dev']);
    expect(deploy.code, deploy.stderr).toBe(0);
    // Ready as soon as the Lambda endpoint listens, not after the 60 s a "Server ready" wait would take.
    expect(Date.now() - started).toBeLessThan(55_000);
    expect(deploy.stdout).toContain('the local stage emulates tick: schedule rate(1 day)');
    expect(deploy.stdout).toContain('the local stage does NOT emulate tick: sqs ticks: nothing triggers these functions locally');
    // As in AWS: no HTTP event, no API URL.
    expect(await readJson(path.join(dir, '.pipeline', 'Outputs_dev', 'stack-outputs.json'))).toEqual({});
    expect(await readJson(path.join(dir, '.pipeline', 'Outputs_dev', 'functions.json'))).toMatchObject({ target: 'local', region: 'us-east-1', functions: { tick: 'hello-schedule-dev-tick' } });

    const invoked = await runCli(['invoke', 'tick', '--stage', 'dev', '--data', '{"queryStringParameters":{"name":"Ada"}}'], { cwd: dir, env: cleanEnv() });
    expect(invoked.code, invoked.stderr).toBe(0);
    const answer = JSON.parse(invoked.stdout) as { statusCode: number; body: string };
    expect(answer.statusCode).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ message: 'Hello, Ada!', stage: 'dev' });

    const unknown = await runCli(['invoke', 'nope', '--stage', 'dev'], { cwd: dir, env: cleanEnv() });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('the dev stage has no function "nope"');
    expect(unknown.stderr).toContain('its functions: tick');

  }, 240_000);
});
