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
import { STACK_DEPLOY_ACTIONS } from '../permissions/infer.js';

/** An IAM policy document as JSON, as `inferDeployPolicy` returns them (split to fit IAM's size limits). */
export interface PolicyDocumentJson {
  readonly Version: string;
  readonly Statement: readonly PolicyStatementJson[];
}

/** Where a deployer role deploys: the values its default statements are scoped to. */
export interface DeployTarget {
  /** The service name (Serverless `service:`). */
  readonly service: string;
  /** The stage (environment name). */
  readonly stage: string;
  /** The target account. */
  readonly account: string;
  /** The target region. */
  readonly region: string;
  /** @default 'aws' */
  readonly partition?: string;
}

/**
 * The default deploy permissions: what `osls deploy --package` needs to create, update and
 * delete the stack `<service>-<stage>` and the resources the Serverless Framework names after it.
 *
 * - CloudFormation: that stack and its change sets, by name; `ValidateTemplate` (no resource-level
 *   permissions exist for it).
 * - S3: the deployment bucket CloudFormation creates for the stack (`<service>-<stage>-serverlessdeploymentbucket-*`).
 * - Lambda functions and their log groups named `<service>-<stage>-*`.
 * - IAM roles named `<service>-<stage>-*` (the functions' execution role); PassRole to them only,
 *   and only to Lambda.
 * - API Gateway REST and HTTP APIs (API Gateway ARNs carry ids, not names; the default
 *   Serverless API name `<stage>-<service>` is enforced through `apigateway:Request/ApiName`
 *   on creation).
 *
 * Services that use more (queues, tables, schedules...) list their own statements or use `infer`.
 */
export function defaultDeployStatements(target: DeployTarget): PolicyStatementJson[] {
  const p = target.partition ?? 'aws';
  const { account, region } = target;
  const prefix = `${target.service}-${target.stage}`;
  const stackArn = `arn:${p}:cloudformation:${region}:${account}:stack/${prefix}/*`;
  const bucket = `arn:${p}:s3:::${prefix}-serverlessdeploymentbucket-*`;
  return [
    {
      Sid: 'ServiceStack',
      Effect: 'Allow',
      // The same knowledge as the inference's: what deploying a stack calls on it and its change sets.
      Action: [...STACK_DEPLOY_ACTIONS],
      Resource: [stackArn, `arn:${p}:cloudformation:${region}:${account}:changeSet/*`],
    },
    { Sid: 'ValidateTemplate', Effect: 'Allow', Action: ['cloudformation:ValidateTemplate'], Resource: '*' },
    {
      Sid: 'DeploymentBucket',
      Effect: 'Allow',
      Action: [
        's3:CreateBucket',
        's3:DeleteBucket',
        's3:ListBucket',
        's3:ListBucketVersions',
        's3:GetBucketLocation',
        's3:GetBucketPolicy',
        's3:PutBucketPolicy',
        's3:DeleteBucketPolicy',
        's3:GetEncryptionConfiguration',
        's3:PutEncryptionConfiguration',
        's3:PutBucketPublicAccessBlock',
        's3:PutBucketOwnershipControls',
        's3:PutBucketTagging',
        's3:GetObject',
        's3:PutObject',
        's3:DeleteObject',
        's3:DeleteObjectVersion',
      ],
      Resource: [bucket, `${bucket}/*`],
    },
    {
      Sid: 'Functions',
      Effect: 'Allow',
      Action: [
        'lambda:CreateFunction',
        'lambda:DeleteFunction',
        'lambda:GetFunction',
        'lambda:GetFunctionConfiguration',
        'lambda:UpdateFunctionCode',
        'lambda:UpdateFunctionConfiguration',
        'lambda:PublishVersion',
        'lambda:ListVersionsByFunction',
        'lambda:AddPermission',
        'lambda:RemovePermission',
        'lambda:TagResource',
        'lambda:UntagResource',
        'lambda:ListTags',
        'lambda:PutFunctionConcurrency',
        'lambda:DeleteFunctionConcurrency',
      ],
      Resource: `arn:${p}:lambda:${region}:${account}:function:${prefix}-*`,
    },
    {
      Sid: 'FunctionLogs',
      Effect: 'Allow',
      Action: ['logs:CreateLogGroup', 'logs:DeleteLogGroup', 'logs:PutRetentionPolicy', 'logs:DeleteRetentionPolicy', 'logs:TagResource', 'logs:TagLogGroup'],
      Resource: `arn:${p}:logs:${region}:${account}:log-group:/aws/lambda/${prefix}-*`,
    },
    { Sid: 'DescribeLogGroups', Effect: 'Allow', Action: ['logs:DescribeLogGroups'], Resource: `arn:${p}:logs:${region}:${account}:log-group:*` },
    {
      Sid: 'FunctionRoles',
      Effect: 'Allow',
      Action: [
        'iam:CreateRole',
        'iam:DeleteRole',
        'iam:GetRole',
        'iam:TagRole',
        'iam:UntagRole',
        'iam:PutRolePolicy',
        'iam:GetRolePolicy',
        'iam:DeleteRolePolicy',
        'iam:AttachRolePolicy',
        'iam:DetachRolePolicy',
      ],
      Resource: `arn:${p}:iam::${account}:role/${prefix}-*`,
    },
    {
      Sid: 'PassFunctionRoles',
      Effect: 'Allow',
      Action: ['iam:PassRole'],
      Resource: `arn:${p}:iam::${account}:role/${prefix}-*`,
      Condition: { StringEquals: { 'iam:PassedToService': 'lambda.amazonaws.com' } },
    },
    {
      Sid: 'CreateServiceApi',
      Effect: 'Allow',
      Action: ['apigateway:POST'],
      Resource: [`arn:${p}:apigateway:${region}::/restapis`, `arn:${p}:apigateway:${region}::/apis`],
      Condition: { StringLike: { 'apigateway:Request/ApiName': [`${target.stage}-${target.service}`, `${prefix}*`] } },
    },
    {
      Sid: 'ManageServiceApi',
      Effect: 'Allow',
      Action: ['apigateway:GET', 'apigateway:POST', 'apigateway:PUT', 'apigateway:PATCH', 'apigateway:DELETE'],
      Resource: [
        `arn:${p}:apigateway:${region}::/restapis/*`,
        `arn:${p}:apigateway:${region}::/apis/*`,
        `arn:${p}:apigateway:${region}::/tags/*`,
      ],
      Condition: { StringLikeIfExists: { 'apigateway:Resource/ApiName': [`${target.stage}-${target.service}`, `${prefix}*`] } },
    },
  ];
}

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
