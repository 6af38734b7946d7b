/**
 * `service-pipelines permissions` on a real osls package: the stage it was built for, the
 * permissions boundary it requires, and what `--against` shows of a change that adds IAM rights.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { hasSharedSchemas, NEEDS_SCHEMAS, SHARED_SCHEMAS, tempDir } from './helpers.js';

const FIXTURE = path.join(import.meta.dirname, 'fixtures', 'osls-http-api-dynamodb');
const ACCOUNT = '123456789012';
const STACK = 'serverless-http-api-dynamodb-events-prod';

describe.skipIf(!hasSharedSchemas)(`the permissions command${NEEDS_SCHEMAS}`, () => {
  let grown: string;

  beforeAll(() => {
    // The same service, one change later: its role gets AdministratorAccess and loses its table statement.
    grown = path.join(tempDir(), 'grown');
    cpSync(FIXTURE, grown, { recursive: true });
    const file = path.join(grown, 'cloudformation-template-update-stack.json');
    const template = JSON.parse(readFileSync(file, 'utf8'));
    const role = template.Resources.IamRoleLambdaExecution.Properties;
    role.ManagedPolicyArns = [{ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/AdministratorAccess']] }];
    role.Policies[0].PolicyDocument.Statement = role.Policies[0].PolicyDocument.Statement.filter((s: { Action: string[] }) => !s.Action.includes('dynamodb:GetItem'));
    writeFileSync(file, JSON.stringify(template, null, 2));
  });

  it('GIVEN a prod package whose serverless.yml sets no stage WHEN "permissions" runs THEN it names the prod stack, and the boundary with where its default comes from', async () => {
    const result = await runCli(['permissions', FIXTURE, '--schemas', SHARED_SCHEMAS, '--account', ACCOUNT]);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^Deploy policy for stack ${STACK} \\(region eu-west-1, account ${ACCOUNT}\\)\n`));
    expect(result.stdout).toContain(
      `Roles it creates or changes must carry the permissions boundary arn:aws:iam::${ACCOUNT}:policy/${STACK}-boundary (the default for a pipeline named serverless-http-api-dynamodb-events; give --permissions-boundary when the pipeline names the service otherwise)`,
    );
    expect(result.stdout).toContain(`cloudformation:UpdateStack`);
    expect(result.stdout).toContain(`stack/${STACK}/*`);
    expect(result.stdout).not.toContain('-dev');
    expect(result.stdout).toMatch(/Not granted: \d+ actions the schemas list that these resources do not need/);
    expect(result.stdout).toContain(`DenyDeployerAndBoundary denies 1 action on arn:aws:iam::${ACCOUNT}:role/${STACK}-deployer, arn:aws:iam::${ACCOUNT}:policy/${STACK}-deployer-*, arn:aws:iam::${ACCOUNT}:policy/${STACK}-boundary`);
  });

  it('GIVEN --permissions-boundary and --stage WHEN "permissions --json" runs THEN the role statements require that boundary, for the renamed stage, and the JSON says so', async () => {
    const boundary = `arn:aws:iam::${ACCOUNT}:policy/http-dynamodb-staging-boundary`;
    const result = await runCli(['permissions', FIXTURE, '--schemas', SHARED_SCHEMAS, '--account', ACCOUNT, '--stage', 'staging', '--permissions-boundary', boundary, '--json']);
    expect(result.exitCode).toBe(0);
    const json = JSON.parse(result.stdout) as { stackName: string; stage: string; permissionsBoundaryArn: string; warnings: string[]; documents: { Statement: { Action: string[]; Condition?: unknown }[] }[] };
    expect([json.stackName, json.stage, json.permissionsBoundaryArn]).toEqual(['serverless-http-api-dynamodb-events-staging', 'staging', boundary]);
    expect(json.warnings[0]).toBe('the package was made for stage prod: its names were renamed for staging');
    const createRole = json.documents.flatMap((d) => d.Statement).find((s) => s.Action.includes('iam:CreateRole'))!;
    expect(createRole.Condition).toEqual({ StringEquals: { 'iam:PermissionsBoundary': boundary } });
    expect(result.stdout).not.toContain('-prod');
  });

  it('GIVEN a change that attaches AdministratorAccess to a role WHEN "permissions --against" the old package runs THEN it is named as the growth it is, and the removed statement is listed', async () => {
    const result = await runCli(['permissions', grown, '--against', FIXTURE, '--schemas', SHARED_SCHEMAS, '--account', ACCOUNT]);
    expect(result.exitCode).toBe(0);
    const diff = result.stdout.slice(result.stdout.indexOf(`\n${path.join(grown, 'cloudformation-template-update-stack.json')} needs`));
    expect(diff).toContain('needs no new permission.');
    expect(diff).toContain('Its roles gain 1 right, 1 of them IAM growth to review:');
    expect(diff).toContain('  + IamRoleLambdaExecution: attaches the AWS managed policy AdministratorAccess [administrator access: every action on every resource]');
    expect(diff).toContain('Its roles lose 2 rights:');
    expect(diff).toContain('  - IamRoleLambdaExecution: Allow dynamodb:GetItem on ItemsTable.Arn (inline policy serverless-http-api-dynamodb-events-prod-lambda)');

    const json = JSON.parse((await runCli(['permissions', grown, '--against', FIXTURE, '--schemas', SHARED_SCHEMAS, '--account', ACCOUNT, '--json'])).stdout) as {
      diff: { added: unknown[]; removed: unknown[]; roleRights: { added: { role: string; kind: string; what: string; risk?: string }[]; removed: { what: string }[] } };
    };
    expect(json.diff.roleRights.added).toEqual([{ role: 'IamRoleLambdaExecution', kind: 'managed-policy', what: 'AWS managed policy AdministratorAccess', risk: 'administrator access: every action on every resource' }]);
    expect(json.diff.roleRights.removed.map((r) => r.what.split(' (')[0])).toEqual(['Allow dynamodb:GetItem on ItemsTable.Arn', 'Allow dynamodb:PutItem on ItemsTable.Arn']);
  });

  it('GIVEN the help of "permissions" WHEN printed THEN it lists the update subcommand once, and the new options', async () => {
    const result = await runCli(['permissions', '--help']);
    expect(result.stdout.match(/^ *(permissions )?update\b/gm), result.stdout).toEqual(['  update']);
    expect(result.stdout).not.toContain('Subcommand:');
    expect(result.stdout).toContain('--permissions-boundary <arn>');
    expect(result.stdout).toContain('--stage <env>');
  });

  it('GIVEN bad --stage or --permissions-boundary WHEN "permissions" runs THEN exit 2 naming the flag, nothing on stdout', async () => {
    for (const [flag, value] of [
      ['--stage', '../prod'],
      ['--permissions-boundary', 'arn:aws:iam::123456789012:role/not-a-policy'],
    ] as const) {
      const result = await runCli(['permissions', FIXTURE, '--schemas', SHARED_SCHEMAS, flag, value]);
      expect(result.exitCode, flag).toBe(2);
      expect(result.stderr).toContain(`${flag}:`);
      expect(result.stdout).toBe('');
    }
  });
});
