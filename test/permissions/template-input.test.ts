import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { App, Stage, Stack } from 'aws-cdk-lib';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/model/errors.js';
import { readTemplateInput, retargetStage } from '../../src/permissions/index.js';
import { tempDir } from './helpers.js';

const template = { Resources: { Q: { Type: 'AWS::SQS::Queue', Properties: {} } } };

function serverlessPackage(state: unknown): string {
  const folder = tempDir();
  writeFileSync(path.join(folder, 'cloudformation-template-update-stack.json'), JSON.stringify(template));
  writeFileSync(path.join(folder, 'serverless-state.json'), JSON.stringify(state));
  return folder;
}

describe('readTemplateInput', () => {
  it('GIVEN an osls package folder WHEN read THEN the template and the stack name, region and deployment bucket of serverless-state.json', async () => {
    const folder = serverlessPackage({ service: { service: 'orders', provider: { stage: 'prod', region: 'eu-west-1', deploymentBucket: { name: 'shared-deploys' } } } });
    expect(await readTemplateInput(folder)).toEqual({
      file: path.join(folder, 'cloudformation-template-update-stack.json'),
      template,
      stackName: 'orders-prod',
      region: 'eu-west-1',
      deploymentBucket: 'shared-deploys',
      service: 'orders',
      stage: 'prod',
    });
  });

  it('GIVEN the packaged template file itself, with a custom stack name WHEN read THEN its folder still tells the stack', async () => {
    const folder = serverlessPackage({ service: { service: { name: 'orders' }, provider: { stage: 'dev', stackName: 'orders-api', region: 'us-east-2' } } });
    const input = await readTemplateInput(path.join(folder, 'cloudformation-template-update-stack.json'));
    expect([input.stackName, input.region, input.deploymentBucket]).toEqual(['orders-api', 'us-east-2', undefined]);
  });

  it('GIVEN the real osls package of a prod stage whose serverless.yml sets no stage WHEN read THEN the stage and stack are prod, not the dev osls records', async () => {
    // osls writes provider.stage: dev into serverless-state.json whatever --stage was; where it puts the package tells the truth.
    const fixture = path.join(import.meta.dirname, 'fixtures', 'osls-http-api-dynamodb');
    const input = await readTemplateInput(fixture);
    expect([input.service, input.stage, input.stackName, input.region]).toEqual(['serverless-http-api-dynamodb-events', 'prod', 'serverless-http-api-dynamodb-events-prod', 'eu-west-1']);
  });

  it('GIVEN a Package of two environments (step package output) WHEN read with a stage, or without THEN that stage\'s template; without, the error names each stages/<env> folder', async () => {
    const root = tempDir();
    const fixture = path.join(import.meta.dirname, 'fixtures', 'osls-http-api-dynamodb');
    for (const stage of ['dev', 'prod']) cpSync(fixture, path.join(root, 'Package', 'stages', stage), { recursive: true });
    const stages = ['dev', 'prod'].map((name) => ({ name, region: 'eu-west-1', directory: `stages/${name}`, stackName: `serverless-http-api-dynamodb-events-${name}` }));
    writeFileSync(path.join(root, 'Package', 'manifest.json'), JSON.stringify({ schemaVersion: 1, service: 'serverless-http-api-dynamodb-events', flavor: 'serverless', stages, files: {} }));
    const prod = await readTemplateInput(path.join(root, 'Package'), { stage: 'prod' });
    expect([prod.file, prod.stage, prod.stackName]).toEqual([path.join(root, 'Package', 'stages', 'prod', 'cloudformation-template-update-stack.json'), 'prod', 'serverless-http-api-dynamodb-events-prod']);
    const dev = await readTemplateInput(path.join(root, 'Package'), { stage: 'dev' });
    expect([dev.stage, dev.stackName]).toEqual(['dev', 'serverless-http-api-dynamodb-events-dev']);
    await expect(readTemplateInput(path.join(root, 'Package'))).rejects.toThrow(
      `give the environment (--stage dev) or its folder: ${path.join(root, 'Package', 'stages', 'dev')}, ${path.join(root, 'Package', 'stages', 'prod')}`,
    );
    await expect(readTemplateInput(path.join(root, 'Package'), { stage: 'staging' })).rejects.toThrow(/holds no package for the environment "staging"/);
  });

  it('GIVEN a cdk.out synthesized by aws-cdk-lib WHEN read THEN the stack name, account and region come from the assembly manifest, not the file name', async () => {
    const outdir = tempDir();
    const app = new App({ outdir, analyticsReporting: false });
    new Queue(new Stack(app, 'OrdersStack', { stackName: 'orders-prod', env: { account: '123456789012', region: 'eu-west-2' } }), 'Jobs');
    app.synth();
    const input = await readTemplateInput(outdir);
    expect([path.basename(input.file), input.stackName, input.account, input.region]).toEqual(['OrdersStack.template.json', 'orders-prod', '123456789012', 'eu-west-2']);
    // The template file named directly: its folder's manifest still tells the stack.
    expect((await readTemplateInput(input.file)).stackName).toBe('orders-prod');
  });

  it('GIVEN a cdk.out whose only stack is in a stage (a nested assembly) and has no account WHEN read THEN found through the nested manifest, with no account', async () => {
    const outdir = tempDir();
    const app = new App({ outdir, analyticsReporting: false });
    new Queue(new Stack(new Stage(app, 'Prod'), 'Orders'), 'Jobs');
    app.synth();
    const input = await readTemplateInput(outdir);
    expect([input.stackName, input.account, input.region]).toEqual(['Prod-Orders', undefined, undefined]);
  });

  it('GIVEN a cdk.out with one stack, or with two WHEN read THEN the one is used, named after its file; two are refused by name', async () => {
    const out = tempDir();
    writeFileSync(path.join(out, 'OrdersStack.template.json'), JSON.stringify(template));
    writeFileSync(path.join(out, 'manifest.json'), '{}');
    expect(await readTemplateInput(out)).toMatchObject({ stackName: 'OrdersStack', template });
    writeFileSync(path.join(out, 'Other.template.json'), JSON.stringify(template));
    await expect(readTemplateInput(out)).rejects.toThrow(/several templates \(OrdersStack.template.json, Other.template.json\)/);
  });

  it('GIVEN a missing path or a file that is not JSON WHEN read THEN an InputError', async () => {
    const folder = tempDir();
    mkdirSync(path.join(folder, 'empty'));
    writeFileSync(path.join(folder, 'template.yaml'), 'Resources: {}');
    await expect(readTemplateInput(path.join(folder, 'missing.json'))).rejects.toThrow(InputError);
    await expect(readTemplateInput(path.join(folder, 'template.yaml'))).rejects.toThrow(/is not JSON.*convert YAML templates first/s);
    await expect(readTemplateInput(path.join(folder, 'empty'))).rejects.toThrow(/expected cloudformation-template-update-stack.json/);
  });
});

describe('retargetStage', () => {
  it('GIVEN a template packaged for dev WHEN retargeted to prod THEN the names the stage is baked into follow, and other strings stay', () => {
    const packaged = {
      Resources: {
        Fn: { Type: 'AWS::Lambda::Function', Properties: { FunctionName: 'orders-dev-create', Description: 'a development helper' } },
        Role: { Type: 'AWS::IAM::Role', Properties: { RoleName: { 'Fn::Join': ['-', ['orders', 'dev', { Ref: 'AWS::Region' }, 'lambdaRole']] } } },
        Api: { Type: 'AWS::ApiGateway::RestApi', Properties: { Name: 'dev-orders' } },
        Deployment: { Type: 'AWS::ApiGateway::Deployment', Properties: { StageName: 'dev' } },
      },
    };
    const prod = retargetStage(packaged, { service: 'orders', from: 'dev', to: 'prod' }) as typeof packaged;
    expect(prod.Resources.Fn.Properties).toEqual({ FunctionName: 'orders-prod-create', Description: 'a development helper' });
    expect(prod.Resources.Role.Properties.RoleName).toEqual({ 'Fn::Join': ['-', ['orders', 'prod', { Ref: 'AWS::Region' }, 'lambdaRole']] });
    expect(prod.Resources.Api.Properties.Name).toBe('prod-orders');
    expect(prod.Resources.Deployment.Properties.StageName).toBe('prod');
    expect(packaged.Resources.Fn.Properties.FunctionName).toBe('orders-dev-create');
  });
});
