/**
 * Reading a CloudFormation template as data: its shape checked, its intrinsic functions
 * resolved as far as a deploy-time policy needs (names and ARNs, with `*` where a value
 * is only known once deployed), and the references between its resources.
 */
import { InputError, type InputProblem } from '../model/errors.js';

/** One resource of a template. */
export interface TemplateResource {
  /** The logical id. */
  readonly logicalId: string;
  /** `AWS::Service::Resource`, `Custom::Name`... */
  readonly type: string;
  /** The resource's properties, as written (intrinsics unresolved). */
  readonly properties: Readonly<Record<string, unknown>>;
  /** Its `UpdatePolicy` attribute (CodeDeploy traffic shifting of a Lambda alias, for one), when it has one. */
  readonly updatePolicy?: unknown;
}

/** A template whose shape was checked. */
export interface CloudFormationTemplate {
  /** The resources, in template order. */
  readonly resources: readonly TemplateResource[];
  /** Parameter defaults (parameters without a default resolve to `*`). */
  readonly parameterDefaults: ReadonlyMap<string, string>;
  /** The template's `Transform`s (SAM, macros): what they add is not visible here. */
  readonly transforms: readonly string[];
}

/** What the resolver knows about where the stack is deployed. */
export interface ResolveContext {
  readonly stackName: string;
  readonly region: string;
  readonly account: string;
  readonly partition: string;
  /** Parameter values (given, else the template's defaults). */
  readonly parameters: ReadonlyMap<string, string>;
  /**
   * The physical name of a resource of this template, when it is known before deploying
   * (what `Ref` gives for named resources). `undefined`: only known once deployed.
   */
  readonly physicalName: (logicalId: string) => string | undefined;
}

/**
 * Check the shape of a template (`where` names the file in messages).
 *
 * @throws InputError when it is not an object with a `Resources` object of typed resources.
 */
export function parseTemplate(template: unknown, where = 'template'): CloudFormationTemplate {
  if (!isRecord(template)) {
    throw new InputError(`${where} is not a CloudFormation template`, [{ where, message: 'expected a JSON object with a "Resources" section' }]);
  }
  const resourcesSection = template['Resources'];
  if (!isRecord(resourcesSection)) {
    throw new InputError(`${where} is not a CloudFormation template`, [{ where: `${where}: Resources`, message: 'required: an object of resources (logical id → { Type, Properties })' }]);
  }
  const problems: InputProblem[] = [];
  const resources: TemplateResource[] = [];
  for (const [logicalId, resource] of Object.entries(resourcesSection)) {
    const at = `${where}: Resources.${logicalId}`;
    if (!isRecord(resource)) {
      problems.push({ where: at, message: 'must be an object with a Type' });
      continue;
    }
    const type = resource['Type'];
    if (typeof type !== 'string' || !/^(?:[A-Za-z0-9]+::[A-Za-z0-9]+::[A-Za-z0-9]+(?:::[A-Za-z0-9]+)?|Custom::[A-Za-z0-9_@-]+)$/.test(type)) {
      problems.push({ where: `${at}.Type`, message: `must be a resource type such as "AWS::Lambda::Function" (got ${JSON.stringify(type)})` });
      continue;
    }
    const properties = resource['Properties'] ?? {};
    if (!isRecord(properties)) {
      problems.push({ where: `${at}.Properties`, message: 'must be an object' });
      continue;
    }
    resources.push({ logicalId, type, properties, ...(resource['UpdatePolicy'] !== undefined ? { updatePolicy: resource['UpdatePolicy'] } : {}) });
  }
  if (problems.length) throw new InputError(`${where} is not a valid CloudFormation template`, problems);

  const parameterDefaults = new Map<string, string>();
  const parameters = template['Parameters'];
  if (isRecord(parameters)) {
    for (const [name, parameter] of Object.entries(parameters)) {
      const value = isRecord(parameter) ? parameter['Default'] : undefined;
      if (typeof value === 'string' || typeof value === 'number') parameterDefaults.set(name, String(value));
    }
  }
  const transform = template['Transform'];
  const transforms = (Array.isArray(transform) ? transform : transform === undefined ? [] : [transform]).filter((t): t is string => typeof t === 'string');
  return { resources, parameterDefaults, transforms };
}

/** The wildcard a value resolves to when it is only known once deployed. */
export const UNKNOWN = '*';

/**
 * Resolve a property value to a string, `*` standing for the parts only known once deployed
 * (generated ids, attributes, imports). Runs of `*` collapse into one.
 *
 * @returns the string, or `undefined` when the value is not a string-like value at all.
 */
export function resolveString(value: unknown, context: ResolveContext): string | undefined {
  const resolved = resolveLoose(value, context);
  return resolved === undefined ? undefined : resolved.replace(/\*+/g, '*');
}

function resolveLoose(value: unknown, context: ResolveContext): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (!isRecord(value)) return undefined;
  const keys = Object.keys(value);
  if (keys.length !== 1) return undefined;
  const [fn] = keys as [string];
  const argument = value[fn];
  switch (fn) {
    case 'Ref':
      return typeof argument === 'string' ? resolveName(argument, context) : UNKNOWN;
    case 'Fn::Sub':
      return resolveSub(argument, context);
    case 'Fn::Join': {
      if (!Array.isArray(argument) || argument.length !== 2 || typeof argument[0] !== 'string') return UNKNOWN;
      const [delimiter, parts] = argument as [string, unknown];
      if (!Array.isArray(parts)) return UNKNOWN;
      return parts.map((part) => resolveLoose(part, context) ?? UNKNOWN).join(delimiter);
    }
    case 'Fn::Select': {
      if (!Array.isArray(argument) || argument.length !== 2) return UNKNOWN;
      const index = Number(resolveLoose(argument[0], context));
      const list = argument[1];
      if (Array.isArray(list) && Number.isInteger(index) && index >= 0 && index < list.length) return resolveLoose(list[index], context) ?? UNKNOWN;
      return UNKNOWN;
    }
    // Attributes, imports, conditions and lookups are only known once deployed.
    default:
      return fn.startsWith('Fn::') || fn === 'Condition' ? UNKNOWN : undefined;
  }
}

/** What `Ref` (or `${Name}` in Fn::Sub) gives before deploying. */
function resolveName(name: string, context: ResolveContext): string {
  switch (name) {
    case 'AWS::StackName':
      return context.stackName;
    case 'AWS::Region':
      return context.region;
    case 'AWS::AccountId':
      return context.account;
    case 'AWS::Partition':
      return context.partition;
    case 'AWS::URLSuffix':
      return context.partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com';
    case 'AWS::NoValue':
      return '';
    default:
      return context.parameters.get(name) ?? context.physicalName(name) ?? UNKNOWN;
  }
}

function resolveSub(argument: unknown, context: ResolveContext): string {
  let text: unknown = argument;
  let variables: Record<string, unknown> = {};
  if (Array.isArray(argument)) {
    text = argument[0];
    if (isRecord(argument[1])) variables = argument[1];
  }
  if (typeof text !== 'string') return UNKNOWN;
  return text.replace(/\$\{(!?)([^}]*)\}/g, (_match, literal: string, name: string) => {
    if (literal) return `\${${name}}`;
    if (name in variables) return resolveLoose(variables[name], context) ?? UNKNOWN;
    // `${Resource.Attribute}` is an attribute: only known once deployed.
    return name.includes('.') ? UNKNOWN : resolveName(name, context);
  });
}

/**
 * The logical ids of this template's resources that a value refers to (`Ref`, `Fn::GetAtt`,
 * `${Id}` and `${Id.Attr}` in `Fn::Sub`), in the order they appear.
 */
export function referencedLogicalIds(value: unknown, logicalIds: ReadonlySet<string>): string[] {
  const found = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      node.forEach(visit);
      return;
    }
    if (!isRecord(node)) return;
    for (const [key, child] of Object.entries(node)) {
      if (key === 'Ref' && typeof child === 'string' && logicalIds.has(child)) found.add(child);
      else if (key === 'Fn::GetAtt') {
        const target = Array.isArray(child) ? child[0] : typeof child === 'string' ? child.split('.')[0] : undefined;
        if (typeof target === 'string' && logicalIds.has(target)) found.add(target);
      } else if (key === 'Fn::Sub') {
        const text = Array.isArray(child) ? child[0] : child;
        if (typeof text === 'string') {
          for (const match of text.matchAll(/\$\{([^!}][^}.]*)(?:\.[^}]*)?\}/g)) {
            if (logicalIds.has(match[1]!)) found.add(match[1]!);
          }
        }
      }
      visit(child);
    }
  };
  visit(value);
  return [...found];
}

/** Every string in a value that looks like an ARN (literal, or built with intrinsics and resolved). */
export function arnsIn(value: unknown, context: ResolveContext): string[] {
  const found = new Set<string>();
  const visit = (node: unknown): void => {
    if (typeof node === 'string') {
      if (node.startsWith('arn:')) found.add(node);
      return;
    }
    if (Array.isArray(node)) {
      node.forEach(visit);
      return;
    }
    if (!isRecord(node)) return;
    const keys = Object.keys(node);
    if (keys.length === 1 && (keys[0] === 'Fn::Sub' || keys[0] === 'Fn::Join')) {
      const resolved = resolveString(node, context);
      if (resolved?.startsWith('arn:')) found.add(resolved);
      return;
    }
    Object.values(node).forEach(visit);
  };
  visit(value);
  return [...found];
}

/** A plain object (not an array, not null). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
