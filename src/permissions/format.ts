/**
 * The inferred policy for a reader: each statement with what needs it and why any `*` is
 * there; sizes against IAM's limits; warnings; and the diff against an older template.
 */
import type { InferredPolicy } from './infer.js';
import { list, type Grant, type PolicyDiff } from './policy.js';

/** Where the policy is for, shown in the heading. */
export interface PolicyHeading {
  readonly stackName: string;
  readonly region: string;
  readonly account: string;
}

/** A human-readable summary of an inferred policy. */
export function formatPolicySummary(policy: InferredPolicy, heading: PolicyHeading): string {
  const lines: string[] = [];
  lines.push(`Deploy policy for stack ${heading.stackName} (region ${heading.region}, account ${heading.account})`);
  const actions = new Set(policy.statements.flatMap((s) => list(s.statement.Action)));
  lines.push(
    `${policy.statements.length} statements, ${actions.size} actions, in ${policy.documents.length} polic${policy.documents.length === 1 ? 'y' : 'ies'} of ${policy.sizes.documents.map(number).join(' + ')} characters` +
      ` (IAM limits: ${number(policy.sizes.managedPolicyLimit)} per managed policy, ${number(policy.sizes.inlineAggregateLimit)} for all inline policies of a role)`,
  );
  for (const { statement, neededBy, wildcards } of policy.statements) {
    lines.push('');
    lines.push(`${statement.Sid ?? ''}: ${list(statement.Action).length} action${list(statement.Action).length === 1 ? '' : 's'} on ${list(statement.Resource).join(', ')}`);
    lines.push(`  actions: ${list(statement.Action).join(', ')}`);
    if (statement.Condition) lines.push(`  condition: ${JSON.stringify(statement.Condition)}`);
    lines.push(`  needed by: ${neededBy.join(', ')}`);
    for (const wildcard of wildcards) lines.push(`  why *: ${wildcard.reason} (${abbreviate(wildcard.actions)})`);
  }
  if (policy.warnings.length) {
    lines.push('', 'Warnings:');
    for (const warning of policy.warnings) lines.push(`  - ${warning}`);
  }
  if (policy.invalidActions.length) {
    lines.push('', `Dropped: ${policy.invalidActions.length} string${policy.invalidActions.length === 1 ? '' : 's'} the schemas list that ${policy.invalidActions.length === 1 ? 'is' : 'are'} not IAM actions:`);
    for (const invalid of policy.invalidActions) lines.push(`  - ${invalid.action} (${invalid.resourceTypes.join(', ')}): ${invalid.reason}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The permissions a new template needs that the old one did not (and those it no longer needs). */
export function formatPolicyDiff(diff: PolicyDiff, oldName: string, newName: string): string {
  const lines: string[] = [];
  if (!diff.added.length && !diff.removed.length) return `No permission changes between ${oldName} and ${newName}.\n`;
  lines.push(diff.added.length ? `${newName} needs ${diff.added.length} permission${diff.added.length === 1 ? '' : 's'} that ${oldName} did not:` : `${newName} needs no new permission.`);
  for (const line of grouped(diff.added)) lines.push(`  + ${line}`);
  if (diff.removed.length) {
    lines.push(`and no longer needs ${diff.removed.length}:`);
    for (const line of grouped(diff.removed)) lines.push(`  - ${line}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Grants grouped by resource and condition: `lambda:CreateFunction, lambda:DeleteFunction on arn:...`. */
function grouped(grants: readonly Grant[]): string[] {
  const byResource = new Map<string, string[]>();
  for (const grant of grants) {
    const key = `${grant.resource}${grant.condition ? ` when ${JSON.stringify(grant.condition)}` : ''}`;
    byResource.set(key, [...(byResource.get(key) ?? []), grant.action]);
  }
  return [...byResource.entries()].map(([resource, actions]) => `${actions.join(', ')} on ${resource}`);
}

function abbreviate(actions: readonly string[]): string {
  return actions.length <= 4 ? actions.join(', ') : `${actions.slice(0, 3).join(', ')} and ${actions.length - 3} more`;
}

function number(value: number): string {
  return value.toLocaleString('en-US');
}
