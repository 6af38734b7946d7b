/**
 * What a deployer role may do in its target account.
 *
 * Three sources, in order of preference: statements inferred from the service's template
 * (`deployPermissions: { infer }`, resolved before synthesis), explicit statements
 * (`deployPermissions: [...]`), or the default below, scoped to what the Serverless Framework
 * touches when it deploys a stack of the service's own name. Never administrator access.
 */
import { InputError, type InputProblem } from '../model/errors.js';
import type { PolicyStatementJson } from '../model/config.js';
import { partitionOf, permissionsBoundaryArn } from '../model/plan.js';
import { STACK_DEPLOY_ACTIONS } from '../permissions/infer.js';
import { DEFAULT_DEPLOY_TABLE } from './default-deploy-actions.generated.js';

/** An IAM policy document as JSON, as `inferDeployPolicy` returns them (split to fit IAM's size limits). */
export interface PolicyDocumentJson {
  readonly Version: string;
  readonly Statement: readonly PolicyStatementJson[];
}

/** Where a deployer role deploys: the values its default statements are scoped to. */
export interface DeployTarget {
  /** The pipeline's name for the service: names the deployer role and the permissions boundary. */
  readonly service: string;
  /** The stage (environment name). */
  readonly stage: string;
  /** The target account. */
  readonly account: string;
  /** The target region. */
  readonly region: string;
  /**
   * The name the service deploys under (serverless.yml's `service:`): names its stack and resources.
   *
   * @default - `service`
   */
  readonly serverlessService?: string;
  /** @default 'aws' */
  readonly partition?: string;
}

/** The names a deployer's default statements reach, for one service and stage. */
export interface DeployScope {
  /** The stack, `<serverlessService>-<stage>`. */
  readonly stackName: string;
  /** The stack's ARN pattern. */
  readonly stackArn: string;
  /** The deployment bucket CloudFormation names after the stack (lower case). */
  readonly bucketArn: string;
  /** The functions' ARN pattern. */
  readonly functionArn: string;
  /** The functions' log groups. */
  readonly logGroupArn: string;
  /**
   * The roles the service's template creates: the Serverless Framework's execution role
   * (`<stack>-<region>-lambdaRole`) and roles CloudFormation names (`<stack>-IamRole...-<random>`).
   * Neither pattern can match a deployer (`<service>-<stage>-deployer`).
   */
  readonly roleArns: readonly string[];
  /** The permissions boundary every role of the service carries. */
  readonly boundaryArn: string;
}

/** What a role of an environment's stack is told of the service it serves there. */
export interface DeployTargetProps {
  /** The pipeline's name for the service. */
  readonly serviceName: string;
  /** The environment (stage). */
  readonly targetStageName: string;
  /** @default - the stack's region */
  readonly targetRegion?: string;
  /** serverless.yml's `service:` name. @default - `serviceName` */
  readonly serverlessService?: string;
}

/** Where a service deploys in an environment, from a stack in that environment's account. */
export function deployTargetOf(stack: { readonly account: string; readonly region: string }, props: DeployTargetProps): DeployTarget & { readonly partition: string } {
  const region = props.targetRegion ?? stack.region;
  return {
    service: props.serviceName,
    stage: props.targetStageName,
    account: stack.account,
    region,
    partition: partitionOf(region),
    ...(props.serverlessService ? { serverlessService: props.serverlessService } : {}),
  };
}

/** The names a deployer's default statements reach. */
export function deployScope(target: DeployTarget): DeployScope {
  const p = target.partition ?? 'aws';
  const { account, region } = target;
  const stackName = `${target.serverlessService ?? target.service}-${target.stage}`;
  return {
    stackName,
    stackArn: `arn:${p}:cloudformation:${region}:${account}:stack/${stackName}/*`,
    bucketArn: `arn:${p}:s3:::${stackName.toLowerCase()}-serverlessdeploymentbucket-*`,
    functionArn: `arn:${p}:lambda:${region}:${account}:function:${stackName}-*`,
    logGroupArn: `arn:${p}:logs:${region}:${account}:log-group:/aws/lambda/${stackName}-*`,
    roleArns: [`arn:${p}:iam::${account}:role/${stackName}-${region}-*`, `arn:${p}:iam::${account}:role/${stackName}-IamRole*`],
    boundaryArn: permissionsBoundaryArn(target.service, target.stage, account, p),
  };
}

/** What `osls deploy` itself calls on the deployment bucket: find it, list what earlier deploys left, upload. */
const DEPLOY_TOOL_BUCKET_ACTIONS = ['s3:ListBucket', 's3:ListBucketVersions', 's3:GetBucketLocation'];
const DEPLOY_TOOL_OBJECT_ACTIONS = ['s3:PutObject', 's3:GetObject', 's3:DeleteObject', 's3:DeleteObjectVersion'];

/** Why each wildcard statement of the defaults is safe, by Sid: the cdk-nag acknowledgements. */
export const DEFAULT_STATEMENT_REASONS: Readonly<Record<string, string>> = {
  ServiceStack: "The service's own stack <stack>/*: the trailing * is the stack id CloudFormation generates.",
  ValidateTemplate: 'cloudformation:ValidateTemplate has no resource-level permissions; it reads the template it is given and changes nothing.',
  DeploymentBucket: 'The deployment bucket CloudFormation creates for the stack, <stack>-serverlessdeploymentbucket-<random>: the random suffix is only known once deployed.',
  DeploymentObjects: "Objects of the stack's own deployment bucket.",
  Functions: 'The functions the Serverless Framework names <stack>-<function>, and their versions and aliases.',
  FunctionLogs: "The functions' log groups, /aws/lambda/<stack>-<function>.",
  LogGroupReads: 'logs:DescribeLogGroups, DescribeIndexPolicies and DescribeResourcePolicies have no resource-level permissions; they list and change nothing.',
  FunctionRoles: "The service's roles (<stack>-<region>-* and <stack>-IamRole*), and only with the permissions boundary: a role created or changed here can hold no more than the boundary allows.",
  FunctionRoleDetails: "Reading and tagging the service's roles (<stack>-<region>-* and <stack>-IamRole*), which cannot name a deployer.",
  PassFunctionRoles: "The service's roles, passed to Lambda only.",
  ReadApis: 'API Gateway ids are generated at creation, so GET cannot be scoped by name: reads of API definitions in this account and region, never of their traffic.',
  ServiceApiParts:
    "API Gateway ids are generated, and IAM evaluates the API name only on the API itself, not on its resources, methods, deployments, stages, routes and integrations: any API's parts in this account and region (the API itself is scoped by name).",
};

/**
 * The default deploy permissions: what `osls deploy --package` needs to create, update and
 * delete the stack `<serverlessService>-<stage>` of a default Serverless service, derived from the
 * CloudFormation registry schemas (`DEFAULT_DEPLOY_TABLE`: every create, read, update and delete
 * handler permission of its resource types, but the groups left out in docs/permissions.md), each
 * scoped to the service's own names:
 *
 * - CloudFormation: that stack (change sets are authorized on their stack); `ValidateTemplate`.
 * - S3: the deployment bucket CloudFormation creates for the stack, and its objects.
 * - Lambda functions `<stack>-*` and their log groups.
 * - IAM roles `<stack>-<region>-*` and `<stack>-IamRole*`, created and changed only with the
 *   permissions boundary of the service and stage; PassRole to them, only to Lambda.
 * - API Gateway REST and HTTP APIs: created only with the Serverless API name `<stage>-<service>`,
 *   changed only when named so; their parts by path (IAM has no name key for them).
 *
 * Services that use more (queues, tables, schedules...) list their own statements or use `infer`.
 */
export function defaultDeployStatements(target: DeployTarget): PolicyStatementJson[] {
  const p = target.partition ?? 'aws';
  const scope = deployScope(target);
  const apis = `arn:${p}:apigateway:${target.region}::`;
  const apiNames = [`${target.stage}-${target.serverlessService ?? target.service}`, `${scope.stackName}*`];
  const bySid = new Map<string, Set<string>>();
  const add = (sid: string, action: string) => bySid.set(sid, (bySid.get(sid) ?? new Set()).add(action));
  for (const { action, resourceTypes, boundaryCondition } of DEFAULT_DEPLOY_TABLE.actions) {
    add(defaultStatementOf(action, resourceTypes, boundaryCondition), action);
  }
  DEPLOY_TOOL_BUCKET_ACTIONS.forEach((a) => add('DeploymentBucket', a));
  DEPLOY_TOOL_OBJECT_ACTIONS.forEach((a) => add('DeploymentObjects', a));
  const actions = (sid: string) => [...(bySid.get(sid) ?? [])].sort();
  const apiMethods = (sid: string, methods: readonly string[]) => actions(sid).filter((a) => methods.includes(a));
  return [
    { Sid: 'ServiceStack', Effect: 'Allow', Action: [...STACK_DEPLOY_ACTIONS], Resource: scope.stackArn },
    { Sid: 'ValidateTemplate', Effect: 'Allow', Action: ['cloudformation:ValidateTemplate'], Resource: '*' },
    { Sid: 'DeploymentBucket', Effect: 'Allow', Action: actions('DeploymentBucket'), Resource: scope.bucketArn },
    { Sid: 'DeploymentObjects', Effect: 'Allow', Action: actions('DeploymentObjects'), Resource: `${scope.bucketArn}/*` },
    { Sid: 'Functions', Effect: 'Allow', Action: actions('Functions'), Resource: scope.functionArn },
    { Sid: 'FunctionLogs', Effect: 'Allow', Action: actions('FunctionLogs'), Resource: scope.logGroupArn },
    { Sid: 'LogGroupReads', Effect: 'Allow', Action: actions('LogGroupReads'), Resource: '*' },
    {
      Sid: 'FunctionRoles',
      Effect: 'Allow',
      Action: actions('FunctionRoles'),
      Resource: [...scope.roleArns],
      Condition: { StringEquals: { 'iam:PermissionsBoundary': scope.boundaryArn } },
    },
    { Sid: 'FunctionRoleDetails', Effect: 'Allow', Action: actions('FunctionRoleDetails'), Resource: [...scope.roleArns] },
    {
      Sid: 'PassFunctionRoles',
      Effect: 'Allow',
      Action: ['iam:PassRole'],
      Resource: [...scope.roleArns],
      Condition: { StringEquals: { 'iam:PassedToService': 'lambda.amazonaws.com' } },
    },
    {
      Sid: 'CreateServiceApi',
      Effect: 'Allow',
      Action: ['apigateway:POST'],
      Resource: [`${apis}/restapis`, `${apis}/apis`],
      Condition: { StringLike: { 'apigateway:Request/ApiName': apiNames } },
    },
    {
      // API ids are 10 characters: `?` matches the API itself, never its parts.
      Sid: 'ServiceApi',
      Effect: 'Allow',
      Action: apiMethods('ServiceApi', ['apigateway:DELETE', 'apigateway:PATCH', 'apigateway:PUT', 'apigateway:UpdateRestApiPolicy']),
      Resource: [`${apis}/restapis/??????????`, `${apis}/apis/??????????`],
      Condition: { StringLike: { 'apigateway:Resource/ApiName': apiNames } },
    },
    { Sid: 'ReadApis', Effect: 'Allow', Action: ['apigateway:GET'], Resource: [`${apis}/restapis`, `${apis}/restapis/*`, `${apis}/apis`, `${apis}/apis/*`, `${apis}/tags/*`] },
    {
      Sid: 'ServiceApiParts',
      Effect: 'Allow',
      Action: apiMethods('ServiceApi', ['apigateway:DELETE', 'apigateway:PATCH', 'apigateway:POST', 'apigateway:PUT']),
      Resource: [`${apis}/restapis/*/*`, `${apis}/apis/*/*`, `${apis}/tags/*`],
    },
  ];
}

/**
 * The default statement an action of the table belongs to, by the IAM resource types it acts on.
 *
 * @throws Error when the table holds an action no statement scopes (the table and this mapping disagree)
 */
function defaultStatementOf(action: string, resourceTypes: readonly string[], boundaryCondition: boolean): string {
  const service = action.split(':')[0];
  const on = (type: string) => resourceTypes.includes(type);
  if (service === 'lambda' && (on('function') || on('function version'))) return 'Functions';
  if (service === 'logs') return on('log-group') ? 'FunctionLogs' : resourceTypes.length === 0 ? 'LogGroupReads' : unscoped(action);
  if (service === 'iam' && on('role')) return action === 'iam:PassRole' ? 'PassFunctionRoles' : boundaryCondition ? 'FunctionRoles' : 'FunctionRoleDetails';
  if (service === 's3') return on('object') ? 'DeploymentObjects' : on('bucket') ? 'DeploymentBucket' : unscoped(action);
  if (service === 'apigateway') return action === 'apigateway:GET' ? 'ReadApis' : 'ServiceApi';
  if (service === 'cloudformation') return 'ServiceStack';
  return unscoped(action);
}

function unscoped(action: string): never {
  throw new Error(`the default deploy table holds ${action}, which no default statement scopes: map it in defaultStatementOf, or leave it out in default-deploy-table.ts`);
}

/**
 * The deny guardrails around any deployer policy (default, explicit or inferred): whatever the
 * Allow statements say, the deployer cannot change or pass itself or its own managed policies, touch its permissions boundary,
 * create or change a role without that boundary, or take a boundary off a role.
 */
export function deployerGuardrails(deployerArn: string, boundaryArn: string): PolicyStatementJson[] {
  return [
    { Sid: 'DenyChangesToItself', Effect: 'Deny', Action: ['iam:*', 'sts:*'], Resource: deployerArn },
    // Its own managed policies (`<deployer>-<n>`, inferred documents): a new version of one would be a new grant to itself.
    { Sid: 'DenyChangesToItsPolicies', Effect: 'Deny', Action: ['iam:*'], Resource: `${deployerArn.replace(':role/', ':policy/')}-*` },
    { Sid: 'DenyChangesToTheBoundary', Effect: 'Deny', Action: ['iam:*'], Resource: boundaryArn },
    {
      // The role actions IAM evaluates iam:PermissionsBoundary for: the key is absent for a role
      // without a boundary (StringNotEquals then matches), and is the new boundary for PutRolePermissionsBoundary.
      Sid: 'DenyRolesWithoutTheBoundary',
      Effect: 'Deny',
      Action: [...BOUNDARY_CONDITION_ACTIONS],
      Resource: '*',
      Condition: { StringNotEquals: { 'iam:PermissionsBoundary': boundaryArn } },
    },
    { Sid: 'DenyRemovingBoundaries', Effect: 'Deny', Action: ['iam:DeleteRolePermissionsBoundary'], Resource: '*' },
  ];
}

/** The role actions that create or change a role and for which IAM evaluates `iam:PermissionsBoundary` (IAM's data). */
export const BOUNDARY_CONDITION_ACTIONS: readonly string[] = [
  'iam:AttachRolePolicy',
  'iam:CreateRole',
  'iam:DeleteRole',
  'iam:DeleteRolePolicy',
  'iam:DetachRolePolicy',
  'iam:PutRolePermissionsBoundary',
  'iam:PutRolePolicy',
  'iam:UpdateAssumeRolePolicy',
  'iam:UpdateRole',
  'iam:UpdateRoleDescription',
];

/**
 * The permissions boundary of a service's roles in one environment: the most any role a deploy
 * creates can do, whatever its own policies say (an attached AdministratorAccess included).
 *
 * - Allowed: the data and messaging services functions use (by service), reading configuration and
 *   secrets, the data-key operations of KMS, invoking functions and APIs, managing the service's own
 *   functions' permissions (`<stack>-*`: event sources of existing buckets).
 * - Never: IAM, STS, Organizations, account and identity-center APIs (denied outright), and what
 *   the allowed list leaves out on purpose: running code as another identity (other functions'
 *   code or configuration, ssm:SendCommand, CodeBuild, CloudFormation, EC2), key policies and grants.
 */
export function permissionsBoundaryStatements(target: DeployTarget): PolicyStatementJson[] {
  const scope = deployScope(target);
  return [
    {
      Sid: 'ServiceData',
      Effect: 'Allow',
      Action: [...BOUNDARY_SERVICE_ACTIONS],
      Resource: '*',
    },
    {
      Sid: 'ServiceFunctions',
      Effect: 'Allow',
      Action: ['lambda:AddPermission', 'lambda:RemovePermission', 'lambda:GetPolicy', 'lambda:GetFunction', 'lambda:GetFunctionConfiguration'],
      Resource: scope.functionArn,
    },
    {
      Sid: 'DenyIdentityAndAccountChanges',
      Effect: 'Deny',
      Action: ['iam:*', 'sts:*', 'organizations:*', 'account:*', 'sso:*', 'sso-directory:*', 'identitystore:*', 'access-analyzer:*'],
      Resource: '*',
    },
  ];
}

/**
 * What the boundary lets a role do, by service: data, messaging, observability and invocation, not
 * control planes that run code as another identity or manage access.
 */
export const BOUNDARY_SERVICE_ACTIONS: readonly string[] = [
  'logs:*',
  'xray:*',
  'cloudwatch:PutMetricData',
  'dynamodb:*',
  's3:*',
  'sqs:*',
  'sns:*',
  'events:PutEvents',
  'scheduler:GetSchedule',
  'states:StartExecution',
  'states:StartSyncExecution',
  'states:DescribeExecution',
  'states:SendTask*',
  'kinesis:*',
  'firehose:PutRecord',
  'firehose:PutRecordBatch',
  'ses:SendEmail',
  'ses:SendRawEmail',
  'ses:SendTemplatedEmail',
  'execute-api:Invoke',
  'execute-api:ManageConnections',
  'appsync:GraphQL',
  'lambda:InvokeFunction',
  'lambda:InvokeFunctionUrl',
  'rds-data:*',
  'rds-db:connect',
  'ssm:GetParameter',
  'ssm:GetParameters',
  'ssm:GetParametersByPath',
  'secretsmanager:GetSecretValue',
  'secretsmanager:DescribeSecret',
  'appconfig:GetLatestConfiguration',
  'appconfig:StartConfigurationSession',
  'kms:Decrypt',
  'kms:Encrypt',
  'kms:GenerateDataKey*',
  'kms:ReEncrypt*',
  'kms:DescribeKey',
  'cognito-idp:*',
  'athena:*',
  'glue:Get*',
  'bedrock:InvokeModel',
  'bedrock:InvokeModelWithResponseStream',
  'comprehend:Detect*',
  'translate:TranslateText',
  'textract:*',
  'rekognition:Detect*',
];

/** Why each wildcard statement of the boundary is safe, by Sid. */
export const BOUNDARY_STATEMENT_REASONS: Readonly<Record<string, string>> = {
  ServiceData:
    "A permissions boundary grants nothing by itself: it caps what the service's roles may do. The cap lists the data, messaging and observability services a function uses, on any resource its own policy names; IAM, STS, Organizations and running code as another identity are outside it.",
  ServiceFunctions: "The service's own functions <stack>-*.",
};

/** Actions that amount to administrator access, refused in any deploy policy. */
const ADMIN_ACTIONS = new Set(['*', '*:*', 'iam:*', 'sts:*', 'organizations:*']);
/** Services whose wildcard actions open a way to more rights than the deploy needs. */
const ESCALATION_SERVICES = new Set(['iam', 'sts', 'organizations']);

/**
 * Check explicit statements: Allow statements must not grant every action, nor IAM or STS wholesale
 * (that is administrator access with extra steps).
 *
 * @param where the config path of the statements (`services[0].deployPermissions`)
 * @throws InputError naming each offending statement
 */
export function checkDeployStatements(statements: readonly PolicyStatementJson[], where: string): void {
  const problems: InputProblem[] = [];
  statements.forEach((statement, index) => {
    if ((statement.Effect ?? 'Allow') !== 'Allow') return;
    const actions = typeof statement.Action === 'string' ? [statement.Action] : statement.Action;
    const resources = typeof statement.Resource === 'string' ? [statement.Resource] : statement.Resource;
    for (const action of actions) {
      const lower = action.toLowerCase();
      const [service = '', name = ''] = lower.split(':');
      if (ADMIN_ACTIONS.has(lower) || service.includes('*')) {
        problems.push({
          where: `${where}[${index}].Action`,
          message: `"${action}" amounts to administrator access; list the actions the deploy needs (or use { infer: '<template>' })`,
        });
      } else if (ESCALATION_SERVICES.has(service) && name.includes('*')) {
        // iam:Attach*, iam:*Role*, sts:Assume*...: wildcards over IAM and STS are escalation paths.
        problems.push({
          where: `${where}[${index}].Action`,
          message: `"${action}" is a wildcard over ${service.toUpperCase()}, an escalation path; name each action the deploy needs`,
        });
      } else if (lower === 'iam:passrole' && resources.some((r) => r === '*')) {
        problems.push({
          where: `${where}[${index}].Resource`,
          message: 'iam:PassRole on "*" lets the deploy hand any role, administrators included, to a service; name the roles the stack creates',
        });
      }
    }
  });
  if (problems.length > 0) {
    throw new InputError('deploy permissions must not grant administrator access', problems);
  }
}
