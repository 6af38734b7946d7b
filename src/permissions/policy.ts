/**
 * IAM policy documents: statements grouped from single grants, split to fit IAM's size limits,
 * and compared (which grants a new policy adds to an old one).
 */

/** An IAM policy statement, as IAM's JSON. */
export interface PolicyStatement {
  /** Letters and digits only. */
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action: string | readonly string[];
  readonly Resource: string | readonly string[];
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, string | readonly string[] | boolean>>>>;
}

/** An IAM policy document. */
export interface PolicyDocument {
  readonly Version: '2012-10-17';
  readonly Statement: readonly PolicyStatement[];
}

/**
 * IAM's limits on policy size, counted without whitespace
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
 */
export const IAM_POLICY_LIMITS = {
  /** A customer managed policy. */
  managedPolicy: 6_144,
  /** All inline policies of one role, together. */
  roleInlineAggregate: 10_240,
  /** Managed policies attached to one role (the default quota; it can be raised to 20). */
  managedPoliciesPerRole: 10,
} as const;

/** One action allowed on one resource (under a condition): the unit policies are made of. */
export interface Grant {
  readonly action: string;
  readonly resource: string;
  /** The statement's `Condition`, if any. */
  readonly condition?: PolicyStatement['Condition'];
}

/** The size IAM counts for a document: its JSON without whitespace. */
export function policySize(document: PolicyDocument | PolicyStatement): number {
  return JSON.stringify(document).length;
}

/**
 * Group grants into statements: actions that share exactly the same resources (and condition)
 * go into one statement. Deterministic: statements and their lists are sorted.
 */
export function groupGrants(grants: readonly Grant[]): { statement: Omit<PolicyStatement, 'Sid'>; grants: Grant[] }[] {
  // A `*` resource covers every other resource of the same action and condition.
  const byActionCondition = new Map<string, { action: string; condition?: Grant['condition']; resources: Set<string>; grants: Grant[] }>();
  for (const grant of grants) {
    const key = `${grant.action}\u0000${conditionKey(grant.condition)}`;
    let entry = byActionCondition.get(key);
    if (!entry) byActionCondition.set(key, (entry = { action: grant.action, ...(grant.condition ? { condition: grant.condition } : {}), resources: new Set(), grants: [] }));
    entry.resources.add(grant.resource);
    entry.grants.push(grant);
  }
  const byResources = new Map<string, { actions: Set<string>; resources: string[]; condition?: Grant['condition']; grants: Grant[] }>();
  for (const entry of byActionCondition.values()) {
    const resources = entry.resources.has('*') ? ['*'] : [...entry.resources].sort();
    const key = `${resources.join('\u0000')}\u0001${conditionKey(entry.condition)}`;
    let group = byResources.get(key);
    if (!group) byResources.set(key, (group = { actions: new Set(), resources, ...(entry.condition ? { condition: entry.condition } : {}), grants: [] }));
    group.actions.add(entry.action);
    group.grants.push(...entry.grants);
  }
  return [...byResources.values()]
    .map((group) => ({
      statement: {
        Effect: 'Allow' as const,
        Action: [...group.actions].sort(),
        Resource: group.resources,
        ...(group.condition ? { Condition: group.condition } : {}),
      },
      grants: group.grants,
    }))
    .sort((a, b) => sortKey(a.statement).localeCompare(sortKey(b.statement)));
}

/**
 * Split statements into documents of at most `maxSize` characters (without whitespace).
 * A statement too big on its own is cut into several by its resources, then by its actions.
 *
 * @throws Error when one action on one resource alone exceeds the size (a caller's bug: no IAM policy can hold it).
 */
export function splitIntoDocuments(statements: readonly PolicyStatement[], maxSize: number = IAM_POLICY_LIMITS.managedPolicy): PolicyDocument[] {
  const emptySize = policySize({ Version: '2012-10-17', Statement: [] });
  const pieces = statements.flatMap((statement) => cutToFit(statement, maxSize - emptySize));
  const documents: PolicyStatement[][] = [];
  const sizes: number[] = [];
  for (const piece of pieces) {
    // Statements are separated by a comma once a document holds one.
    const size = policySize(piece);
    const index = documents.findIndex((_, i) => sizes[i]! + 1 + size <= maxSize);
    if (index >= 0) {
      documents[index]!.push(piece);
      sizes[index]! += 1 + size;
    } else {
      documents.push([piece]);
      sizes.push(emptySize + size);
    }
  }
  return documents.map((statement) => ({ Version: '2012-10-17', Statement: statement }));
}

function cutToFit(statement: PolicyStatement, room: number): PolicyStatement[] {
  if (policySize(statement) <= room) return [statement];
  const resources = list(statement.Resource);
  const actions = list(statement.Action);
  if (resources.length > 1) {
    const half = Math.ceil(resources.length / 2);
    return [...cutToFit({ ...statement, Resource: resources.slice(0, half) }, room), ...cutToFit({ ...statement, Resource: resources.slice(half) }, room)];
  }
  if (actions.length > 1) {
    const half = Math.ceil(actions.length / 2);
    return [...cutToFit({ ...statement, Action: actions.slice(0, half) }, room), ...cutToFit({ ...statement, Action: actions.slice(half) }, room)];
  }
  throw new Error(`one statement (${actions[0]} on ${resources[0]}) is larger than an IAM policy may be (${room} characters)`);
}

/** Every grant a set of documents makes (Allow statements), one per action and resource. */
export function grantsOf(documents: readonly PolicyDocument[]): Grant[] {
  return documents.flatMap((document) =>
    document.Statement.filter((s) => s.Effect === 'Allow').flatMap((s) =>
      list(s.Action).flatMap((action) => list(s.Resource).map((resource) => ({ action, resource, ...(s.Condition ? { condition: s.Condition } : {}) }))),
    ),
  );
}

/** What a new policy allows that an old one did not, and what it no longer allows. */
export interface PolicyDiff {
  readonly added: Grant[];
  readonly removed: Grant[];
}

/**
 * Compare two policies grant by grant (action, resource, condition; action names compared
 * without regard to case, as IAM does). A grant covered by a `*` resource of the same action
 * and condition on the other side does not count as a change.
 */
export function diffPolicies(before: readonly PolicyDocument[], after: readonly PolicyDocument[]): PolicyDiff {
  const index = (grants: Grant[]) => new Set(grants.map(grantKey));
  const beforeGrants = dedupe(grantsOf(before));
  const afterGrants = dedupe(grantsOf(after));
  const beforeKeys = index(beforeGrants);
  const afterKeys = index(afterGrants);
  const covered = (grant: Grant, keys: Set<string>) => keys.has(grantKey(grant)) || keys.has(grantKey({ ...grant, resource: '*' }));
  return {
    added: afterGrants.filter((g) => !covered(g, beforeKeys)),
    removed: beforeGrants.filter((g) => !covered(g, afterKeys)),
  };
}

function dedupe(grants: Grant[]): Grant[] {
  const seen = new Map<string, Grant>();
  for (const grant of grants) seen.set(grantKey(grant), grant);
  return [...seen.values()].sort((a, b) => grantKey(a).localeCompare(grantKey(b)));
}

function grantKey(grant: Grant): string {
  return `${grant.action.toLowerCase()}\u0000${grant.resource}\u0000${conditionKey(grant.condition)}`;
}

function conditionKey(condition: Grant['condition']): string {
  return condition ? JSON.stringify(condition) : '';
}

function sortKey(statement: Omit<PolicyStatement, 'Sid'>): string {
  return `${list(statement.Action)[0]}\u0000${list(statement.Resource).join(',')}`;
}

/** A policy element that may be one string or a list, as a list. */
export function list(value: string | readonly string[]): readonly string[] {
  return typeof value === 'string' ? [value] : value;
}
