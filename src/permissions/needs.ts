/**
 * Which of the actions a resource type's handlers list a given resource needs. The registry's
 * lists are supersets: a handler lists every call any property could make (a KMS key, a Kinesis
 * destination, an S3 import), and some calls no deploy should be able to make (reading and
 * writing a table's items). A resource needs:
 * - no data-plane action, ever: deploying creates and configures resources, it never reads or
 *   writes their data;
 * - no KMS action unless a property of it names a key (or asks for KMS encryption);
 * - an action of a property listed in `PROPERTY_GATES` only when that property is set;
 * - an action of another service that nothing in the template scopes (any resource of the
 *   account, or `*`) only when a property of it concerns that service. The delete handler's
 *   actions are kept: a rollback or a stack deletion that cannot finish leaves the stack stuck.
 */
import type { IamAction } from './iam-catalog.js';
import type { HandlerOperation } from './schema-registry.js';
import { isRecord, type TemplateResource } from './template.js';

/** The handler operations (and tagging) whose lists name an action. */
export type Operations = ReadonlySet<HandlerOperation | 'tagging'>;

/** Why an action a schema lists is not granted. */
export interface OmittedReason {
  /** `data-plane`, `no-kms-key`, `property-not-set`, `boundary`. */
  readonly kind: 'data-plane' | 'no-kms-key' | 'property-not-set' | 'boundary';
  /** For a reader. */
  readonly reason: string;
}

/**
 * Data-plane actions: what a service's clients call on a resource's content. Deploying never
 * needs them, whatever a schema lists.
 */
const DATA_PLANE: Readonly<Record<string, readonly string[]>> = {
  dynamodb: [
    'BatchGetItem',
    'BatchWriteItem',
    'ConditionCheckItem',
    'DeleteItem',
    'GetItem',
    'GetRecords',
    'GetShardIterator',
    'PartiQLDelete',
    'PartiQLInsert',
    'PartiQLSelect',
    'PartiQLUpdate',
    'PutItem',
    'Query',
    'Scan',
    'UpdateItem',
  ],
  kinesis: ['GetRecords', 'GetShardIterator', 'PutRecord', 'PutRecords', 'SubscribeToShard'],
  firehose: ['PutRecord', 'PutRecordBatch'],
  sqs: ['ChangeMessageVisibility', 'ChangeMessageVisibilityBatch', 'DeleteMessage', 'DeleteMessageBatch', 'PurgeQueue', 'ReceiveMessage', 'SendMessage', 'SendMessageBatch'],
  sns: ['Publish', 'PublishBatch'],
  s3tables: ['GetTableData', 'PutTableData'],
};
const DATA_PLANE_ACTIONS: ReadonlySet<string> = new Set(Object.entries(DATA_PLANE).flatMap(([service, names]) => names.map((n) => `${service}:${n}`.toLowerCase())));

/** Whether an action is a data-plane action. */
export function isDataPlane(action: IamAction): boolean {
  return DATA_PLANE_ACTIONS.has(action.name.toLowerCase());
}

/**
 * Actions of a resource type that only a property needs, whatever their scope: granted only when
 * one of `properties` is set on the resource. `actions` are IAM names, or `service:*`.
 */
export const PROPERTY_GATES: readonly { readonly type: string; readonly actions: readonly string[]; readonly properties: readonly string[] }[] = [
  { type: 'AWS::Logs::LogGroup', actions: ['logs:PutResourcePolicy', 'logs:DeleteResourcePolicy', 'logs:DescribeResourcePolicies'], properties: ['ResourcePolicyDocument'] },
  { type: 'AWS::Logs::LogGroup', actions: ['logs:PutIndexPolicy', 'logs:DeleteIndexPolicy', 'logs:DescribeIndexPolicies'], properties: ['FieldIndexPolicies'] },
  { type: 'AWS::Logs::LogGroup', actions: ['logs:CreateLogDelivery', 'firehose:*', 's3:*'], properties: ['DataProtectionPolicy'] },
  { type: 'AWS::DynamoDB::Table', actions: ['dynamodb:ImportTable', 'dynamodb:DescribeImport', 'logs:*', 's3:*'], properties: ['ImportSourceSpecification'] },
  { type: 'AWS::DynamoDB::Table', actions: ['kinesis:*'], properties: ['KinesisStreamSpecification'] },
  { type: 'AWS::S3::Bucket', actions: ['s3tables:*'], properties: ['MetadataTableConfiguration', 'MetadataConfiguration'] },
  { type: 'AWS::Events::EventBus', actions: ['events:PutPermission'], properties: ['Policy'] },
];

/**
 * What shows that a resource uses another service: a property (or a nested key) whose name
 * matches. Services not listed match their own prefix (`codedeploy`).
 */
const SERVICE_EVIDENCE: Readonly<Record<string, RegExp>> = {
  kms: /kms|masterkey|encryptionkey|keyarn|keyid/i,
  ec2: /vpc|subnet|securitygroup/i,
  elasticfilesystem: /filesystem/i,
  s3files: /filesystem/i,
  s3: /s3|bucket/i,
  s3tables: /s3tables|tablebucket/i,
  firehose: /firehose|deliverystream/i,
  logs: /log/i,
  iam: /role/i,
  lambda: /function|lambda|layer|codesigning|capacityprovider/i,
  sns: /sns|topic/i,
  sqs: /sqs|queue/i,
  events: /event/i,
  kinesis: /kinesis/i,
  'cognito-idp': /cognito|userpool/i,
  'application-autoscaling': /autoscaling/i,
  cloudwatch: /autoscaling|alarm|metric/i,
  codedeploy: /codedeploy/i,
  xray: /tracing|xray/i,
  secretsmanager: /secret/i,
  ssm: /ssm|parameter/i,
};

/** IAM resource types whose properties are named otherwise (`Layers` for `layerVersion`). */
const TYPE_EVIDENCE: Readonly<Record<string, RegExp>> = {
  layerVersion: /layer/i,
};

/** Property values that ask for KMS encryption without naming a key (an AWS managed key). */
const KMS_VALUE = /^(aws:)?kms(:dsse)?$/i;

/** The paths of every key set in a resource's properties (`Code.S3Bucket`), with leaf values. */
function propertyPaths(properties: Readonly<Record<string, unknown>>): { path: string; value: unknown }[] {
  const paths: { path: string; value: unknown }[] = [];
  const visit = (node: unknown, path: string): void => {
    if (Array.isArray(node)) {
      node.forEach((child) => visit(child, path));
      return;
    }
    if (!isRecord(node) || Object.keys(node).some((k) => k === 'Ref' || k.startsWith('Fn::'))) {
      if (node !== false && node !== '' && node !== null && node !== undefined) paths.push({ path, value: node });
      return;
    }
    for (const [key, child] of Object.entries(node)) visit(child, path ? `${path}.${key}` : key);
  };
  visit(properties, '');
  return paths;
}

/** The needs of one resource, worked out once. */
export class ResourceNeeds {
  private readonly paths: { path: string; value: unknown }[];
  private readonly evidence = new Map<string, boolean>();

  constructor(
    private readonly resource: TemplateResource,
    /** The IAM service prefixes of the resource's own type (`lambda` for `AWS::Lambda::Function`). */
    private readonly ownServices: ReadonlySet<string>,
  ) {
    // The update policy counts as a property: CodeDeploy shifts a Lambda alias's traffic through it.
    this.paths = propertyPaths(resource.updatePolicy === undefined ? resource.properties : { ...resource.properties, UpdatePolicy: resource.updatePolicy });
  }

  /**
   * Why the resource does not need an action before it is scoped, or `undefined` when it may:
   * data plane, boundary removal, KMS without a key, a gated property not set.
   */
  omittedBeforeScope(action: IamAction, neverGranted: ReadonlySet<string>): OmittedReason | undefined {
    if (isDataPlane(action)) return { kind: 'data-plane', reason: 'a data-plane action: deploying never reads or writes a resource\'s data' };
    if (neverGranted.has(action.name)) return { kind: 'boundary', reason: 'it takes the permissions boundary off a role or user: never granted' };
    if (action.service === 'kms' && !this.ownServices.has('kms') && !this.usesKms()) {
      return { kind: 'no-kms-key', reason: 'no property names a KMS key or asks for KMS encryption' };
    }
    for (const gate of PROPERTY_GATES) {
      if (gate.type !== this.resource.type || !gate.actions.some((a) => a === action.name || (a.endsWith(':*') && a.slice(0, -2) === action.service))) continue;
      if (!gate.properties.some((p) => this.resource.properties[p] !== undefined)) {
        return { kind: 'property-not-set', reason: `only ${gate.properties.join(' or ')} needs it, and it is not set` };
      }
    }
    return undefined;
  }

  /**
   * Why the resource does not need an action that nothing in the template scopes (`*`, or any
   * resource of its type in the account), or `undefined` when it may: an action of another
   * service needs a property that concerns that service; one on another resource type of its own
   * service (a layer, a code-signing config) needs a property that names that type. What the
   * delete handler lists on `*` stays: a rollback or a deletion that cannot finish leaves the
   * stack stuck.
   */
  omittedWhenUnscoped(action: IamAction, operations: Operations): OmittedReason | undefined {
    if (action.name === 'iam:PassRole' || action.name === 'iam:CreateServiceLinkedRole') return undefined;
    if (!action.resourceTypes.length && operations.has('delete')) return undefined;
    if (!this.ownServices.has(action.service)) {
      return this.concerns(action.service) ? undefined : { kind: 'property-not-set', reason: `no property of the resource concerns ${action.service}` };
    }
    if (!action.resourceTypes.length || action.resourceTypes.some((key) => this.names(key))) return undefined;
    return { kind: 'property-not-set', reason: `no property of the resource names a ${action.resourceTypes.join(' or ')}` };
  }

  /** Whether a property's name names an IAM resource type (`CodeSigningConfigArn`: code-signing-config). */
  private names(resourceTypeKey: string): boolean {
    const pattern = TYPE_EVIDENCE[resourceTypeKey] ?? new RegExp(resourceTypeKey.replace(/[^a-z0-9]/gi, ''), 'i');
    return this.paths.some(({ path }) => pattern.test(path.replace(/[^a-z0-9.]/gi, '')));
  }

  /** Whether a property names a KMS key or asks for KMS encryption. */
  private usesKms(): boolean {
    return this.concerns('kms');
  }

  /**
   * Whether a property of the resource concerns a service: by its name, by an ARN of the
   * service, or (for KMS) by asking for KMS encryption.
   */
  private concerns(service: string): boolean {
    let found = this.evidence.get(service);
    if (found === undefined) {
      const pattern = SERVICE_EVIDENCE[service] ?? new RegExp(service.replace(/[^a-z0-9]/gi, ''), 'i');
      found = this.paths.some(
        ({ path, value }) =>
          pattern.test(path) ||
          (typeof value === 'string' && ((value.startsWith('arn:') && value.split(':')[2] === service) || (service === 'kms' && KMS_VALUE.test(value)))),
      );
      this.evidence.set(service, found);
    }
    return found;
  }
}
