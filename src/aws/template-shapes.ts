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
 * and the region.
 *
 * Two templates of the same shape are the same but for a renaming that keeps every name's length
 * and the characters names may hold: a template validates exactly when the other does, as far as
 * validation checks names by their form (pattern and length), which is all CloudFormation's
 * schemas and rules do with a name they do not define.
 */
export function shapeOf(text: string, region: string | undefined, { names }: ShapeNames): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON: a shape of its own, validated as it is.
    return createHash('sha256').update(`unparsed\0${text}`).digest('hex');
  }
  const ids = logicalIds(parsed);
  let normalized = ids.size > 0 ? text.replace(/[A-Za-z0-9]+/g, (word) => (ids.has(word) ? `\u0002${ids.get(word)}:${word.length}\u0002` : word)) : text;
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
    for (const id of Object.keys(entries)) {
      if (!ids.has(id)) ids.set(id, ids.size);
    }
  }
  return ids;
}

/**
 * Replace each name standing as a `-`-separated part of a word (`svc` in `svc-dev-deployer`,
 * `arn:aws:iam::1:role/svc-build-action`) by its order of first appearance and its length; at each
 * part, the longest name that ends where a part ends.
 */
function replaceNames(text: string, names: ReadonlySet<string>): string {
  if (names.size === 0) return text;
  const order = new Map<string, number>();
  return text.replace(/[A-Za-z0-9][A-Za-z0-9-]*/g, (word) => {
    if (!word.includes('-') && !names.has(word)) return word;
    const parts = word.split('-');
    const out: string[] = [];
    for (let i = 0; i < parts.length; ) {
      let matched = 0;
      for (let j = parts.length; j > i; j--) {
        if (names.has(parts.slice(i, j).join('-'))) {
          matched = j - i;
          break;
        }
      }
      if (matched === 0) {
        out.push(parts[i]!);
        i += 1;
        continue;
      }
      const name = parts.slice(i, i + matched).join('-');
      if (!order.has(name)) order.set(name, order.size);
      out.push(`\u0001${order.get(name)}:${name.length}\u0001`);
      i += matched;
    }
    return out.join('-');
  });
}
