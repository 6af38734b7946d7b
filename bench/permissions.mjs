// Benchmark of deploy-permission inference.
//
//   npm run build && node bench/permissions.mjs [--schemas DIR|ZIP] [--package DIR] [--resources N]
//
// Measures: loading the schemas (resource schemas, IAM data, ARN templates), inference on a
// generated template of N resources (default 500), the whole `permissions` command on that
// template (what a user runs), and the size of real services' policies against IAM's limits:
// the checked-in osls package of test/permissions/fixtures, and the example service's (when
// --package points at its `osls package` output).
import { spawnSync } from 'node:child_process';
import { readFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { median } from './support.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    schemas: { type: 'string', default: join(root, '..', 'shared', 'data', 'cloudformation-schemas') },
    package: { type: 'string' },
    resources: { type: 'string', default: '500' },
    runs: { type: 'string', default: '5' },
  },
});
const { loadSchemaRegistry, inferDeployPolicy, IAM_POLICY_LIMITS } = await import(join(root, 'dist', 'permissions', 'index.js'));
const { readSchemas } = await import(join(root, 'dist', 'permissions', 'schema-registry.js'));

// Wall time, and CPU time (user + system) which a busy machine inflates less.
let cpuStart = process.cpuUsage();
const ms = (start) => {
  const cpu = process.cpuUsage(cpuStart);
  cpuStart = process.cpuUsage();
  return `${(performance.now() - start).toFixed(0)} ms (cpu ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms)`;
};

let start = performance.now();
cpuStart = process.cpuUsage();
await readSchemas(values.schemas);
console.log(`read and parse the schemas (${values.schemas}): ${ms(start)}`);
start = performance.now();
cpuStart = process.cpuUsage();
await loadSchemaRegistry(values.schemas, { arnTemplates: false });
console.log(`load the registry without ARN templates (schemas + IAM data of the services they name): ${ms(start)}`);
start = performance.now();
cpuStart = process.cpuUsage();
const registry = await loadSchemaRegistry(values.schemas);
console.log(`load the registry with ARN templates (@aws-cdk/aws-service-spec; IAM data already cached): ${ms(start)}`);
console.log(`  ${registry.size} resource types`);

const count = Number(values.resources);
const template = generatedTemplate(count);
const options = {
  registry,
  stackName: 'bench-service-dev',
  region: 'us-east-1',
  account: '123456789012',
  permissionsBoundaryArn: 'arn:aws:iam::123456789012:policy/bench-service-dev-boundary',
};
inferDeployPolicy(template, options); // warm-up
const times = [];
const cpuTimes = [];
let result;
for (let run = 0; run < Number(values.runs); run++) {
  start = performance.now();
  const cpu = process.cpuUsage();
  result = inferDeployPolicy(template, options);
  times.push(performance.now() - start);
  const used = process.cpuUsage(cpu);
  cpuTimes.push((used.user + used.system) / 1000);
}
console.log(
  `infer a ${Object.keys(template.Resources).length}-resource template: median ${median(times).toFixed(0)} ms (cpu ${median(cpuTimes).toFixed(0)} ms), ` +
    `max ${Math.max(...times).toFixed(0)} ms over ${times.length} runs (target: under 1000 ms)`,
);
console.log(`  ${result.statements.length} statements in ${result.documents.length} policies, sizes ${result.sizes.documents.join(', ')} (limit ${IAM_POLICY_LIMITS.managedPolicy} each)`);

// The whole command, as a user runs it: start-up, schema loading, inference, output.
const scratch = mkdtempSync(join(tmpdir(), 'sp-bench-permissions-'));
const templateFile = join(scratch, 'bench.template.json');
writeFileSync(templateFile, JSON.stringify(template));
const wall = [];
for (let run = 0; run < 3; run++) {
  start = performance.now();
  const cli = spawnSync(process.execPath, [join(root, 'bin', 'service-pipelines.js'), 'permissions', templateFile, '--schemas', values.schemas, '--account', '123456789012', '--json'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  if (cli.status !== 0) throw new Error(`permissions failed: ${cli.stderr}`);
  wall.push(performance.now() - start);
}
rmSync(scratch, { recursive: true, force: true });
console.log(`the whole "permissions" command on it (start-up, schemas, inference, JSON): median ${median(wall).toFixed(0)} ms over ${wall.length} runs`);

const fixture = join(root, 'test', 'permissions', 'fixtures', 'osls-http-api-dynamodb', 'cloudformation-template-update-stack.json');
const real = inferDeployPolicy(JSON.parse(readFileSync(fixture, 'utf8')), {
  ...options,
  stackName: 'serverless-http-api-dynamodb-events-prod',
  region: 'eu-west-1',
  permissionsBoundaryArn: 'arn:aws:iam::123456789012:policy/http-dynamodb-prod-boundary',
});
const actions = new Set(real.documents.flatMap((d) => d.Statement.filter((st) => st.Effect === 'Allow').flatMap((st) => st.Action)));
console.log(
  `osls package of an HTTP API + DynamoDB + SQS + schedule + S3 + SNS service (${Object.keys(JSON.parse(readFileSync(fixture, 'utf8')).Resources).length} resources): ` +
    `${actions.size} actions allowed, ${real.omitted?.length ?? 0} listed as not needed, in ${real.documents.length} managed policies of ${real.sizes.documents.join(' + ')} = ${real.sizes.total} characters`,
);

if (values.package) {
  const file = join(values.package, 'cloudformation-template-update-stack.json');
  if (!existsSync(file)) throw new Error(`no ${file}: package the example first (osls package --stage dev --package DIR)`);
  const example = inferDeployPolicy(JSON.parse(readFileSync(file, 'utf8')), {
    ...options,
    stackName: 'ac-rest-api-dev',
    permissionsBoundaryArn: 'arn:aws:iam::123456789012:policy/ac-rest-api-dev-boundary',
  });
  console.log(
    `example service policy: ${example.documents.length} managed policies of ${example.sizes.documents.join(' + ')} = ${example.sizes.total} characters ` +
      `(limits: ${IAM_POLICY_LIMITS.managedPolicy} per managed policy, ${IAM_POLICY_LIMITS.roleInlineAggregate} for a role's inline policies together)`,
  );
}

/** A service of `count` resources: functions with their roles, log groups, queues, tables, topics, rules and API routes. */
function generatedTemplate(count) {
  const resources = {
    ServerlessDeploymentBucket: { Type: 'AWS::S3::Bucket', Properties: {} },
    Api: { Type: 'AWS::ApiGateway::RestApi', Properties: { Name: 'bench-api' } },
  };
  for (let i = 0; Object.keys(resources).length < count; i++) {
    const add = (id, resource) => {
      if (Object.keys(resources).length < count) resources[id] = resource;
    };
    add(`Role${i}`, {
      Type: 'AWS::IAM::Role',
      Properties: {
        RoleName: { 'Fn::Sub': `\${AWS::StackName}-fn${i}-role` },
        AssumeRolePolicyDocument: { Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] },
      },
    });
    add(`Fn${i}`, {
      Type: 'AWS::Lambda::Function',
      Properties: {
        FunctionName: { 'Fn::Join': ['-', [{ Ref: 'AWS::StackName' }, `fn${i}`]] },
        Role: { 'Fn::GetAtt': [`Role${i}`, 'Arn'] },
        Code: { S3Bucket: { Ref: 'ServerlessDeploymentBucket' }, S3Key: 'code.zip' },
        Handler: 'index.handler',
        Runtime: 'nodejs20.x',
      },
    });
    add(`Fn${i}LogGroup`, { Type: 'AWS::Logs::LogGroup', Properties: { LogGroupName: { 'Fn::Sub': `/aws/lambda/\${AWS::StackName}-fn${i}` } } });
    add(`Queue${i}`, { Type: 'AWS::SQS::Queue', Properties: {} });
    add(`Table${i}`, { Type: 'AWS::DynamoDB::Table', Properties: { TableName: `bench-table-${i}` } });
    add(`Topic${i}`, { Type: 'AWS::SNS::Topic', Properties: {} });
    add(`Rule${i}`, { Type: 'AWS::Events::Rule', Properties: { ScheduleExpression: 'rate(1 hour)', Targets: [{ Arn: { 'Fn::GetAtt': [`Fn${i}`, 'Arn'] }, Id: 'fn' }] } });
    add(`Route${i}`, { Type: 'AWS::ApiGateway::Resource', Properties: { RestApiId: { Ref: 'Api' }, ParentId: { 'Fn::GetAtt': ['Api', 'RootResourceId'] }, PathPart: `r${i}` } });
    add(`Permission${i}`, { Type: 'AWS::Lambda::Permission', Properties: { FunctionName: { 'Fn::GetAtt': [`Fn${i}`, 'Arn'] }, Action: 'lambda:InvokeFunction', Principal: 'apigateway.amazonaws.com' } });
  }
  return { AWSTemplateFormatVersion: '2010-09-09', Resources: resources };
}
