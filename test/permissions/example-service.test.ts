/**
 * The example service, packaged for real (`npm ci`, then `osls package`, offline and without
 * AWS credentials), and its inferred deploy policy, through the library and the CLI.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { grantsOf, inferDeployPolicy, loadSchemaRegistry, retargetStage, type InferredPolicy, type PolicyStatement, type SchemaRegistry } from '../../src/permissions/index.js';
import { runCli } from '../support/cli.js';
import { actionsOf, copySchemas, hasSharedSchemas, NEEDS_SCHEMAS, SHARED_SCHEMAS, tempDir } from './helpers.js';
import { decide, escalationAttempts } from './simulate.js';

const EXAMPLE = path.resolve(import.meta.dirname, '../../examples/ac-rest-api');
const hasExample = existsSync(path.join(EXAMPLE, 'serverless.yml'));
const ACCOUNT = '123456789012';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/ac-rest-api-dev-us-east-1-lambdaRole`;
const BOUNDARY = `arn:aws:iam::${ACCOUNT}:policy/ac-rest-api-dev-boundary`;
/** The types the example's template holds. */
const EXAMPLE_TYPES = [
  'AWS::S3::Bucket',
  'AWS::S3::BucketPolicy',
  'AWS::Logs::LogGroup',
  'AWS::IAM::Role',
  'AWS::Lambda::Function',
  'AWS::Lambda::Version',
  'AWS::Lambda::Permission',
  'AWS::ApiGateway::RestApi',
  'AWS::ApiGateway::Resource',
  'AWS::ApiGateway::Method',
  'AWS::ApiGateway::Deployment',
];

const run = (command: string, args: string[], cwd: string) => execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SLS_TELEMETRY_DISABLED: '1' } });

describe.skipIf(!hasSharedSchemas || !hasExample)(`the example service's deploy policy${NEEDS_SCHEMAS}${hasExample ? '' : ' (skipped: examples/ac-rest-api is absent)'}`, () => {
  let service: string;
  let packaged: string;
  let grown: string;
  let schemas: string;
  let policy: InferredPolicy;
  let registry: SchemaRegistry;
  let template: unknown;

  beforeAll(async () => {
    service = path.join(tempDir('sp-example-'), 'ac-rest-api');
    cpSync(EXAMPLE, service, { recursive: true, filter: (source) => !/[\\/](node_modules|\.serverless|\.pipeline)$/.test(source) });
    run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], service);
    packaged = path.join(service, '.pipeline', 'dev');
    run('npx', ['--no-install', 'osls', 'package', '--stage', 'dev', '--package', packaged], service);
    // What the pipeline's Package action writes: one bundle, and stages/<env>/ for each environment.
    const stepPackage = await runCli(['step', 'package', '--stage', 'dev@us-east-1', '--stage', 'prod@eu-west-1'], { cwd: service, env: { PATH: process.env['PATH'], HOME: process.env['HOME'], SLS_TELEMETRY_DISABLED: '1' } });
    expect(stepPackage.exitCode, stepPackage.stderr).toBe(0);
    // The same service with one more function: what a reviewer should see grow.
    const yml = readFileSync(path.join(service, 'serverless.yml'), 'utf8');
    writeFileSync(path.join(service, 'serverless.yml'), yml.replace(/^functions:\n/m, 'functions:\n  bye:\n    handler: src/handler.hello\n'));
    grown = path.join(service, '.pipeline', 'dev-grown');
    run('npx', ['--no-install', 'osls', 'package', '--stage', 'dev', '--package', grown], service);

    schemas = copySchemas(EXAMPLE_TYPES, path.join(tempDir(), 'schemas'));
    registry = await loadSchemaRegistry(SHARED_SCHEMAS);
    template = JSON.parse(readFileSync(path.join(packaged, 'cloudformation-template-update-stack.json'), 'utf8'));
    policy = inferDeployPolicy(template, { registry, stackName: 'ac-rest-api-dev', region: 'us-east-1', account: ACCOUNT, permissionsBoundaryArn: BOUNDARY });
  }, 600_000);

  it('GIVEN the packaged template WHEN inferred THEN no allowed action is *, none is iam:*, and iam:PassRole is never on *', () => {
    const actions = grantsOf(policy.documents).map((g) => g.action);
    expect(new Set(actions).size).toBeGreaterThan(50);
    for (const action of actions) expect(action).toMatch(/^[a-z0-9-]+:[A-Za-z0-9]+$/);
    const statements: PolicyStatement[] = policy.documents.flatMap((d) => d.Statement).filter((s) => s.Effect === 'Allow');
    for (const statement of statements) {
      const resources = typeof statement.Resource === 'string' ? [statement.Resource] : statement.Resource;
      if (actionsOf([{ Statement: [statement] }]).includes('iam:PassRole')) {
        expect(resources).toEqual([ROLE]);
        expect(statement.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'lambda.amazonaws.com' } });
      }
      if (resources.includes('*')) expect(actionsOf([{ Statement: [statement] }]).every((a) => !a.startsWith('iam:'))).toBe(true);
    }
    expect(grantsOf(policy.documents).filter((g) => g.action === 'iam:PassRole')).toHaveLength(1);
  });

  it('GIVEN the packaged template WHEN inferred THEN the function, role, log group, stack and deployment bucket are scoped by name', () => {
    const on = (action: string) => grantsOf(policy.documents).filter((g) => g.action === action).map((g) => g.resource).sort();
    expect(on('lambda:UpdateFunctionCode')).toEqual([`arn:aws:lambda:us-east-1:${ACCOUNT}:function:ac-rest-api-dev-hello`]);
    expect(on('iam:PutRolePolicy')).toEqual([ROLE]);
    expect(on('logs:PutRetentionPolicy')).toEqual([`arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/aws/lambda/ac-rest-api-dev-hello`, `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/aws/lambda/ac-rest-api-dev-hello:*`]);
    expect(on('cloudformation:ExecuteChangeSet')).toEqual([`arn:aws:cloudformation:us-east-1:${ACCOUNT}:stack/ac-rest-api-dev/*`]);
    expect(on('s3:PutObject')).toEqual(['arn:aws:s3:::ac-rest-api-dev-serverlessdeploymentbucket-*/*']);
    expect(on('s3:GetObject')).toEqual(['arn:aws:s3:::ac-rest-api-dev-serverlessdeploymentbucket-*/*']);
  });

  it('GIVEN the packaged template WHEN inferred THEN each policy fits a managed policy and all fit a role\'s inline policies together', () => {
    for (const size of policy.sizes.documents) expect(size).toBeLessThanOrEqual(6_144);
    expect(policy.sizes.total).toBeLessThanOrEqual(10_240);
  });

  it('GIVEN the dev package retargeted to prod WHEN inferred for the prod stack THEN every name is the prod one', () => {
    const prod = inferDeployPolicy(retargetStage(template, { service: 'ac-rest-api', from: 'dev', to: 'prod' }), { registry, stackName: 'ac-rest-api-prod', region: 'us-east-1', account: ACCOUNT });
    const resources = grantsOf(prod.documents).map((g) => g.resource);
    expect(resources).toContain(`arn:aws:lambda:us-east-1:${ACCOUNT}:function:ac-rest-api-prod-hello`);
    expect(resources).toContain(`arn:aws:iam::${ACCOUNT}:role/ac-rest-api-prod-us-east-1-lambdaRole`);
    expect(resources).toContain('arn:aws:s3:::ac-rest-api-prod-serverlessdeploymentbucket-*/*');
    expect(resources.filter((r) => r.includes('-dev'))).toEqual([]);
  });

  it('GIVEN the package folder WHEN "permissions" runs THEN the summary names the stack from serverless-state.json and explains each *', async () => {
    const result = await runCli(['permissions', packaged, '--schemas', schemas, '--account', ACCOUNT]);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^Deploy policy for stack ac-rest-api-dev \(region us-east-1, account 123456789012\)/);
    expect(result.stdout).toContain(`condition: {"StringEquals":{"iam:PassedToService":"lambda.amazonaws.com"}}`);
    expect(result.stdout).toContain('why *: *: IAM supports no resource-level permissions for these actions');
    expect(result.stdout).toContain('Dropped:');
  });

  it('GIVEN a grown service WHEN "permissions --against" the old package runs THEN the new function\'s permissions are listed, nothing else', async () => {
    const text = await runCli(['permissions', grown, '--against', packaged, '--schemas', schemas, '--account', ACCOUNT]);
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toContain(`on arn:aws:lambda:us-east-1:${ACCOUNT}:function:ac-rest-api-dev-bye`);
    expect(text.stdout).toContain(`on arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/aws/lambda/ac-rest-api-dev-bye`);

    const json = await runCli(['permissions', grown, '--against', packaged, '--schemas', schemas, '--account', ACCOUNT, '--json']);
    const { diff } = JSON.parse(json.stdout) as { diff: { added: { action: string; resource: string }[]; removed: unknown[] } };
    expect(diff.removed).toEqual([]);
    expect(diff.added.length).toBeGreaterThan(0);
    for (const grant of diff.added) expect(grant.resource).toMatch(/ac-rest-api-dev-bye/);
    expect(diff.added.map((g) => g.action)).toContain('lambda:CreateFunction');
  });

  it('GIVEN the inferred policy of the example WHEN its deployer tries to raise its rights THEN IAM denies every attempt, and allows the deploy\'s own role calls', async () => {
    const deployer = `arn:aws:iam::${ACCOUNT}:role/ac-rest-api-dev-deployer`;
    for (const [attack, request] of escalationAttempts({ deployer, boundary: BOUNDARY, serviceRole: ROLE })) {
      expect(await decide(policy.documents, request, deployer, ACCOUNT), attack).not.toBe('Allowed');
    }
    expect(await decide(policy.documents, { action: 'iam:CreateRole', resource: ROLE, context: { 'iam:PermissionsBoundary': BOUNDARY } }, deployer, ACCOUNT)).toBe('Allowed');
    expect(await decide(policy.documents, { action: 'iam:PassRole', resource: ROLE, context: { 'iam:PassedToService': 'lambda.amazonaws.com' } }, deployer, ACCOUNT)).toBe('Allowed');
  });

  it('GIVEN the Package that "step package" wrote for dev and prod WHEN "permissions" runs on it THEN it asks which environment, naming their folders; with --stage prod, the prod stack', async () => {
    const packageDir = path.join(service, '.pipeline', 'Package');
    const ambiguous = await runCli(['permissions', packageDir, '--schemas', schemas, '--account', ACCOUNT]);
    expect(ambiguous.exitCode).toBe(2);
    expect(ambiguous.stderr).toContain(`holds the package of 2 environments (dev, prod)`);
    expect(ambiguous.stderr).toContain(`${path.join(packageDir, 'stages', 'dev')}, ${path.join(packageDir, 'stages', 'prod')}`);
    expect(ambiguous.stdout).toBe('');

    const prod = await runCli(['permissions', packageDir, '--stage', 'prod', '--schemas', schemas, '--account', ACCOUNT]);
    expect(prod.stderr).toBe('');
    expect(prod.stdout).toMatch(/^Deploy policy for stack ac-rest-api-prod \(region eu-west-1, account 123456789012\)/);
    expect(prod.stdout).toContain(`arn:aws:lambda:eu-west-1:${ACCOUNT}:function:ac-rest-api-prod-hello`);
    expect(prod.stdout).not.toContain('ac-rest-api-dev');

    const folder = await runCli(['permissions', path.join(packageDir, 'stages', 'prod'), '--schemas', schemas, '--account', ACCOUNT]);
    expect(folder.stdout).toMatch(/^Deploy policy for stack ac-rest-api-prod \(region eu-west-1/);
  });

  it('GIVEN bad input WHEN "permissions" runs THEN exit 2, the problem on stderr, nothing on stdout', async () => {
    const folder = tempDir();
    writeFileSync(path.join(folder, 'template.yml'), 'Resources:\n  Q:\n    Type: AWS::SQS::Queue\n');
    writeFileSync(path.join(folder, 'other.json'), '{"Parameters":{}}');
    const cases: [string[], RegExp][] = [
      [['permissions', path.join(folder, 'template.yml'), '--schemas', schemas], /template\.yml is not JSON/],
      [['permissions', path.join(folder, 'other.json'), '--schemas', schemas], /other\.json is not a CloudFormation template/],
      [['permissions', packaged, '--schemas', path.join(folder, 'no-schemas')], /the schemas were not found/],
      [['permissions', folder, '--schemas', schemas], /no single CloudFormation template in/],
      [['permissions', packaged, '--schemas', schemas, '--region', 'moon-1'], /--region: "moon-1" is not an AWS region/],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(args);
      expect(result.exitCode, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stdout).toBe('');
    }
  });
});
