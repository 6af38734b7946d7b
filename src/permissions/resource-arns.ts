/**
 * The names and ARNs a template's resources will have once deployed, as far as they are
 * known before: given names resolved, names CloudFormation generates as stack-name patterns,
 * ids only known once deployed as `*`.
 */
import type { SchemaRegistry } from './schema-registry.js';
import { type CloudFormationTemplate, type ResolveContext, type TemplateResource, resolveString, UNKNOWN } from './template.js';

/** How a resource's ARN (or name) was worked out: shown to explain a `*` in it. */
export type NameOrigin = 'given' | 'generated' | 'unknown';

/** The ARN of one template resource. */
export interface ResourceArn {
  /** The ARN, `*` standing for what is only known once deployed. */
  readonly arn: string;
  /** How its name was worked out. */
  readonly origin: NameOrigin;
}

/** The variables of ARN formats that are not names: filled from where the stack goes. */
const PLACEMENT_VARIABLES = new Set(['Partition', 'Region', 'Account']);

/**
 * Generated names: CloudFormation names an unnamed resource `<stack>-<logicalId>-<random>`,
 * truncating the stack and logical id parts when the whole would pass the type's length limit
 * (64 characters for many types). The random part is 12 to 13 characters.
 */
const GENERATED_NAME_BUDGET = 63 - 14;
/** The stack-name prefix kept when a generated name may have been truncated. */
const TRUNCATED_STACK_PREFIX = 16;

/** Works out, and remembers, the names and ARNs of a template's resources. */
export class ResourceArns {
  private readonly byLogicalId: ReadonlyMap<string, TemplateResource>;
  private readonly names = new Map<string, { name: string; origin: NameOrigin } | undefined>();
  private readonly arns = new Map<string, ResourceArn | undefined>();
  /** The resolve context, whose `physicalName` is this instance's. */
  readonly context: ResolveContext;

  constructor(
    template: CloudFormationTemplate,
    private readonly registry: SchemaRegistry,
    placement: Omit<ResolveContext, 'physicalName'>,
  ) {
    this.byLogicalId = new Map(template.resources.map((r) => [r.logicalId, r]));
    this.context = { ...placement, physicalName: (logicalId) => this.refName(logicalId) };
  }

  /** A resource by logical id. */
  resource(logicalId: string): TemplateResource | undefined {
    return this.byLogicalId.get(logicalId);
  }

  /** The resource's ARN, or `undefined` when its type has no known ARN template. */
  arnOf(logicalId: string): ResourceArn | undefined {
    if (this.arns.has(logicalId)) return this.arns.get(logicalId);
    this.arns.set(logicalId, undefined); // guards against reference cycles
    const resource = this.byLogicalId.get(logicalId);
    const template = resource && this.registry.arnTemplate(resource.type);
    let result: ResourceArn | undefined;
    if (resource && template) {
      let origin: NameOrigin = 'given';
      const arn = template.replace(/\$\{([A-Za-z0-9]+)\}/g, (_m, variable: string) => {
        if (PLACEMENT_VARIABLES.has(variable)) return placementValue(variable, this.context);
        const value = this.variableValue(resource, variable);
        if (value.origin === 'generated' && origin === 'given') origin = 'generated';
        if (value.origin === 'unknown') origin = 'unknown';
        return value.text;
      });
      result = { arn: arn.replace(/\*+/g, '*'), origin };
    }
    this.arns.set(logicalId, result);
    return result;
  }

  /** The resource's name, given or generated; `undefined` when the type has no name of its own. */
  nameOf(logicalId: string): { name: string; origin: NameOrigin } | undefined {
    if (this.names.has(logicalId)) return this.names.get(logicalId);
    this.names.set(logicalId, undefined);
    const resource = this.byLogicalId.get(logicalId);
    const property = resource && this.nameProperty(resource);
    let result: { name: string; origin: NameOrigin } | undefined;
    if (resource && property) {
      const given = resource.properties[property];
      if (given !== undefined) {
        const name = resolveString(given, this.context) ?? UNKNOWN;
        result = { name, origin: name === UNKNOWN ? 'unknown' : 'given' };
      } else {
        result = { name: generatedNamePattern(this.context.stackName, logicalId, resource.type), origin: 'generated' };
      }
    }
    this.names.set(logicalId, result);
    return result;
  }

  /**
   * The property that names resources of this type: the single primary identifier when it is
   * a `...Name` property, else the name variable of the ARN template (`${QueueName}`) when the
   * type has that property, else `Name`.
   */
  private nameProperty(resource: TemplateResource): string | undefined {
    const schema = this.registry.schema(resource.type);
    if (!schema) return undefined;
    const identifiers = schema.primaryIdentifier.map((p) => p.replace(/^\/properties\//, ''));
    if (identifiers.length === 1 && /Name$/.test(identifiers[0]!) && schema.propertyNames.includes(identifiers[0]!)) return identifiers[0];
    const template = this.registry.arnTemplate(resource.type);
    // `${PolicyNameWithPath}` names the policy by `ManagedPolicyName` (and its `Path`).
    const lastVariable = template?.match(/\$\{([A-Za-z0-9]+)\}(?!.*\$\{)/)?.[1]?.replace(/WithPath$/, '');
    if (!lastVariable || !/Name$/.test(lastVariable)) return undefined;
    if (schema.propertyNames.includes(lastVariable)) return lastVariable;
    const prefixed = schema.propertyNames.filter((p) => p.endsWith(lastVariable));
    if (prefixed.length === 1) return prefixed[0];
    return schema.propertyNames.includes('Name') ? 'Name' : undefined;
  }

  /** What `Ref` gives before deploying, for types whose `Ref` is their name. */
  private refName(logicalId: string): string | undefined {
    const resource = this.byLogicalId.get(logicalId);
    if (!resource) return undefined;
    const schema = this.registry.schema(resource.type);
    const identifiers = schema?.primaryIdentifier ?? [];
    if (identifiers.length !== 1 || !/Name$/.test(identifiers[0]!)) return undefined;
    return this.nameOf(logicalId)?.name;
  }

  /** The value of one name variable of an ARN template. */
  private variableValue(resource: TemplateResource, variable: string): { text: string; origin: NameOrigin } {
    // `${RoleNameWithPath}`: the role's path (default `/`) then its name.
    if (variable.endsWith('WithPath')) {
      const name = this.variableValue(resource, variable.slice(0, -'WithPath'.length));
      const path = resource.properties['Path'] === undefined ? '/' : (resolveString(resource.properties['Path'], this.context) ?? UNKNOWN);
      return { text: `${path.replace(/^\//, '')}${name.text}`, origin: name.origin };
    }
    const own = this.nameOf(resource.logicalId);
    const property = this.nameProperty(resource);
    if (own && (variable === property || (property !== undefined && property.endsWith(variable)) || (property === 'Name' && /Name$/.test(variable)))) return { text: own.name, origin: own.origin };
    if (resource.properties[variable] !== undefined) {
      const text = resolveString(resource.properties[variable], this.context) ?? UNKNOWN;
      return { text, origin: text.includes(UNKNOWN) ? 'unknown' : 'given' };
    }
    return { text: UNKNOWN, origin: 'unknown' };
  }
}

/** The partition, region or account an ARN variable stands for. */
export function placementValue(variable: string, context: Pick<ResolveContext, 'partition' | 'region' | 'account'>): string {
  switch (variable) {
    case 'Partition':
      return context.partition;
    case 'Region':
      return context.region;
    case 'Account':
      return context.account;
    default:
      return UNKNOWN;
  }
}

/**
 * Fill an IAM ARN format (`arn:${Partition}:kms:${Region}:${Account}:key/${KeyId}`): placement
 * variables from the context, the others with `*`, or with `values` when given.
 */
export function fillArnFormat(format: string, context: Pick<ResolveContext, 'partition' | 'region' | 'account'>, values: Readonly<Record<string, string>> = {}): string {
  return format
    .replace(/\$\{([A-Za-z0-9]+)\}/g, (_m, variable: string) => (PLACEMENT_VARIABLES.has(variable) ? placementValue(variable, context) : (values[variable] ?? UNKNOWN)))
    .replace(/\*+/g, '*');
}

const shapes = new Map<string, string>();

/** An ARN format with its variables blanked, to compare formats written with different variable names. */
export function arnShape(format: string): string {
  let shape = shapes.get(format);
  if (shape === undefined) {
    shape = format.replace(/\$\{[A-Za-z0-9]+\}/g, '${}');
    shapes.set(format, shape);
  }
  return shape;
}

/** Whether CloudFormation may cut the stack name and logical id short in the name it generates. */
export function generatedNameIsTruncated(stackName: string, logicalId: string): boolean {
  return stackName.length + 1 + logicalId.length + 1 > GENERATED_NAME_BUDGET;
}

/** The name pattern CloudFormation's generated names for this resource match. */
export function generatedNamePattern(stackName: string, logicalId: string, type: string): string {
  const pattern = generatedNameIsTruncated(stackName, logicalId) ? `${stackName.slice(0, Math.min(stackName.length, TRUNCATED_STACK_PREFIX))}*` : `${stackName}-${logicalId}-*`;
  // S3 bucket names are lower case, so CloudFormation lower-cases the names it generates for them.
  return type === 'AWS::S3::Bucket' ? pattern.toLowerCase() : pattern;
}
