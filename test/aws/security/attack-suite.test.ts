/**
 * The attack suite: what code running in an action (a Serverless plugin, a compromised dependency,
 * a pull request from a fork) could do with the roles the templates give it, evaluated by
 * `@cloud-copilot/iam-simulate` over the synthesized templates, as IAM would.
 *
 * Subjects: the example config, a config with every option on, and the example with its deploy
 * policy inferred from its package. Each attack must be denied (implicitly or explicitly); each
 * call a default deploy makes must be allowed.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { artifactKeyPrefix } from '../../../src/aws/names.js';
import { permissionsBoundaryName } from '../../../src/model/plan.js';
import type { PipelinePlan, PlanEnvironment } from '../../../src/model/plan-schema.js';
import { validateConfig } from '../../../src/model/validate.js';
import { EXAMPLE_PACKAGE, everyOptionConfig } from './fixtures/every-option.js';
import { evaluate, type Decision, type RoleModel } from './iam-model.js';
import { exampleConfig, exampleInferredConfig, hasSharedSchemas, NEEDS_SCHEMAS, subjectOf, type Subject } from './subjects.js';

const ADMINISTRATOR_ACCESS = 'arn:aws:iam::aws:policy/AdministratorAccess';
interface Check {
  readonly what: string;
  readonly decision: Decision;
}

/** Evaluate named requests; the test compares the lists, so that a failure names every wrong decision. */
async function decide(entries: [string, Promise<Decision>][]): Promise<Check[]> {
  return Promise.all(entries.map(async ([what, decision]) => ({ what, decision: await decision })));
}
const allowedOf = (checks: Check[]) => checks.filter((c) => c.decision === 'Allowed').map((c) => c.what);
const deniedOf = (checks: Check[]) => checks.filter((c) => c.decision !== 'Allowed').map((c) => c.what);

/** The IAM of one deployer, and the names its service deploys under. */
function deployerOf(subject: Subject, plan: PipelinePlan, environment: PlanEnvironment) {
  const role = subject.model.role(environment.deployerRoleName);
  const stack = environment.stackName;
  const functionRole = `arn:aws:iam::${environment.account}:role/${stack}-${environment.region}-lambdaRole`;
  return { role, stack, functionRole, boundaryArn: environment.permissionsBoundaryArn, plan, environment };
}

function attacksOnDeployer(subject: Subject, d: ReturnType<typeof deployerOf>): [string, Promise<Decision>][] {
  const on = (action: string, resource: string, context: Record<string, string> = {}) => subject.model.decide(d.role, { action, resource, context });
  const otherDeployer = `arn:aws:iam::${d.environment.account}:role/${d.stack}-${d.environment.region}-x-${d.environment.name}-deployer`;
  return [
    ['AttachRolePolicy AdministratorAccess to itself', on('iam:AttachRolePolicy', d.role.arn, { 'iam:PolicyARN': ADMINISTRATOR_ACCESS })],
    ['PutRolePolicy on itself', on('iam:PutRolePolicy', d.role.arn)],
    ['UpdateAssumeRolePolicy on itself', on('iam:UpdateAssumeRolePolicy', d.role.arn)],
    ['DeleteRole of itself', on('iam:DeleteRole', d.role.arn)],
    ['TagRole of itself', on('iam:TagRole', d.role.arn)],
    ['CreateRole without the boundary', on('iam:CreateRole', d.functionRole)],
    ['CreateRole with AdministratorAccess as boundary', on('iam:CreateRole', d.functionRole, { 'iam:PermissionsBoundary': ADMINISTRATOR_ACCESS })],
    ['AttachRolePolicy to a role without the boundary', on('iam:AttachRolePolicy', d.functionRole, { 'iam:PolicyARN': ADMINISTRATOR_ACCESS })],
    ['PutRolePolicy on a role without the boundary', on('iam:PutRolePolicy', d.functionRole)],
    ['UpdateAssumeRolePolicy of another pipeline role named like the service', on('iam:UpdateAssumeRolePolicy', otherDeployer)],
    ['DeleteRolePermissionsBoundary', on('iam:DeleteRolePermissionsBoundary', d.functionRole, { 'iam:PermissionsBoundary': d.boundaryArn })],
    ['PutRolePermissionsBoundary to another policy', on('iam:PutRolePermissionsBoundary', d.functionRole, { 'iam:PermissionsBoundary': ADMINISTRATOR_ACCESS })],
    ['CreatePolicyVersion of the boundary', on('iam:CreatePolicyVersion', d.boundaryArn)],
    ['CreatePolicyVersion of its own managed policy', on('iam:CreatePolicyVersion', d.role.arn.replace(':role/', ':policy/') + '-1')],
    ['SetDefaultPolicyVersion of its own managed policy', on('iam:SetDefaultPolicyVersion', d.role.arn.replace(':role/', ':policy/') + '-1')],
    ['SetDefaultPolicyVersion of the boundary', on('iam:SetDefaultPolicyVersion', d.boundaryArn)],
    ['DeletePolicy of the boundary', on('iam:DeletePolicy', d.boundaryArn)],
    ['PassRole of itself to Lambda', on('iam:PassRole', d.role.arn, { 'iam:PassedToService': 'lambda.amazonaws.com' })],
    ['PassRole of the function role to EC2', on('iam:PassRole', d.functionRole, { 'iam:PassedToService': 'ec2.amazonaws.com' })],
    ['AssumeRole of itself', on('sts:AssumeRole', d.role.arn)],
  ];
}

function legitimateDeployCalls(subject: Subject, d: ReturnType<typeof deployerOf>): [string, Promise<Decision>][] {
  const on = (action: string, resource: string, context: Record<string, string> = {}) => subject.model.decide(d.role, { action, resource, context });
  const withBoundary = { 'iam:PermissionsBoundary': d.boundaryArn };
  const { account, region } = d.environment;
  return [
    ['CreateRole of the function role with the boundary', on('iam:CreateRole', d.functionRole, withBoundary)],
    ['PutRolePolicy on the function role with the boundary', on('iam:PutRolePolicy', d.functionRole, withBoundary)],
    ['GetRole of the function role', on('iam:GetRole', d.functionRole, withBoundary)],
    ['PassRole of the function role to Lambda', on('iam:PassRole', d.functionRole, { 'iam:PassedToService': 'lambda.amazonaws.com' })],
    ['CreateFunction', on('lambda:CreateFunction', `arn:aws:lambda:${region}:${account}:function:${d.stack}-hello`)],
    ['CreateLogGroup', on('logs:CreateLogGroup', `arn:aws:logs:${region}:${account}:log-group:/aws/lambda/${d.stack}-hello`)],
    ['CreateChangeSet of the stack', on('cloudformation:CreateChangeSet', `arn:aws:cloudformation:${region}:${account}:stack/${d.stack}/0a1b2c3d`)],
  ];
}

/** What the default statements must also allow: the handlers' read and update calls the registry lists (issue 10 item 4). */
function defaultHandlerCalls(subject: Subject, d: ReturnType<typeof deployerOf>): [string, Promise<Decision>][] {
  const on = (action: string, resource: string) => subject.model.decide(d.role, { action, resource });
  const { account, region } = d.environment;
  const fn = `arn:aws:lambda:${region}:${account}:function:${d.stack}-hello`;
  const bucket = `arn:aws:s3:::${d.stack}-serverlessdeploymentbucket-1a2b3c4d5e6f`;
  return [
    ['lambda:GetFunctionCodeSigningConfig', on('lambda:GetFunctionCodeSigningConfig', fn)],
    ['lambda:GetRuntimeManagementConfig', on('lambda:GetRuntimeManagementConfig', fn)],
    ['lambda:GetPolicy', on('lambda:GetPolicy', fn)],
    ['iam:ListRolePolicies', on('iam:ListRolePolicies', d.functionRole)],
    ['iam:ListAttachedRolePolicies', on('iam:ListAttachedRolePolicies', d.functionRole)],
    ['logs:ListTagsForResource', on('logs:ListTagsForResource', `arn:aws:logs:${region}:${account}:log-group:/aws/lambda/${d.stack}-hello`)],
    ['s3:GetBucketPolicy', on('s3:GetBucketPolicy', bucket)],
    ['s3:GetBucketTagging', on('s3:GetBucketTagging', bucket)],
    ['s3:PutBucketVersioning', on('s3:PutBucketVersioning', bucket)],
  ];
}

/** A role holding AdministratorAccess under the boundary: what a deploy could give a function at most. */
async function throughBoundary(subject: Subject, d: ReturnType<typeof deployerOf>): Promise<{ denied: Check[]; allowed: Check[] }> {
  const boundary = subject.model.policy(permissionsBoundaryName(d.plan.service, d.environment.name));
  const { account, region } = d.environment;
  const asFunction = (action: string, resource: string, context: Record<string, string> = {}) =>
    evaluate({
      principal: `arn:aws:sts::${account}:assumed-role/${d.stack}-${region}-lambdaRole/fn`,
      identityPolicies: [{ name: 'AdministratorAccess', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] } }],
      boundary: boundary.document,
      action,
      resource,
      resourceAccount: account,
      context,
    });
  const denied = await decide([
    ['iam:CreateRole', asFunction('iam:CreateRole', `arn:aws:iam::${account}:role/anything`)],
    ['iam:AttachRolePolicy', asFunction('iam:AttachRolePolicy', d.role.arn, { 'iam:PolicyARN': ADMINISTRATOR_ACCESS })],
    ['iam:PassRole', asFunction('iam:PassRole', d.role.arn, { 'iam:PassedToService': 'lambda.amazonaws.com' })],
    ['sts:AssumeRole', asFunction('sts:AssumeRole', d.role.arn)],
    ['organizations:LeaveOrganization', asFunction('organizations:LeaveOrganization', '*')],
    ['lambda:UpdateFunctionCode of another service', asFunction('lambda:UpdateFunctionCode', `arn:aws:lambda:${region}:${account}:function:other-service-prod-admin`)],
    ['ssm:SendCommand', asFunction('ssm:SendCommand', `arn:aws:ec2:${region}:${account}:instance/i-0123456789abcdef0`)],
    ['codebuild:StartBuild', asFunction('codebuild:StartBuild', `arn:aws:codebuild:${region}:${account}:project/admin`)],
    ['cloudformation:UpdateStack of another stack', asFunction('cloudformation:UpdateStack', `arn:aws:cloudformation:${region}:${account}:stack/other-stack/1`)],
  ]);
  const allowed = await decide([
    ['logs:PutLogEvents', asFunction('logs:PutLogEvents', `arn:aws:logs:${region}:${account}:log-group:/aws/lambda/${d.stack}-hello:log-stream:x`)],
    ['dynamodb:PutItem', asFunction('dynamodb:PutItem', `arn:aws:dynamodb:${region}:${account}:table/${d.stack}-orders`)],
    ['s3:GetObject', asFunction('s3:GetObject', `arn:aws:s3:::${d.stack}-uploads/file.txt`)],
    ['sqs:SendMessage', asFunction('sqs:SendMessage', `arn:aws:sqs:${region}:${account}:${d.stack}-jobs`)],
    ['lambda:InvokeFunction of another service', asFunction('lambda:InvokeFunction', `arn:aws:lambda:${region}:${account}:function:other-service-prod-api`)],
  ]);
  return { denied, allowed };
}

/** The pipeline's actions, with their roles, as the template declares them. */
function pipelineOf(subject: Subject, plan: PipelinePlan) {
  const model = subject.model;
  for (const stack of model.templates) {
    for (const resource of Object.values(stack.template.Resources ?? {})) {
      if (resource.Type !== 'AWS::CodePipeline::Pipeline' || resource.Properties?.['Name'] !== plan.pipelineName) continue;
      const properties = resource.Properties;
      const store = properties['ArtifactStore'] as { Location: string };
      const stages = properties['Stages'] as { Name: string; Actions: { Name: string; RoleArn?: unknown; OutputArtifacts?: { Name: string }[] }[] }[];
      const pipelineRole = model.roleByArn(properties['RoleArn'], stack.stackName);
      const action = (stage: string, name: string) => stages.find((s) => s.Name === stage)?.Actions.find((a) => a.Name === name);
      const roleOf = (stage: string, name: string): RoleModel => {
        const found = action(stage, name);
        if (!found) throw new Error(`${plan.pipelineName} has no action ${stage}.${name}`);
        return found.RoleArn === undefined ? pipelineRole : model.roleByArn(found.RoleArn, stack.stackName);
      };
      // CodePipeline keys an artifact's objects by the first 20 characters of the pipeline's name and the first 10 of the artifact's.
      const folder = (stage: string, name: string) => `${artifactKeyPrefix(plan.pipelineName)}/${action(stage, name)!.OutputArtifacts![0]!.Name.slice(0, 10)}`;
      const object = (key: string) => `arn:aws:s3:::${store.Location}/${key}/Xy12Ab3`;
      return { stack, stages, pipelineRole, roleOf, folder, object };
    }
  }
  throw new Error(`no pipeline ${plan.pipelineName}`);
}

function pullRequestRoleOf(subject: Subject, plan: PipelinePlan): RoleModel {
  for (const stack of subject.model.templates) {
    for (const resource of Object.values(stack.template.Resources ?? {})) {
      if (resource.Type === 'AWS::CodeBuild::Project' && resource.Properties?.['Name'] === plan.pipelineName) return subject.model.roleByArn(resource.Properties['ServiceRole'], stack.stackName);
    }
  }
  throw new Error(`no pull-request project ${plan.pipelineName}`);
}

const suites: { name: string; skip: boolean; load: () => Promise<Subject>; defaults: boolean }[] = [
  { name: 'the example', skip: false, load: async () => subjectOf('example', await exampleConfig(), process.cwd()), defaults: true },
  { name: `a config with every option on${NEEDS_SCHEMAS}`, skip: !hasSharedSchemas, load: async () => subjectOf('every option', validateConfig(everyOptionConfig()), process.cwd()), defaults: false },
  {
    name: `the example with its policy inferred from its package${NEEDS_SCHEMAS}`,
    skip: !hasSharedSchemas,
    load: async () => subjectOf('inferred', await exampleInferredConfig(EXAMPLE_PACKAGE), process.cwd()),
    defaults: false,
  },
];

for (const suite of suites) {
  describe.skipIf(suite.skip)(`attack suite: ${suite.name}`, () => {
    let subject: Subject;
    beforeAll(async () => {
      subject = await suite.load();
    }, 300_000);

    it('GIVEN each deployer role WHEN it attacks IAM (attach admin to itself, roles without the boundary, the boundary itself, PassRole of itself) THEN every attack is denied', async () => {
      for (const plan of subject.plans) {
        for (const environment of plan.environments) {
          const d = deployerOf(subject, plan, environment);
          expect({ deployer: d.role.name, allowed: allowedOf(await decide(attacksOnDeployer(subject, d))) }).toEqual({ deployer: d.role.name, allowed: [] });
        }
      }
    });

    it("GIVEN each deployer role WHEN a default deploy creates the function's role with the boundary and passes it to Lambda THEN IAM allows it", async () => {
      for (const plan of subject.plans.filter((p) => p.flavor === 'serverless' && !hasExplicitStatements(subject, p))) {
        for (const environment of plan.environments) {
          const d = deployerOf(subject, plan, environment);
          const calls = [...legitimateDeployCalls(subject, d), ...(suite.defaults ? defaultHandlerCalls(subject, d) : [])];
          expect({ deployer: d.role.name, denied: deniedOf(await decide(calls)) }).toEqual({ deployer: d.role.name, denied: [] });
        }
      }
    });

    it('GIVEN the permissions boundary WHEN a role under it holds AdministratorAccess THEN IAM, STS, Organizations and running as other identities stay denied, and the service work is allowed', async () => {
      for (const plan of subject.plans) {
        for (const environment of plan.environments) {
          const d = deployerOf(subject, plan, environment);
          const { denied, allowed } = await throughBoundary(subject, d);
          expect({ boundary: d.boundaryArn, allowed: allowedOf(denied), denied: deniedOf(allowed) }).toEqual({ boundary: d.boundaryArn, allowed: [], denied: [] });
        }
      }
    });

    it('GIVEN each action role WHEN it writes artifacts THEN only Package writes Package, only the pipeline writes Source, and each deploy writes only its own outputs', async () => {
      for (const plan of subject.plans) {
        const p = pipelineOf(subject, plan);
        const put = (role: RoleModel, folder: string, action = 's3:PutObject') => subject.model.decide(role, { action, resource: p.object(folder) });
        const source = p.folder('Source', 'Source');
        const pkg = p.folder('Build', 'Package');
        const outputs = plan.environments.map((e) => ({ env: e.name, folder: p.folder(`Deploy-${e.name}`, 'Deploy') }));
        const allowed: [string, Promise<Decision>][] = [
          ['pipeline role writes Source', put(p.pipelineRole, source)],
          ['pipeline role sets the ACL of Source objects', put(p.pipelineRole, source, 's3:PutObjectAcl')],
          ['Package writes Package', put(p.roleOf('Build', 'Package'), pkg)],
          ...outputs.map(({ env, folder }): [string, Promise<Decision>] => [`Deploy-${env} writes its outputs`, put(p.roleOf(`Deploy-${env}`, 'Deploy'), folder)]),
        ];
        const denied: [string, Promise<Decision>][] = [
          ['pipeline role writes Package', put(p.pipelineRole, pkg)],
          ['Package writes Source', put(p.roleOf('Build', 'Package'), source)],
          ...['Lint', 'UnitTests', 'IntegrationTests'].flatMap((name): [string, Promise<Decision>][] => [
            [`${name} writes Package`, put(p.roleOf('Build', name), pkg)],
            [`${name} writes Source`, put(p.roleOf('Build', name), source)],
          ]),
          ...outputs.flatMap(({ env }): [string, Promise<Decision>][] => [
            [`Deploy-${env} writes Package`, put(p.roleOf(`Deploy-${env}`, 'Deploy'), pkg)],
            [`Deploy-${env} writes Source`, put(p.roleOf(`Deploy-${env}`, 'Deploy'), source)],
            [`AcceptanceTests-${env} writes its outputs`, put(p.roleOf(`Deploy-${env}`, 'AcceptanceTests'), outputs.find((o) => o.env === env)!.folder)],
            ...outputs
              .filter((o) => o.env !== env)
              .map((o): [string, Promise<Decision>] => [`Deploy-${env} writes the outputs of ${o.env}`, put(p.roleOf(`Deploy-${env}`, 'Deploy'), o.folder)]),
          ]),
        ];
        expect({ pipeline: plan.pipelineName, denied: deniedOf(await decide(allowed)), allowed: allowedOf(await decide(denied)) }).toEqual({
          pipeline: plan.pipelineName,
          denied: [],
          allowed: [],
        });
      }
    });

    it("GIVEN each environment's acceptance tests WHEN they reach for the deployed stage (SERVICE_INVOKE) THEN they may assume only that environment's invoker role, which may invoke the service's own functions and nothing else", async () => {
      for (const plan of subject.plans) {
        const p = pipelineOf(subject, plan);
        const others = (name: string) => plan.environments.filter((e) => e.name !== name);
        for (const environment of plan.environments) {
          const { account, region, stackName } = environment;
          const acceptance = p.roleOf(`Deploy-${environment.name}`, 'AcceptanceTests');
          const invoker = subject.model.role(`${plan.service}-${environment.name}-invoker`);
          const deployer = subject.model.role(environment.deployerRoleName);
          const fn = `arn:aws:lambda:${region}:${account}:function:${stackName}-hello`;
          const asInvoker = (action: string, resource: string, context: Record<string, string> = {}) => subject.model.decide(invoker, { action, resource, context });
          const allowed = await decide([
            [`AcceptanceTests-${environment.name} assume ${invoker.name}`, subject.model.decideAssume(acceptance, invoker)],
            ['the invoker invokes a function of the stage', asInvoker('lambda:InvokeFunction', fn)],
            ['the invoker invokes an alias of it', asInvoker('lambda:InvokeFunction', `${fn}:live`)],
          ]);
          const denied = await decide([
            [`AcceptanceTests-${environment.name} assume ${deployer.name}`, subject.model.decideAssume(acceptance, deployer)],
            ...others(environment.name).map((o): [string, Promise<Decision>] => [
              `AcceptanceTests-${environment.name} assume the invoker of ${o.name}`,
              subject.model.decideAssume(acceptance, subject.model.role(`${plan.service}-${o.name}-invoker`)),
            ]),
            ...(['Lint', 'UnitTests', 'IntegrationTests', 'Package'] as const).map((name): [string, Promise<Decision>] => [
              `${name} assume ${invoker.name}`,
              subject.model.decideAssume(p.roleOf('Build', name), invoker),
            ]),
            [`Deploy-${environment.name} assume ${invoker.name}`, subject.model.decideAssume(p.roleOf(`Deploy-${environment.name}`, 'Deploy'), invoker)],
            [`AcceptanceTests-${environment.name} read the package`, subject.model.decide(acceptance, { action: 's3:GetObject', resource: p.object(p.folder('Build', 'Package')) })],
            [`AcceptanceTests-${environment.name} write its outputs`, subject.model.decide(acceptance, { action: 's3:PutObject', resource: p.object(p.folder(`Deploy-${environment.name}`, 'Deploy')) })],
            ['the invoker invokes a function of another service', asInvoker('lambda:InvokeFunction', `arn:aws:lambda:${region}:${account}:function:other-service-${environment.name}-admin`)],
            ['the invoker changes a function', asInvoker('lambda:UpdateFunctionCode', fn)],
            ['the invoker opens a function to others', asInvoker('lambda:AddPermission', fn)],
            ['the invoker deploys the stack', asInvoker('cloudformation:CreateChangeSet', `arn:aws:cloudformation:${region}:${account}:stack/${stackName}/0a1b2c3d`)],
            ['the invoker creates a role', asInvoker('iam:CreateRole', `arn:aws:iam::${account}:role/${stackName}-${region}-lambdaRole`)],
            ['the invoker passes the deployer', asInvoker('iam:PassRole', deployer.arn, { 'iam:PassedToService': 'lambda.amazonaws.com' })],
            ['the invoker assumes the deployer', subject.model.decideAssume(invoker, deployer)],
          ]);
          expect({ invoker: invoker.name, denied: deniedOf(allowed), allowed: allowedOf(denied) }).toEqual({ invoker: invoker.name, denied: [], allowed: [] });
        }
      }
    });

    it("GIVEN each pull-request build WHEN it reaches for what is not its own THEN it reads no artifact (Outputs_prod, Package), assumes no deployer, and uses the connection only for its repository", async () => {
      for (const plan of subject.pullRequestPlans) {
        const push = subject.plans.find((p) => p.service === plan.service)!;
        const p = pipelineOf(subject, push);
        const role = pullRequestRoleOf(subject, plan);
        const connection = plan.source.github!.connectionArn!;
        const last = push.environments.at(-1)!;
        const on = (action: string, resource: string, context: Record<string, string> = {}) => subject.model.decide(role, { action, resource, context });
        const denied = await decide([
          [`read the outputs of ${last.name}`, on('s3:GetObject', p.object(p.folder(`Deploy-${last.name}`, 'Deploy')))],
          ['read the package', on('s3:GetObject', p.object(p.folder('Build', 'Package')))],
          ['write the package', on('s3:PutObject', p.object(p.folder('Build', 'Package')))],
          [`assume ${last.deployerRoleName}`, on('sts:AssumeRole', last.deployerRoleArn)],
          ['use the connection for another repository', on('codeconnections:UseConnection', connection, { 'codeconnections:FullRepositoryId': 'example-org/other' })],
        ]);
        const allowed = await decide([['use the connection for its repository', on('codeconnections:UseConnection', connection, { 'codeconnections:FullRepositoryId': `${plan.source.github!.owner}/${plan.source.github!.repo}` })]]);
        expect({ project: plan.pipelineName, allowed: allowedOf(denied), denied: deniedOf(allowed) }).toEqual({ project: plan.pipelineName, allowed: [], denied: [] });
        // Only CodeBuild may assume it: not the pipeline, whose actions share the artifacts.
        expect(JSON.stringify(role.trust.Statement.map((s) => (s as { Principal?: unknown }).Principal))).toBe(JSON.stringify([{ Service: 'codebuild.amazonaws.com' }]));
      }
    });
  });
}

/** Whether a service lists its own statements (then the default deploy calls are its business). */
function hasExplicitStatements(subject: Subject, plan: PipelinePlan): boolean {
  return Array.isArray(subject.config.services.find((s) => s.name === plan.service)?.deployPermissions);
}
