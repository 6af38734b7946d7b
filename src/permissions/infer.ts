/**
 * Infer the least-privilege policy a deployer needs to deploy a CloudFormation template:
 * for each resource, the actions its registry handlers call (create, update, delete, tagging),
 * each scoped to the ARNs it acts on; what deploying the stack itself needs; `iam:PassRole`
 * only on the roles the template creates, for the services that assume them.
 *
 * Pure and synchronous: the registry holds everything read from disk.
 */
import { partitionOf } from '../model/plan.js';
import type { PolicyStatementJson } from '../model/config.js';
import {
  arnPatternsOverlap,
  boundaryCondition,
  deployerRoleOfBoundary,
  type DeployerGuard,
  escalationGuardStatements,
  guardedArns,
  NEVER_GRANTED,
  PERMISSIONS_BOUNDARY_KEY,
  requiresBoundary,
} from './escalation.js';
import type { IamAction, IamResourceType } from './iam-catalog.js';
import { type OmittedReason, type Operations, ResourceNeeds } from './needs.js';
import { type Grant, groupGrants, IAM_POLICY_LIMITS, list, type PolicyDocument, type PolicyStatement, policySize, splitIntoDocuments } from './policy.js';
import { arnShape, fillArnFormat, generatedNameIsTruncated, ResourceArns } from './resource-arns.js';
import type { HandlerOperation, SchemaRegistry } from './schema-registry.js';
import { arnsIn, type CloudFormationTemplate, isRecord, parseTemplate, referencedLogicalIds, resolveString, type TemplateResource, UNKNOWN } from './template.js';

/** Options of `inferDeployPolicy`. */
export interface InferDeployPolicyOptions {
  /** The resource schemas and IAM data (`loadSchemaRegistry`). */
  readonly registry: SchemaRegistry;
  /** The stack's name (`<service>-<stage>` for the Serverless Framework). */
  readonly stackName: string;
  /** The region it is deployed to. */
  readonly region: string;
  /** The account it is deployed to (`*` when not known yet: ARNs then match any account's resources). */
  readonly account: string;
  /**
   * The permissions boundary (`arn:aws:iam::<account>:policy/<service>-<env>-boundary`) that every
   * role or user the deployer creates or changes must carry: each action for which IAM evaluates
   * `iam:PermissionsBoundary` (`iam:CreateRole`, `iam:PutRolePolicy`, `iam:AttachRolePolicy`...)
   * is granted only with that boundary.
   *
   * @default - none: those actions are not granted at all
   */
  readonly permissionsBoundaryArn?: string;
  /**
   * The deployer role itself: nothing is granted on it, and the guard statements deny every IAM
   * action on it.
   *
   * @default - `role/<service>-<env>-deployer` when the boundary is named `<service>-<env>-boundary`
   */
  readonly deployerRoleArn?: string;
  /**
   * Add the Deny statements that keep the deployer off itself, its own policies and the boundary
   * (`DenyDeployerAndBoundary`, `DenyBoundaryRemoval`), when a boundary is given. Turn off only
   * where the caller adds the same statements around the policy itself.
   *
   * @default true
   */
  readonly guard?: boolean;
  /**
   * The partition.
   *
   * @default - the region's (`aws`, `aws-cn`, `aws-us-gov`...)
   */
  readonly partition?: string;
  /**
   * The name of an existing bucket the deploy tool uploads the package and template to.
   *
   * @default - the template's own `ServerlessDeploymentBucket`, if it has one; else no upload permissions
   */
  readonly deploymentBucket?: string;
  /**
   * Values of the template's parameters.
   *
   * @default - their defaults (`*` for those without)
   */
  readonly parameters?: Readonly<Record<string, string>>;
  /**
   * The actions a resource type needs, replacing the registry's (for types whose schema lists no
   * handlers, or lists them wrong). Scoped like the registry's.
   *
   * @default - none
   */
  readonly overrides?: Readonly<Record<string, readonly string[]>>;
  /**
   * Statements added as they are (the config's `deployPermissions.extra`).
   *
   * @default - none
   */
  readonly extraStatements?: readonly PolicyStatementJson[];
  /**
   * The largest policy document, in characters without whitespace.
   *
   * @default 6144 (a customer managed policy)
   */
  readonly maxPolicySize?: number;
  /**
   * The handler operations whose permissions are granted.
   *
   * @default ['create', 'update', 'delete']
   */
  readonly operations?: readonly HandlerOperation[];
  /**
   * Cut ARNs of resources named after the stack to the stack-name prefix, so that big
   * templates fit IAM's limits: `auto` does it when the policy would need more managed
   * policies than a role may have (10).
   *
   * @default 'auto'
   */
  readonly compact?: 'auto' | 'always' | 'never';
  /**
   * What names the template in error messages (its file).
   *
   * @default 'template'
   */
  readonly templateName?: string;
}

/** A statement of the inferred policy, with why it is there. */
export interface ExplainedStatement {
  /** The statement, as it appears in `documents`. */
  readonly statement: PolicyStatement;
  /** What needs it: `HelloLambdaFunction (AWS::Lambda::Function)`, `the stack itself`... */
  readonly neededBy: readonly string[];
  /** Why a resource of it is `*` or holds a `*`, and for which of its actions. */
  readonly wildcards: readonly { readonly reason: string; readonly actions: readonly string[] }[];
}

/** An action a schema lists that is not an IAM action: dropped. */
export interface InvalidAction {
  /** The string as the schema has it. */
  readonly action: string;
  /** The resource types whose schemas list it. */
  readonly resourceTypes: readonly string[];
  /** Why it was dropped. */
  readonly reason: string;
}

/** Actions the schemas list that are not granted, and why. */
export interface OmittedAction {
  readonly action: string;
  readonly kind: OmittedReason['kind'];
  readonly reason: string;
  /** The resources whose schemas list it: `ItemsTable (AWS::DynamoDB::Table)`. */
  readonly neededBy: readonly string[];
}

/** A resource type whose permissions the registry does not give. */
export interface UnknownResourceType {
  readonly type: string;
  /** The template's resources of that type. */
  readonly logicalIds: readonly string[];
  /** What was granted instead. */
  readonly fallback: 'override' | 'iam-write-actions' | 'none';
}

/** The inferred policy. */
export interface InferredPolicy {
  /** The policy, split into documents that each fit `maxPolicySize`. */
  readonly documents: PolicyDocument[];
  /** Every statement of `documents`, with its explanation. */
  readonly statements: ExplainedStatement[];
  /** Things a reviewer must know: grants broader than the template's resources, unknown types, roles not created by the template, transforms... */
  readonly warnings: string[];
  /** Actions the schemas list that these resources do not need (data plane, properties not set), or that are never granted. */
  readonly omitted: OmittedAction[];
  /** The permissions boundary the role-changing actions require, and the deployer kept off, when given. */
  readonly guard?: DeployerGuard;
  /** Action strings of the schemas that are not IAM actions: dropped. */
  readonly invalidActions: InvalidAction[];
  /** Resource types without handler permissions, and their fallback. */
  readonly unknownTypes: UnknownResourceType[];
  /** The size of each document in characters without whitespace, and IAM's limits. */
  readonly sizes: { readonly documents: number[]; readonly total: number; readonly managedPolicyLimit: number; readonly inlineAggregateLimit: number };
}

/** An ARN an action is scoped to, and why it holds a `*`. */
interface Scoped {
  readonly resource: string;
  readonly wildcard?: string;
  /** It reaches more than the template's own resources: a warning says so. */
  readonly broad?: boolean;
}

/** A grant with why it is there. */
interface ExplainedGrant extends Grant, Scoped {
  readonly neededBy: string;
}

/** Types CloudFormation handles itself: deploying them calls no service on the deployer's behalf. */
const TYPES_WITHOUT_CALLS = new Set(['AWS::CDK::Metadata', 'AWS::CloudFormation::WaitConditionHandle', 'AWS::CloudFormation::WaitCondition', 'AWS::CloudFormation::Macro']);

/** What deploying the stack itself calls: CloudFormation on the stack and its change sets. */
export const STACK_DEPLOY_ACTIONS: readonly string[] = [
  'cloudformation:CreateStack',
  'cloudformation:UpdateStack',
  'cloudformation:DeleteStack',
  'cloudformation:DescribeStacks',
  'cloudformation:DescribeStackEvents',
  'cloudformation:DescribeStackResource',
  'cloudformation:DescribeStackResources',
  'cloudformation:ListStackResources',
  'cloudformation:GetTemplate',
  'cloudformation:GetTemplateSummary',
  'cloudformation:CreateChangeSet',
  'cloudformation:DescribeChangeSet',
  'cloudformation:ExecuteChangeSet',
  'cloudformation:DeleteChangeSet',
  'cloudformation:ListChangeSets',
  'cloudformation:RollbackStack',
  'cloudformation:ContinueUpdateRollback',
  'cloudformation:TagResource',
  'cloudformation:UntagResource',
];
/** On the deployment bucket: find it, and list what earlier deploys left (to prune them). */
const BUCKET_ACTIONS = ['s3:ListBucket', 's3:GetBucketLocation'];
/** On its objects: upload the package and template; CloudFormation reads the template as the caller. */
const BUCKET_OBJECT_ACTIONS = ['s3:PutObject', 's3:GetObject', 's3:DeleteObject'];

const STACK_NEED = 'the stack itself';
const GUARD_NEED = 'the deployer\'s guard: nothing on the deployer, its policies or the boundary';
const NO_RESOURCE_LEVEL = '*: IAM supports no resource-level permissions for these actions';
const BUCKET_NEED = 'the deployment bucket';

/**
 * Infer the deploy policy of a template.
 *
 * @throws InputError when `template` is not a CloudFormation template.
 */
export function inferDeployPolicy(template: unknown, options: InferDeployPolicyOptions): InferredPolicy {
  const parsed = parseTemplate(template, options.templateName);
  return new Inference(parsed, options).run();
}

class Inference {
  private grants: ExplainedGrant[] = [];
  private readonly omitted = new Map<string, { action: string; omitted: OmittedReason; neededBy: Set<string> }>();
  private readonly guard: DeployerGuard | undefined;
  private readonly warnings: string[] = [];
  private readonly invalid = new Map<string, { reason: string; types: Set<string> }>();
  private readonly unknownTypes = new Map<string, { logicalIds: string[]; fallback: UnknownResourceType['fallback'] }>();
  private readonly passRoleNeeds: { resource: TemplateResource }[] = [];
  private readonly arns: ResourceArns;
  private readonly logicalIds: ReadonlySet<string>;
  private readonly placement: { partition: string; region: string; account: string };
  private readonly actionsByType = new Map<string, readonly { action: IamAction; operations: Operations }[]>();
  /** What each resource's properties refer to, worked out once per resource. */
  private readonly references = new Map<string, { logicalIds: string[]; arns: string[] }>();
  /** Actions not granted because nothing names what they act on, by type and resource type. */
  private readonly ungranted = new Map<string, { actions: Set<string>; logicalIds: Set<string> }>();

  constructor(
    private readonly template: CloudFormationTemplate,
    private readonly options: InferDeployPolicyOptions,
  ) {
    const parameters = new Map(template.parameterDefaults);
    for (const [name, value] of Object.entries(options.parameters ?? {})) parameters.set(name, value);
    this.placement = { partition: options.partition ?? partitionOf(options.region), region: options.region, account: options.account };
    this.arns = new ResourceArns(template, options.registry, { ...this.placement, stackName: options.stackName, parameters });
    this.logicalIds = new Set(template.resources.map((r) => r.logicalId));
    const boundary = options.permissionsBoundaryArn;
    const deployer = options.deployerRoleArn ?? (boundary ? deployerRoleOfBoundary(boundary) : undefined);
    this.guard = boundary ? { permissionsBoundaryArn: boundary, ...(deployer ? { deployerRoleArn: deployer } : {}) } : undefined;
  }

  run(): InferredPolicy {
    for (const transform of this.template.transforms) {
      this.warnings.push(`the template declares Transform ${transform}: the resources it generates are not in this template, so their permissions are not inferred; infer from the processed template instead`);
    }
    if (this.options.account === UNKNOWN) {
      this.warnings.push('the account is not known: every ARN matches any account\'s resources, and S3 buckets are not kept to the account; give the account deployed to');
    }
    for (const resource of this.template.resources) this.resourceGrants(resource);
    this.passRoleGrants();
    this.stackGrants();
    this.checkRoleBoundaries();
    this.keepOffGuarded();

    for (const [key, { actions, logicalIds }] of this.ungranted) {
      const [type, what] = key.split('\u0000') as [string, string];
      this.warnings.push(
        `${type} (${listed([...logicalIds])}): the schema lists ${[...actions].join(', ')}, but the template names no ${what} for it; not granted (add a statement in deployPermissions.extra if the deploy needs it)`,
      );
    }
    for (const [type, entry] of this.unknownTypes) {
      const which = `${entry.logicalIds.length} resource${entry.logicalIds.length > 1 ? 's' : ''} (${listed(entry.logicalIds)})`;
      const message =
        entry.fallback === 'override'
          ? `${type}: the registry lists no handler permissions; used the overrides given for it`
          : entry.fallback === 'iam-write-actions'
            ? `${type}: the registry lists no handler permissions; granted IAM's write, tagging and read actions on that resource type, scoped to its ARN, for ${which}; review them, or give the exact actions as an override of ${type}`
            : `${type}: the registry lists no handler permissions and IAM's data has no matching resource type; granted nothing for ${which}; give its actions as an override of ${type} (or statements in deployPermissions.extra)`;
      this.warnings.push(message);
    }

    let grants: readonly ExplainedGrant[] = this.grants;
    let { statements, documents } = this.build(grants);
    const compact = this.options.compact ?? 'auto';
    if (compact === 'always' || (compact === 'auto' && documents.length > IAM_POLICY_LIMITS.managedPoliciesPerRole)) {
      const before = documents.length;
      grants = this.compacted(this.grants);
      ({ statements, documents } = this.build(grants));
      if (compact === 'auto') this.warnings.push(`the policy needed ${before} managed policies; resources named after the stack were allowed by the stack-name prefix instead, which takes ${documents.length}`);
    }
    for (const [reason, actions] of broadReasons(grants)) {
      this.warnings.push(`broader than the template's own resources: ${[...actions].sort().join(', ')} on ${reason}`);
    }
    for (const extra of this.options.extraStatements ?? []) {
      for (const action of typeof extra.Action === 'string' ? [extra.Action] : extra.Action) {
        if (!action.includes('*') && !this.options.registry.iam.action(action)) this.warnings.push(`extra statement ${extra.Sid ?? ''}: ${action} is not an IAM action known to this version of the IAM data`);
      }
    }
    const sizes = documents.map((d) => policySize(d));
    const total = sizes.reduce((a, b) => a + b, 0);
    if (documents.length > IAM_POLICY_LIMITS.managedPoliciesPerRole) {
      this.warnings.push(`the policy needs ${documents.length} managed policies; a role may have ${IAM_POLICY_LIMITS.managedPoliciesPerRole} by default (the quota can be raised to 20)`);
    }
    return {
      documents,
      statements,
      warnings: this.warnings,
      omitted: [...this.omitted.values()].map(({ action, omitted, neededBy }) => ({ action, kind: omitted.kind, reason: omitted.reason, neededBy: [...neededBy] })),
      ...(this.guard ? { guard: this.guard } : {}),
      invalidActions: [...this.invalid.entries()].map(([action, { reason, types }]) => ({ action, reason, resourceTypes: [...types].sort() })),
      unknownTypes: [...this.unknownTypes.entries()].map(([type, { logicalIds, fallback }]) => ({ type, logicalIds, fallback })),
      sizes: { documents: sizes, total, managedPolicyLimit: IAM_POLICY_LIMITS.managedPolicy, inlineAggregateLimit: IAM_POLICY_LIMITS.roleInlineAggregate },
    };
  }

  /** Statements (with their explanations, and the extra statements) and the documents they split into. */
  private build(grants: readonly ExplainedGrant[]): { statements: ExplainedStatement[]; documents: PolicyDocument[] } {
    const sidCounts = new Map<string, number>();
    const statements: ExplainedStatement[] = groupGrants(grants).map(({ statement, grants: grouped }) => {
      const first = typeof statement.Action === 'string' ? statement.Action : statement.Action[0]!;
      const prefix = first.split(':')[0]!.replace(/(^|-)([a-z0-9])/g, (_m, _d, c: string) => c.toUpperCase());
      const count = (sidCounts.get(prefix) ?? 0) + 1;
      sidCounts.set(prefix, count);
      const explained = grouped as ExplainedGrant[];
      return {
        statement: { Sid: `${prefix}${count}`, ...statement },
        neededBy: unique(explained.map((g) => g.neededBy)),
        wildcards: wildcardReasons(explained),
      };
    });
    if (this.guard && this.options.guard !== false) {
      for (const statement of escalationGuardStatements(this.guard)) {
        const wildcards = list(statement.Resource)
          .filter((r) => r.includes('*'))
          .map((r) => ({ reason: r === UNKNOWN ? '*: no role or user of the account may lose its boundary' : `${r}: the deployer's own managed policies`, actions: [...list(statement.Action)] }));
        statements.push({ statement, neededBy: [GUARD_NEED], wildcards });
      }
    }
    (this.options.extraStatements ?? []).forEach((extra, index) => {
      statements.push({
        statement: { ...extra, Sid: extra.Sid ?? `Extra${index + 1}`, Effect: extra.Effect ?? 'Allow' },
        neededBy: ['extra statements (deployPermissions.extra)'],
        wildcards: [],
      });
    });
    const documents = splitIntoDocuments(
      statements.map((s) => s.statement),
      this.options.maxPolicySize ?? IAM_POLICY_LIMITS.managedPolicy,
    );
    return { statements, documents };
  }

  /**
   * The grants with every ARN that names a resource after the stack cut to the stack-name
   * prefix (`function:orders-dev-create` → `function:orders-dev*`): far fewer ARNs, still
   * limited to this stack's naming. The stack's own ARN is kept exact.
   */
  private compacted(grants: readonly ExplainedGrant[]): ExplainedGrant[] {
    const stackName = this.options.stackName;
    return grants.map((grant) => {
      const at = grant.resource.indexOf(stackName);
      // IAM ARNs stay exact: a stack-name prefix could reach the deployer role (`<service>-<env>-deployer`).
      if (at < 0 || grant.neededBy === STACK_NEED || grant.action.startsWith('iam:') || grant.resource === `${grant.resource.slice(0, at)}${stackName}*`) return grant;
      const resource = `${grant.resource.slice(0, at)}${stackName}*`;
      return { ...grant, resource, broad: true, wildcard: `${resource}: the resources named after the stack, allowed by its name prefix to keep the policy within IAM's limits` };
    });
  }

  /** The grants of one template resource. */
  private resourceGrants(resource: TemplateResource): void {
    if (TYPES_WITHOUT_CALLS.has(resource.type)) return;
    const neededBy = `${resource.logicalId} (${resource.type})`;
    if (resource.type.startsWith('Custom::') || resource.type === 'AWS::CloudFormation::CustomResource') {
      this.customResourceGrants(resource, neededBy);
      return;
    }
    const needs = new ResourceNeeds(resource, this.ownServices(resource.type));
    for (const { action, operations } of this.actionsOf(resource)) {
      if (action.name === 'iam:PassRole') {
        this.passRoleNeeds.push({ resource });
        continue;
      }
      const omitted =
        needs.omittedBeforeScope(action, NEVER_GRANTED) ??
        (requiresBoundary(action) && !this.guard
          ? { kind: 'boundary' as const, reason: 'it creates or changes a role or user, which is granted only under a permissions boundary, and none was given' }
          : undefined);
      if (omitted) {
        this.omit(action.name, neededBy, omitted);
        continue;
      }
      const scopedTo = this.scope(action, resource, () => needs.omittedWhenUnscoped(action, operations));
      if (!Array.isArray(scopedTo)) {
        this.omit(action.name, neededBy, scopedTo);
        continue;
      }
      for (const scoped of scopedTo) {
        const condition = this.conditionOf(action, resource, scoped.resource);
        this.grants.push({
          action: action.name,
          ...scoped,
          neededBy,
          ...(condition ? { condition: condition.condition } : {}),
          ...(condition?.narrows ? { broad: false } : {}),
        });
      }
    }
  }

  /** Record an action not granted. */
  private omit(action: string, neededBy: string, omitted: OmittedReason): void {
    const key = `${action}\u0000${omitted.reason}`;
    const entry = this.omitted.get(key) ?? { action, omitted, neededBy: new Set<string>() };
    entry.neededBy.add(neededBy);
    this.omitted.set(key, entry);
  }

  /** The IAM service prefixes of a resource type's own resources (`apigateway` for `AWS::ApiGatewayV2::Api`). */
  private ownServices(type: string): Set<string> {
    const template = this.options.registry.arnTemplate(type);
    return new Set([type.split('::')[1]?.toLowerCase() ?? '', ...(template ? [template.split(':')[2]!] : [])]);
  }

  /**
   * The condition an action's grant carries: the permissions boundary for IAM's role- and
   * user-changing actions; the function for Lambda's event source mappings; the account for S3
   * (bucket names are global). `narrows`: it keeps a broad ARN to the template's resources.
   */
  private conditionOf(action: IamAction, resource: TemplateResource, arn: string): { condition: NonNullable<Grant['condition']>; narrows: boolean } | undefined {
    if (requiresBoundary(action) && this.guard) return { condition: boundaryCondition(this.guard.permissionsBoundaryArn), narrows: false };
    if (action.name === 'iam:CreateServiceLinkedRole') {
      return { condition: { StringLike: { 'iam:AWSServiceName': serviceLinkedRolePrincipals(this.ownServices(resource.type)) } }, narrows: false };
    }
    if (action.conditionKeys.includes('lambda:FunctionArn') && resource.type === 'AWS::Lambda::EventSourceMapping' && action.accessLevel !== 'Read') {
      const functionArn = this.functionArnOf(resource.properties['FunctionName']);
      if (functionArn) return { condition: { ArnLike: { 'lambda:FunctionArn': [functionArn, `${functionArn}:*`] } }, narrows: true };
    }
    if (action.service === 's3' && action.name !== 's3:CreateBucket' && this.options.account !== UNKNOWN && arn.startsWith(`arn:${this.placement.partition}:s3:::`)) {
      if (action.conditionKeys.includes('s3:ResourceAccount')) return { condition: { StringEquals: { 's3:ResourceAccount': this.options.account } }, narrows: false };
    }
    return undefined;
  }

  /** The ARN of the function a property names (a function of the template, a name or an ARN). */
  private functionArnOf(value: unknown): string | undefined {
    const referenced = referencedLogicalIds(value, this.logicalIds).find((id) => this.arns.resource(id)?.type === 'AWS::Lambda::Function');
    if (referenced) return this.arns.arnOf(referenced)?.arn;
    const resolved = resolveString(value, this.arns.context);
    if (!resolved || resolved === UNKNOWN) return undefined;
    return resolved.startsWith('arn:') ? resolved : fillArnFormat('arn:${Partition}:lambda:${Region}:${Account}:function:${FunctionName}', this.placement, { FunctionName: resolved });
  }

  /** The template's roles and users must carry the boundary, or the deploy is denied: say so before it is. */
  private checkRoleBoundaries(): void {
    if (!this.guard) return;
    const expected = this.guard.permissionsBoundaryArn;
    for (const role of this.template.resources.filter((r) => r.type === 'AWS::IAM::Role' || r.type === 'AWS::IAM::User')) {
      const given = role.properties['PermissionsBoundary'];
      const resolved = given === undefined ? undefined : resolveString(given, this.arns.context);
      if (given === undefined) {
        this.warnings.push(
          `${role.logicalId} (${role.type}) has no PermissionsBoundary: creating it is allowed only with ${expected}, so the deploy is denied unless it carries it (the serverless flavor's deploy step sets it on the roles osls creates)`,
        );
      } else if (resolved && resolved !== UNKNOWN && !arnPatternsOverlap(resolved, expected)) {
        this.warnings.push(`${role.logicalId} (${role.type}) has the permissions boundary ${resolved}, not ${expected}: the deploy is denied`);
      }
    }
  }

  /**
   * Nothing granted on the deployer, its own policies or the boundary: a grant that names one of
   * them is dropped; one whose pattern could match one is kept (it is the template's) and the
   * guard statements deny the rest, which the reviewer is told.
   */
  private keepOffGuarded(): void {
    if (!this.guard) return;
    const guarded = guardedArns(this.guard);
    const told = new Set<string>();
    this.grants = this.grants.filter((grant) => {
      if (!grant.action.startsWith('iam:')) return true;
      const hit = guarded.find((arn) => arnPatternsOverlap(grant.resource, arn));
      if (!hit) return true;
      if (!grant.resource.includes('*')) {
        this.warnings.push(`${grant.neededBy} names ${grant.resource}, which belongs to the deployer: ${grant.action} is not granted on it`);
        return false;
      }
      // Under the boundary condition, the grant cannot reach the deployer, which has no boundary.
      if (JSON.stringify(grant.condition ?? {}).includes(PERMISSIONS_BOUNDARY_KEY)) return true;
      if (!told.has(grant.resource)) {
        told.add(grant.resource);
        this.warnings.push(
          `${grant.resource} (${grant.neededBy}) could also match ${hit}: the Deny statement DenyDeployerAndBoundary keeps the deployer off it${this.options.guard === false ? ' (add it around this policy)' : ''}`,
        );
      }
      return true;
    });
  }

  /** The IAM actions a resource's type needs (validated), from overrides, the registry, or the fallback, each with the operations that list it. */
  private actionsOf(resource: TemplateResource): readonly { action: IamAction; operations: Operations }[] {
    const cached = this.actionsByType.get(resource.type);
    if (cached) {
      this.unknownTypes.get(resource.type)?.logicalIds.push(resource.logicalId);
      return cached;
    }
    const registry = this.options.registry;
    const schema = registry.schema(resource.type);
    const override = this.options.overrides?.[resource.type];
    // Overrides and the fallback are what the resource needs as a whole: they count as every operation's.
    const every: Operations = new Set<HandlerOperation>(['create', 'update', 'delete']);
    let actions: { action: IamAction; operations: Operations }[];
    if (override) {
      if (!schema?.hasHandlers) this.unknownTypes.set(resource.type, { logicalIds: [resource.logicalId], fallback: 'override' });
      actions = this.validated(override, resource.type).map((action) => ({ action, operations: every }));
    } else if (schema?.hasHandlers) {
      const byName = new Map<string, { action: IamAction; operations: Set<HandlerOperation | 'tagging'> }>();
      const lists: [HandlerOperation | 'tagging', readonly string[]][] = [
        ...(this.options.operations ?? ['create', 'update', 'delete']).map((op): [HandlerOperation, readonly string[]] => [op, schema.handlers[op] ?? []]),
        ['tagging', schema.taggingPermissions],
      ];
      for (const [operation, names] of lists) {
        for (const action of this.validated(names, resource.type)) {
          const entry = byName.get(action.name) ?? { action, operations: new Set() };
          entry.operations.add(operation);
          byName.set(action.name, entry);
        }
      }
      actions = [...byName.values()];
    } else {
      actions = this.fallbackActions(resource).map((action) => ({ action, operations: every }));
      this.unknownTypes.set(resource.type, { logicalIds: [resource.logicalId], fallback: actions.length ? 'iam-write-actions' : 'none' });
    }
    this.actionsByType.set(resource.type, actions);
    return actions;
  }

  /** Keep the IAM actions among these strings; record the others as invalid. */
  private validated(names: readonly string[], type: string): IamAction[] {
    const iam = this.options.registry.iam;
    const actions = new Map<string, IamAction>();
    for (const name of new Set(names)) {
      const match = /^([a-z0-9-]+):([A-Za-z0-9*]+)$/.exec(name);
      let reason: string | undefined;
      if (!match) reason = 'not an IAM action name (service:Action)';
      else if (!iam.hasService(match[1]!)) reason = `IAM has no service "${match[1]}"`;
      else if (match[2]!.includes('*')) {
        const pattern = new RegExp(`^${match[2]!.replace(/\*/g, '.*')}$`, 'i');
        const expanded = iam.actionsOf(match[1]!).filter((a) => pattern.test(a.name.split(':')[1]!));
        if (match[2] === '*') reason = 'a wildcard over every action of the service: not granted; give the actions needed as an override';
        else if (!expanded.length) reason = 'a wildcard that matches no IAM action';
        else expanded.forEach((a) => actions.set(a.name, a));
      } else {
        const action = iam.action(name);
        if (action) actions.set(action.name, action);
        else reason = `IAM's ${match[1]} service has no action "${match[2]}"`;
      }
      if (reason) {
        const entry = this.invalid.get(name) ?? { reason, types: new Set<string>() };
        entry.types.add(type);
        this.invalid.set(name, entry);
      }
    }
    return [...actions.values()];
  }

  /**
   * For a type the registry gives no handler permissions: IAM's write, tagging and read actions
   * on the IAM resource type that matches it.
   */
  private fallbackActions(resource: TemplateResource): IamAction[] {
    const iam = this.options.registry.iam;
    const matching = this.matchingIamResourceType(resource.type);
    if (!matching) return [];
    return iam
      .actionsOf(matching.service)
      .filter((a) => ['Write', 'Tagging', 'Read'].includes(a.accessLevel) && a.resourceTypes.some((k) => k.toLowerCase() === matching.key.toLowerCase()));
  }

  /** The IAM resource type of a CloudFormation type: by ARN template, else by name (`AWS::Logs::LogGroup` → `log-group`). */
  private matchingIamResourceType(type: string): IamResourceType | undefined {
    const [, service, name] = type.split('::');
    if (!service || !name) return undefined;
    const iam = this.options.registry.iam;
    const template = this.options.registry.arnTemplate(type);
    const candidates = [service.toLowerCase(), ...(template ? [template.split(':')[2]!] : [])];
    for (const prefix of new Set(candidates)) {
      if (!iam.hasService(prefix)) continue;
      const types = iam.actionsOf(prefix).flatMap((a) => a.resourceTypes).map((k) => iam.resourceType(prefix, k)).filter((t): t is IamResourceType => t !== undefined);
      const byTemplate = template && types.find((t) => arnShape(t.arn) === arnShape(template));
      if (byTemplate) return byTemplate;
      const byName = types.find((t) => t.key.replace(/[^a-z0-9]/gi, '').toLowerCase() === name.toLowerCase());
      if (byName) return byName;
    }
    return undefined;
  }

  /**
   * The resources an action of a template resource is scoped to; or, where nothing in the
   * template names what it acts on and the resource does not need it (`unneeded`), why not.
   */
  private scope(action: IamAction, resource: TemplateResource, unneeded: () => OmittedReason | undefined): Scoped[] | OmittedReason {
    const iam = this.options.registry.iam;
    if (!action.resourceTypes.length) {
      return unneeded() ?? [{ resource: UNKNOWN, wildcard: NO_RESOURCE_LEVEL, broad: true }];
    }
    if (action.service === 'apigateway') return this.apiGatewayScope(resource);
    const formats = action.resourceTypes.map((k) => iam.resourceType(action.service, k)).filter((t): t is IamResourceType => t !== undefined);

    // The resource itself is of a type the action acts on; else a resource it refers to is.
    const referenced = this.referencesOf(resource).logicalIds.filter((id) => id !== resource.logicalId);
    for (const ids of [[resource.logicalId], referenced]) {
      const exact: Scoped[] = [];
      const children: Scoped[] = [];
      for (const id of ids) {
        const own = this.arns.arnOf(id);
        if (!own) continue;
        const shape = arnShape(this.options.registry.arnTemplate(this.arns.resource(id)!.type)!);
        for (const format of formats) {
          const formatShape = arnShape(format.arn);
          if (formatShape === shape) {
            exact.push(this.explainArn(own.arn, own.origin, id));
            // CloudWatch Logs evaluates some actions against `log-group:<name>:*` (its log streams).
            if (format.service === 'logs' && format.key === 'log-group') {
              exact.push({ ...this.explainArn(own.arn, own.origin, id), resource: `${own.arn}:*`, wildcard: `${own.arn}:*: CloudWatch Logs checks some actions against the log group's streams` });
            }
          } else if (formatShape.startsWith(shape) && /^[:/]/.test(formatShape.slice(shape.length))) {
            const rest = fillArnFormat(suffixAfterShape(format.arn, shape.length), this.placement);
            const resource = `${own.arn}${rest}`.replace(/\*+/g, '*');
            // A child of the resource's own ARN is as narrow as that ARN.
            const broad = this.explainArn(own.arn, own.origin, id).broad;
            children.push({ resource, wildcard: `${resource}: the ${format.key} (named once deployed) of ${id}`, ...(broad ? { broad } : {}) });
          }
        }
      }
      if (exact.length) return exact;
      if (children.length) return children;
    }

    // ARNs written in its properties.
    const literal = this.referencesOf(resource).arns.filter((arn) => formats.some((f) => arnMatches(f.arn, arn)));
    if (literal.length) return literal.map((arn) => ({ resource: arn, ...(arn.includes(UNKNOWN) ? { wildcard: `${arn}: built from values only known once deployed`, broad: true } : {}) }));

    if (action.service === 's3') {
      const buckets = this.bucketNames(resource);
      if (buckets.length) {
        return formats.flatMap((f) =>
          f.arn.includes('${BucketName}')
            ? buckets.map((bucket) => ({ resource: fillArnFormat(f.arn, this.placement, { BucketName: bucket }) }))
            : [],
        );
      }
    }
    // Nothing in the template names it: unless a property of the resource needs it, it is not granted.
    const unused = unneeded();
    if (unused) return unused;
    // Else any resource of that type, in this account and region.
    // Types whose ARNs hold no account (S3 buckets) would then match other accounts' resources:
    // those are not granted, and the reviewer is told.
    const required = formats.filter((f) => action.resourceTypes.includes(f.key));
    // A service-linked role is only ever created under this path.
    if (action.name === 'iam:CreateServiceLinkedRole') return this.serviceLinkedRoleScope(resource);
    // Any user, group or role of the account would be an escalation path: IAM grants are never widened.
    if (action.service === 'iam' || required.some((f) => !f.arn.includes('${Account}'))) {
      const key = `${resource.type}\u0000${required.map((f) => f.key).join(' or ')}`;
      const entry = this.ungranted.get(key) ?? { actions: new Set<string>(), logicalIds: new Set<string>() };
      entry.actions.add(action.name);
      entry.logicalIds.add(resource.logicalId);
      this.ungranted.set(key, entry);
      return [];
    }
    return required.map((f) => ({
      resource: fillArnFormat(f.arn, this.placement),
      wildcard: `${fillArnFormat(f.arn, this.placement)}: the template names no ${f.key} for ${resource.type}, so any of the account and region`,
      broad: true,
    }));
  }

  /** The template resources and the ARNs a resource's properties refer to. */
  private referencesOf(resource: TemplateResource): { logicalIds: string[]; arns: string[] } {
    let found = this.references.get(resource.logicalId);
    if (!found) {
      found = { logicalIds: referencedLogicalIds(resource.properties, this.logicalIds), arns: arnsIn(resource.properties, this.arns.context) };
      this.references.set(resource.logicalId, found);
    }
    return found;
  }

  /** Explain the `*` of an ARN worked out for a resource, if it has one. */
  private explainArn(arn: string, origin: string, logicalId: string): Scoped {
    if (!arn.includes(UNKNOWN)) return { resource: arn };
    if (origin === 'generated') {
      // A generated name cut to a stack-name prefix matches other resources named after the stack.
      const truncated = generatedNameIsTruncated(this.options.stackName, logicalId);
      return {
        resource: arn,
        wildcard: `${arn}: ${logicalId} has no name in the template: CloudFormation generates one from the stack name${truncated ? ' (cut short for a long stack name, so only its prefix is known)' : ''}`,
        ...(truncated ? { broad: true } : {}),
      };
    }
    return { resource: arn, wildcard: `${arn}: ${logicalId}'s ARN holds an id only known once deployed`, broad: true };
  }

  /**
   * A service-linked role is only ever created under `role/aws-service-role/`, and (by the
   * condition of \`conditionOf\`) only for the services of the resource's type.
   */
  private serviceLinkedRoleScope(resource: TemplateResource): Scoped[] {
    const arn = fillArnFormat('arn:${Partition}:iam::${Account}:role/aws-service-role/*', this.placement);
    const principals = serviceLinkedRolePrincipals(this.ownServices(resource.type));
    return [{ resource: arn, wildcard: `${arn}: the service-linked roles AWS creates for itself, for ${principals.join(', ')} (iam:AWSServiceName)`, broad: true }];
  }

  /**
   * API Gateway's IAM model is by path: `/restapis`, `/restapis/<id>/...`. An API's id is
   * generated, so its resources are scoped to the collection of the API type.
   */
  private apiGatewayScope(resource: TemplateResource): Scoped[] {
    const base = `arn:${this.placement.partition}:apigateway:${this.placement.region}::`;
    const template = this.options.registry.arnTemplate(resource.type);
    let collection: string | undefined;
    if (resource.type.startsWith('AWS::ApiGatewayV2::') && (resource.type === 'AWS::ApiGatewayV2::Api' || 'ApiId' in resource.properties)) collection = '/apis';
    else if (resource.type === 'AWS::ApiGateway::RestApi' || 'RestApiId' in resource.properties) collection = '/restapis';
    else if (template) collection = template.split('::')[1]?.split('/${')[0];
    if (!collection) return [{ resource: `${base}/*`, wildcard: `${base}/*: API Gateway names no narrower path for ${resource.type}`, broad: true }];
    const scoped: Scoped[] = [
      { resource: `${base}${collection}` },
      { resource: `${base}${collection}/*`, wildcard: `${base}${collection}/*: API ids are generated by API Gateway, so any of the region's ${collection}`, broad: true },
    ];
    if (this.options.registry.schema(resource.type)?.taggingPermissions.length) {
      scoped.push({ resource: `${base}/tags/*`, wildcard: `${base}/tags/*: API Gateway tags by the tagged resource's path, which holds the generated API id`, broad: true });
    }
    return scoped;
  }

  /** Buckets an S3 action of this resource may act on: the bucket names in its properties. */
  private bucketNames(resource: TemplateResource): string[] {
    const names = new Set<string>();
    const visit = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(visit);
      if (!isRecord(node)) return;
      for (const [key, value] of Object.entries(node)) {
        if (/bucket$|bucketname$/i.test(key)) {
          const name = resolveString(value, this.arns.context);
          if (name && name !== UNKNOWN && !name.startsWith('arn:')) names.add(name);
        } else visit(value);
      }
    };
    visit(resource.properties);
    return [...names];
  }

  /** A custom resource: CloudFormation invokes its `ServiceToken` as the caller. */
  private customResourceGrants(resource: TemplateResource, neededBy: string): void {
    const token = resource.properties['ServiceToken'];
    const referenced = referencedLogicalIds(token, this.logicalIds).map((id) => this.arns.arnOf(id)?.arn).filter((a): a is string => a !== undefined);
    const resolved = resolveString(token, this.arns.context);
    const targets = referenced.length ? referenced : resolved?.startsWith('arn:') ? [resolved] : [];
    if (!targets.length) {
      this.grants.push({
        action: 'lambda:InvokeFunction',
        resource: fillArnFormat('arn:${Partition}:lambda:${Region}:${Account}:function:*', this.placement),
        neededBy,
        wildcard: `${resource.logicalId}'s ServiceToken is not known before deploying, so any function of the account and region`,
      });
      this.warnings.push(`${resource.logicalId} (${resource.type}): its ServiceToken could not be resolved; review lambda:InvokeFunction on every function of the account`);
      return;
    }
    for (const target of targets) {
      const service = target.split(':')[2];
      const action = service === 'sns' ? 'sns:Publish' : 'lambda:InvokeFunction';
      this.grants.push({ action, resource: target, neededBy });
    }
  }

  /** `iam:PassRole` on the template's roles that resources needing it refer to, for the services that assume them. */
  private passRoleGrants(): void {
    const roles = new Map<string, string[]>();
    for (const { resource } of this.passRoleNeeds) {
      const ids = this.referencesOf(resource).logicalIds.filter((id) => this.arns.resource(id)?.type === 'AWS::IAM::Role');
      for (const id of ids) roles.set(id, [...(roles.get(id) ?? []), `${resource.logicalId} (${resource.type})`]);
      const external = this.referencesOf(resource).arns.filter((arn) => /^arn:[^:]+:iam::[^:]*:role\//.test(arn));
      for (const arn of external) {
        this.warnings.push(`${resource.logicalId} passes the role ${arn}, which the template does not create: iam:PassRole is not granted on it; add a statement in deployPermissions.extra if it is intended`);
      }
      if (!ids.length && !external.length && this.passRoleCouldBeNeeded(resource)) {
        this.warnings.push(`${resource.logicalId} (${resource.type}) may pass a role the template does not name; iam:PassRole is granted only on roles the template creates`);
      }
    }
    for (const [roleId, neededBy] of roles) {
      const arn = this.arns.arnOf(roleId);
      if (!arn) continue;
      const services = this.trustedServices(this.arns.resource(roleId)!);
      const grant: Omit<ExplainedGrant, 'neededBy'> = {
        action: 'iam:PassRole',
        resource: arn.arn,
        ...(services.length ? { condition: { StringEquals: { 'iam:PassedToService': services.length === 1 ? services[0]! : services } } } : {}),
        ...(arn.arn.includes(UNKNOWN) ? { wildcard: `${arn.arn}: ${roleId} has no name in the template: CloudFormation generates one from the stack name` } : {}),
      };
      if (!services.length) this.warnings.push(`${roleId}: its trust policy names no service principal, so iam:PassRole on it has no iam:PassedToService condition`);
      for (const need of neededBy) this.grants.push({ ...grant, neededBy: need });
    }
  }

  /** Whether a resource has a property that names a role (so a missing one is worth a warning). */
  private passRoleCouldBeNeeded(resource: TemplateResource): boolean {
    return Object.keys(resource.properties).some((key) => /role/i.test(key));
  }

  /** The service principals a role's trust policy allows (`lambda.amazonaws.com`). */
  private trustedServices(role: TemplateResource): string[] {
    const services = new Set<string>();
    const document = role.properties['AssumeRolePolicyDocument'];
    const statements = isRecord(document) ? document['Statement'] : undefined;
    for (const statement of Array.isArray(statements) ? statements : [statements]) {
      if (!isRecord(statement) || statement['Effect'] === 'Deny') continue;
      const principal = statement['Principal'];
      const service = isRecord(principal) ? principal['Service'] : undefined;
      for (const entry of Array.isArray(service) ? service : service === undefined ? [] : [service]) {
        const name = resolveString(entry, this.arns.context);
        if (name && !name.includes(UNKNOWN)) services.add(name);
      }
    }
    return [...services].sort();
  }

  /** CloudFormation on the stack, and the deployment bucket. */
  private stackGrants(): void {
    const { partition, region, account } = this.placement;
    const stackArn = `arn:${partition}:cloudformation:${region}:${account}:stack/${this.options.stackName}/*`;
    for (const action of this.validated(STACK_DEPLOY_ACTIONS, 'the stack')) {
      this.grants.push({ action: action.name, resource: stackArn, neededBy: STACK_NEED, wildcard: `${stackArn}: a stack ARN ends with an id CloudFormation assigns when it creates the stack` });
    }
    this.grants.push({ action: 'cloudformation:ValidateTemplate', resource: UNKNOWN, neededBy: STACK_NEED, wildcard: NO_RESOURCE_LEVEL, broad: true });
    const bucket = this.deploymentBucket();
    if (!bucket) {
      this.warnings.push('no deployment bucket: the template has no ServerlessDeploymentBucket and none was given, so no upload permissions are granted');
      return;
    }
    const bucketArn = `arn:${partition}:s3:::${bucket.name}`;
    const truncated = bucket.name.includes(UNKNOWN) && generatedNameIsTruncated(this.options.stackName, 'ServerlessDeploymentBucket');
    const wildcard = (arn: string): Scoped =>
      bucket.name.includes(UNKNOWN)
        ? { resource: arn, wildcard: `${arn}: the deployment bucket's name is generated by CloudFormation from the stack name${truncated ? ' (cut short for a long stack name)' : ''}`, ...(truncated ? { broad: true } : {}) }
        : { resource: arn };
    const grant = (action: IamAction, scoped: Scoped) => {
      const condition = this.conditionOf(action, { logicalId: 'ServerlessDeploymentBucket', type: 'AWS::S3::Bucket', properties: {} }, scoped.resource);
      this.grants.push({ action: action.name, ...scoped, neededBy: BUCKET_NEED, ...(condition ? { condition: condition.condition } : {}) });
    };
    for (const action of this.validated(BUCKET_ACTIONS, BUCKET_NEED)) grant(action, wildcard(bucketArn));
    for (const action of this.validated(BUCKET_OBJECT_ACTIONS, BUCKET_NEED)) grant(action, wildcard(`${bucketArn}/*`));
  }

  /** The bucket the deploy tool uploads to: given, else the template's `ServerlessDeploymentBucket`. */
  private deploymentBucket(): { name: string } | undefined {
    if (this.options.deploymentBucket) return { name: this.options.deploymentBucket };
    const own = this.arns.resource('ServerlessDeploymentBucket');
    if (own?.type !== 'AWS::S3::Bucket') return undefined;
    const name = this.arns.nameOf('ServerlessDeploymentBucket')?.name;
    return name ? { name } : undefined;
  }
}

/**
 * The service principals a resource type's service-linked roles may be for: its services'
 * (`dynamodb.amazonaws.com`), their sub-services' (`replication.dynamodb.amazonaws.com`) and
 * variants (`eks-nodegroup.amazonaws.com`).
 */
function serviceLinkedRolePrincipals(services: ReadonlySet<string>): string[] {
  return [...services]
    .filter(Boolean)
    .sort()
    .flatMap((s) => [`${s}.amazonaws.com`, `*.${s}.amazonaws.com`, `${s}-*.amazonaws.com`]);
}

/** What follows, in an ARN format, the part whose shape (`arnShape`) is `shapeLength` long. */
function suffixAfterShape(format: string, shapeLength: number): string {
  let shape = 0;
  let index = 0;
  while (index < format.length && shape < shapeLength) {
    const variable = /^\$\{[A-Za-z0-9]+\}/.exec(format.slice(index));
    index += variable ? variable[0].length : 1;
    shape += variable ? arnShape(variable[0]).length : 1;
  }
  return format.slice(index);
}

/** Whether an ARN (possibly with `*`) is of an IAM ARN format. */
function arnMatches(format: string, arn: string): boolean {
  const pattern = format
    .split(/\$\{[A-Za-z0-9]+\}/)
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('[^:]*');
  return new RegExp(`^${pattern}$`).test(arn);
}

/** The reasons of the wildcards of some grants, each with the actions it concerns. */
function wildcardReasons(grants: readonly ExplainedGrant[]): { reason: string; actions: string[] }[] {
  const byReason = new Map<string, Set<string>>();
  for (const grant of grants) {
    if (!grant.wildcard) continue;
    const actions = byReason.get(grant.wildcard) ?? new Set<string>();
    actions.add(grant.action);
    byReason.set(grant.wildcard, actions);
  }
  return [...byReason.entries()].map(([reason, actions]) => ({ reason, actions: [...actions].sort() }));
}

/** The actions of the grants broader than the template's resources, by the reason of each. */
function broadReasons(grants: readonly ExplainedGrant[]): Map<string, Set<string>> {
  const byReason = new Map<string, Set<string>>();
  for (const grant of grants) {
    if (!grant.broad || !grant.wildcard) continue;
    const actions = byReason.get(grant.wildcard) ?? new Set<string>();
    actions.add(grant.action);
    byReason.set(grant.wildcard, actions);
  }
  return byReason;
}

/** A few names of a list, for a message. */
function listed(names: readonly string[]): string {
  return names.length > 3 ? `${names.slice(0, 3).join(', ')} and ${names.length - 3} more` : names.join(', ');
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
