/**
 * The name a service deploys under, read from its serverless.yml where the pipelines config is
 * loaded: a pipeline named `http-dynamodb` whose serverless.yml says
 * `service: serverless-http-api-dynamodb` deploys the stacks `serverless-http-api-dynamodb-<env>`.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PlansDocument } from '../../src/model/plan-schema.js';
import { runCli } from '../steps/support.js';

function project(serverlessYml: string | undefined, service: Record<string, unknown> = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'sp-names-'));
  mkdirSync(path.join(dir, 'svc'));
  if (serverlessYml !== undefined) writeFileSync(path.join(dir, 'svc', 'serverless.yml'), serverlessYml);
  writeFileSync(
    path.join(dir, 'pipelines.config.json'),
    JSON.stringify({
      cicd: { account: '111111111111', region: 'us-east-1' },
      environments: [
        { name: 'dev', account: '222222222222', region: 'us-east-1' },
        { name: 'prod', account: '444444444444', region: 'us-east-1' },
      ],
      services: [{ name: 'http-dynamodb', source: { path: './svc' }, ...service }],
    }),
  );
  return dir;
}

async function plan(dir: string): Promise<{ code: number; stderr: string; document?: PlansDocument }> {
  const run = await runCli(['plan', 'http-dynamodb', '--config', 'pipelines.config.json', '--json'], { cwd: dir, env: { PATH: process.env.PATH ?? '' } });
  return { code: run.code, stderr: run.stderr, ...(run.code === 0 ? { document: JSON.parse(run.stdout) as PlansDocument } : {}) };
}

describe('the name a service deploys under', () => {
  it("GIVEN serverless.yml's service differs from the pipeline's name WHEN planned THEN the stacks are named after serverless.yml, the roles after the pipeline", async () => {
    const { code, document } = await plan(project('service: serverless-http-api-dynamodb\nprovider:\n  name: aws\n'));
    expect(code).toBe(0);
    const main = document!.pipelines[0]!;
    expect(main.serverlessService).toBe('serverless-http-api-dynamodb');
    expect(main.environments.map((e) => e.stackName)).toEqual(['serverless-http-api-dynamodb-dev', 'serverless-http-api-dynamodb-prod']);
    expect(main.environments.map((e) => e.deployerRoleName)).toEqual(['http-dynamodb-dev-deployer', 'http-dynamodb-prod-deployer']);
  });

  it('GIVEN a serverless name longer than 32 characters WHEN planned THEN it is taken as it is', async () => {
    const long = 'serverless-http-api-dynamodb-orders-and-invoices';
    const { code, document } = await plan(project(`service: ${long}\n`));
    expect(code).toBe(0);
    expect(document!.pipelines[0]!.environments[0]!.stackName).toBe(`${long}-dev`);
  });

  it('GIVEN serverlessService in the config WHEN planned THEN the config wins over serverless.yml', async () => {
    const { document } = await plan(project('service: from-the-yml\n', { serverlessService: 'from-the-config' }));
    expect(document!.pipelines[0]!.serverlessService).toBe('from-the-config');
  });

  it("GIVEN a `service:` that is a variable WHEN planned THEN exit 2 names serverless.yml's line and the config key to set", async () => {
    const dir = project('# a comment\nservice: ${env:SERVICE_NAME}\n');
    const { code, stderr } = await plan(dir);
    expect(code).toBe(2);
    expect(stderr).toContain(`${path.join(dir, 'svc', 'serverless.yml')}:2`);
    expect(stderr).toContain('set services[0].serverlessService in the pipelines config');
  });

  it('GIVEN a custom provider.stackName WHEN planned THEN exit 2 says the stacks must be <service>-<environment>', async () => {
    const { code, stderr } = await plan(project('service: svc-name\nprovider:\n  name: aws\n  stackName: my-own-stack\n'));
    expect(code).toBe(2);
    expect(stderr).toMatch(/serverless\.yml:4: provider\.stackName \("my-own-stack"\) is not supported/);
  });

  it("GIVEN provider.stackName written as the framework's default WHEN planned THEN it is accepted", async () => {
    const { code, document } = await plan(project("service: svc-name\nprovider:\n  name: aws\n  stackName: ${self:service}-${opt:stage, 'dev'}\n"));
    expect(code).toBe(0);
    expect(document!.pipelines[0]!.environments[1]!.stackName).toBe('svc-name-prod');
  });

  it('GIVEN no serverless config at source.path WHEN planned THEN the pipeline name stays the default', async () => {
    const { document } = await plan(project(undefined));
    expect(document!.pipelines[0]!.serverlessService).toBe('http-dynamodb');
  });
});
