/**
 * The inferred policy for a reader: each statement with what needs it and why any `*` is
 * there; sizes against IAM's limits; warnings; and the diff against an older template.
 */
import type { InferredPolicy } from './infer.js';
import { list, type Grant, type PolicyDiff } from './policy.js';
import type { RoleRight, RoleRightsDiff } from './role-rights.js';

/** Where the policy is for, shown in the heading. */
export interface PolicyHeading {
  readonly stackName: string;
  readonly region: string;
  readonly account: string;
  /** Where the permissions boundary came from, when it was not given (`the default for a pipeline named orders`). */
  readonly boundaryOrigin?: string;
}

/** A human-readable summary of an inferred policy. */
export function formatPolicySummary(policy: InferredPolicy, heading: PolicyHeading): string {
  const lines: string[] = [];
  lines.push(`Deploy policy for stack ${heading.stackName} (region ${heading.region}, account ${heading.account})`);
  if (policy.guard) {
    lines.push(`Roles it creates or changes must carry the permissions boundary ${policy.guard.permissionsBoundaryArn}${heading.boundaryOrigin ? ` (${heading.boundaryOrigin})` : ''}`);
    if (policy.guard.deployerRoleArn) lines.push(`Nothing is allowed on the deployer role ${policy.guard.deployerRoleArn}, its own policies or the boundary`);
  } else {
    lines.push('No permissions boundary: no role or user may be created or changed');
  }
  const actions = new Set(policy.statements.flatMap((s) => list(s.statement.Action)));
  lines.push(
    `${policy.statements.length} statements, ${actions.size} actions, in ${policy.documents.length} polic${policy.documents.length === 1 ? 'y' : 'ies'} of ${policy.sizes.documents.map(number).join(' + ')} characters` +
      ` (IAM limits: ${number(policy.sizes.managedPolicyLimit)} per managed policy, ${number(policy.sizes.inlineAggregateLimit)} for all inline policies of a role)`,
  );
  for (const { statement, neededBy, wildcards } of policy.statements) {
    lines.push('');
    const verb = statement.Effect === 'Deny' ? 'denies' : 'allows';
    lines.push(`${statement.Sid ?? ''} ${verb} ${list(statement.Action).length} action${list(statement.Action).length === 1 ? '' : 's'} on ${list(statement.Resource).join(', ')}`);
    lines.push(`  actions: ${list(statement.Action).join(', ')}`);
    if (statement.Condition) lines.push(`  condition: ${JSON.stringify(statement.Condition)}`);
    lines.push(`  needed by: ${neededBy.join(', ')}`);
    for (const wildcard of wildcards) lines.push(`  why *: ${wildcard.reason} (${abbreviate(wildcard.actions)})`);
  }
  if (policy.warnings.length) {
    lines.push('', 'Warnings:');
    for (const warning of policy.warnings) lines.push(`  - ${warning}`);
  }
  if (policy.omitted.length) {
    const byReason = new Map<string, { actions: Set<string>; neededBy: Set<string> }>();
    for (const omitted of policy.omitted) {
      const entry = byReason.get(omitted.reason) ?? { actions: new Set<string>(), neededBy: new Set<string>() };
      entry.actions.add(omitted.action);
      omitted.neededBy.forEach((n) => entry.neededBy.add(n.replace(/ \(.*\)$/, '')));
      byReason.set(omitted.reason, entry);
    }
    lines.push('', `Not granted: ${policy.omitted.length} action${policy.omitted.length === 1 ? '' : 's'} the schemas list that these resources do not need, or that are never granted:`);
    for (const [reason, { actions, neededBy }] of byReason) lines.push(`  - ${[...actions].sort().join(', ')} (${abbreviate([...neededBy])}): ${reason}`);
  }
  if (policy.invalidActions.length) {
    lines.push('', `Dropped: ${policy.invalidActions.length} string${policy.invalidActions.length === 1 ? '' : 's'} the schemas list that ${policy.invalidActions.length === 1 ? 'is' : 'are'} not IAM actions:`);
    for (const invalid of policy.invalidActions) lines.push(`  - ${invalid.action} (${invalid.resourceTypes.join(', ')}): ${invalid.reason}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The permissions a new template needs that the old one did not (and those it no longer needs),
 * then what its roles may now do that they could not (an attached AdministratorAccess is named
 * as what it is), and what they no longer may.
 */
export function formatPolicyDiff(diff: PolicyDiff, oldName: string, newName: string, roleRights?: RoleRightsDiff): string {
  const lines: string[] = [];
  const rightsChanged = roleRights !== undefined && (roleRights.added.length > 0 || roleRights.removed.length > 0);
  if (!diff.added.length && !diff.removed.length && !rightsChanged) return `No permission changes between ${oldName} and ${newName}.\n`;
  lines.push(diff.added.length ? `${newName} needs ${diff.added.length} permission${diff.added.length === 1 ? '' : 's'} that ${oldName} did not:` : `${newName} needs no new permission.`);
  for (const line of grouped(diff.added)) lines.push(`  + ${line}`);
  if (diff.removed.length) {
    lines.push(`and no longer needs ${diff.removed.length}:`);
    for (const line of grouped(diff.removed)) lines.push(`  - ${line}`);
  }
  if (roleRights?.added.length) {
    const risky = roleRights.added.filter((r) => r.risk).length;
    lines.push(`Its roles gain ${roleRights.added.length} right${roleRights.added.length === 1 ? '' : 's'}${risky ? `, ${risky} of them IAM growth to review` : ''}:`);
    for (const right of roleRights.added) lines.push(`  + ${rightLine(right)}`);
  }
  if (roleRights?.removed.length) {
    lines.push(`Its roles lose ${roleRights.removed.length} right${roleRights.removed.length === 1 ? '' : 's'}:`);
    for (const right of roleRights.removed) lines.push(`  - ${rightLine(right)}`);
  }
  return `${lines.join('\n')}\n`;
}

function rightLine(right: RoleRight): string {
  const what = right.kind === 'managed-policy' ? `attaches the ${right.what}` : right.what;
  return `${right.role}: ${what}${right.risk ? ` [${right.risk}]` : ''}`;
}

/** Grants grouped by resource and condition: `lambda:CreateFunction, lambda:DeleteFunction on arn:...`. */
function grouped(grants: readonly Grant[]): string[] {
  const byResource = new Map<string, string[]>();
  for (const grant of grants) {
    const key = `${grant.resource}${grant.condition ? ` when ${JSON.stringify(grant.condition)}` : ''}`;
    byResource.set(key, [...(byResource.get(key) ?? []), grant.action]);
  }
  return [...byResource.entries()].map(([resource, actions]) => `${actions.join(', ')} on ${resource}${actions.some((a) => a.toLowerCase().startsWith('iam:')) ? ' [IAM]' : ''}`);
}

function abbreviate(actions: readonly string[]): string {
  return actions.length <= 4 ? actions.join(', ') : `${actions.slice(0, 3).join(', ')} and ${actions.length - 3} more`;
}

function number(value: number): string {
  return value.toLocaleString('en-US');
}
