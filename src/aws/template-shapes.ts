/**
 * Template shapes: what is left of a CloudFormation template once the names that tell one service,
 * environment or account from another are taken out. The pipelines stacks of a config are alike
 * apart from their services' names, and so are the deployer stacks of its accounts; validating
 * one template of each shape, rather than all of them, is what keeps validated synthesis close
 * to unvalidated synthesis.
 */
import { createHash } from 'node:crypto';

/** What tells templates apart that `shapeOf` takes out. */
export interface ShapeNames {
  /** Names of services, their stacks and environments (`[A-Za-z0-9-]` words). */
  readonly names: ReadonlySet<string>;
}

/**
 * The shape of a template's text: a digest of the text with
 * - each logical id (a key of `Resources`, `Outputs`, `Conditions`, `Parameters`, `Mappings`),
 *   wherever it stands as a whole word, replaced by its position among them and its length;
 * - each of `names`, wherever it stands as a `-`-separated part of a word of letters, digits and
 *   dashes, replaced by the order in which it first appears and its length;
 * - each 12-digit word (an account id) replaced by the order in which it first appears;
 * and the region. `parsed` is the text's template, when the caller has it already.
 *
 * Two templates of the same shape are the same but for a renaming that keeps every name's length
 * and the characters names may hold: a template validates exactly when the other does, as far as
 * validation checks names by their form (pattern and length), which is all CloudFormation's
 * schemas and rules do with a name they do not define.
 */
export function shapeOf(text: string, region: string | undefined, { names }: ShapeNames, parsed?: unknown): string {
  if (parsed === undefined) {
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON: a shape of its own, validated as it is.
      return createHash('sha256').update(`unparsed\0${text}`).digest('hex');
    }
  }
  const ids = logicalIds(parsed);
  const idPattern = new RegExp(`(?<![A-Za-z0-9])(?:${[...ids.keys()].sort((a, b) => b.length - a.length).join('|')})(?![A-Za-z0-9])`, 'g');
  let normalized = ids.size > 0 ? text.replace(idPattern, (id) => `\u0002${ids.get(id)}:${id.length}\u0002`) : text;
  normalized = replaceNames(normalized, names);
  const accounts = new Map<string, number>();
  normalized = normalized.replace(/(?<![A-Za-z0-9])[0-9]{12}(?![A-Za-z0-9])/g, (account) => {
    if (!accounts.has(account)) accounts.set(account, accounts.size);
    return `\u0003${accounts.get(account)}\u0003`;
  });
  return createHash('sha256').update(`${region ?? ''}\0${normalized}`).digest('hex');
}

/** The template's logical ids by their position. */
function logicalIds(template: unknown): Map<string, number> {
  const ids = new Map<string, number>();
  if (template === null || typeof template !== 'object') return ids;
  for (const section of ['Parameters', 'Mappings', 'Conditions', 'Resources', 'Outputs']) {
    const entries = (template as Record<string, unknown>)[section];
    if (entries === null || typeof entries !== 'object') continue;
    // Logical ids are letters and digits (CloudFormation's rule); anything else is left as it is.
    for (const id of Object.keys(entries).filter((key) => /^[A-Za-z0-9]+$/.test(key))) {
      if (!ids.has(id)) ids.set(id, ids.size);
    }
  }
  return ids;
}

/** The pattern of a set of names, compiled once: the longest first, each standing between characters that are not letters or digits. */
const namePatterns = new WeakMap<ReadonlySet<string>, RegExp>();

/**
 * Replace each name standing as a `-`-separated part of a word (`svc` in `svc-dev-deployer`,
 * `arn:aws:iam::1:role/svc-build-action`) by its order of first appearance and its length; at each
 * place, the longest name.
 */
function replaceNames(text: string, names: ReadonlySet<string>): string {
  if (names.size === 0) return text;
  let pattern = namePatterns.get(names);
  if (!pattern) {
    const alternatives = [...names].sort((a, b) => b.length - a.length).map((name) => name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    pattern = new RegExp(`(?<![A-Za-z0-9])(?:${alternatives.join('|')})(?![A-Za-z0-9])`, 'g');
    namePatterns.set(names, pattern);
  }
  const order = new Map<string, number>();
  return text.replace(pattern, (name) => {
    if (!order.has(name)) order.set(name, order.size);
    return `\u0001${order.get(name)}:${name.length}\u0001`;
  });
}

/** A part of a template that can be validated on its own: resources that refer to one another, and the outputs that name them. */
export interface TemplateFragment {
  /** The fragment as a template: the original's other sections, and its own resources and outputs. */
  readonly template: Record<string, unknown>;
  /** Its logical ids. */
  readonly resources: readonly string[];
}

/**
 * Split a template into fragments: the connected groups of resources (and outputs) that refer to
 * one another (`Ref`, `Fn::GetAtt`, `Fn::Sub`, `DependsOn`). No fragment refers to a resource of
 * another, so each validates as it does within the whole; the pipelines of a stack, and the roles
 * of each service, are fragments of their own, alike from service to service.
 *
 * @returns the fragments, or `undefined` when the text is not a JSON template with resources
 */
export function fragmentsOf(text: string): TemplateFragment[] | undefined {
  let template: Record<string, unknown>;
  try {
    template = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const resources = template['Resources'] as Record<string, unknown> | undefined;
  if (!resources || typeof resources !== 'object') return undefined;
  const outputs = (template['Outputs'] as Record<string, unknown> | undefined) ?? {};
  const nodes = [...Object.keys(resources).map((id) => `R:${id}`), ...Object.keys(outputs).map((id) => `O:${id}`)];
  const parent = new Map(nodes.map((n) => [n, n]));
  const find = (n: string): string => {
    let root = n;
    while (parent.get(root) !== root) root = parent.get(root)!;
    parent.set(n, root);
    return root;
  };
  const union = (a: string, b: string) => parent.set(find(a), find(b));
  for (const [id, resource] of Object.entries(resources)) {
    for (const target of referencesOf(resource)) if (target in resources) union(`R:${id}`, `R:${target}`);
  }
  for (const [id, output] of Object.entries(outputs)) {
    for (const target of referencesOf(output)) if (target in resources) union(`O:${id}`, `R:${target}`);
  }
  const groups = new Map<string, string[]>();
  for (const node of nodes) groups.set(find(node), [...(groups.get(find(node)) ?? []), node]);
  // The template's description names every service of the stack: it goes with the first fragment only.
  const { Resources: _resources, Outputs: _outputs, Description: description, ...rest } = template;
  return [...groups.values()].map((members, index) => {
    const own = (kind: string) => members.filter((m) => m.startsWith(kind)).map((m) => m.slice(2));
    const ids = own('R:');
    const outputIds = own('O:');
    return {
      template: {
        ...(index === 0 && description !== undefined ? { Description: description } : {}),
        ...rest,
        Resources: Object.fromEntries(ids.map((id) => [id, resources[id]])),
        ...(outputIds.length > 0 ? { Outputs: Object.fromEntries(outputIds.map((id) => [id, outputs[id]])) } : {}),
      },
      resources: ids,
    };
  });
}

/** The logical ids a resource or output refers to. */
function referencesOf(value: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(value)) {
    for (const item of value) referencesOf(item, found);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
      if (key === 'Ref' && typeof inner === 'string') found.add(inner);
      else if (key === 'Fn::GetAtt') found.add(Array.isArray(inner) ? String(inner[0]) : String(inner).split('.')[0]!);
      else if (key === 'DependsOn') for (const id of Array.isArray(inner) ? inner : [inner]) found.add(String(id));
      else if (key === 'Fn::Sub') {
        const text = Array.isArray(inner) ? inner[0] : inner;
        if (typeof text === 'string') for (const [, name] of text.matchAll(/\$\{([^}!.]+)(?:\.[^}]*)?\}/g)) found.add(name!);
        if (Array.isArray(inner)) referencesOf(inner[1], found);
      } else referencesOf(inner, found);
    }
  }
  return found;
}
