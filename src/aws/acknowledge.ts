/**
 * Acknowledging cdk-nag findings from inside the constructs, with the reason next to the code
 * that causes them. Acknowledgments are construct metadata read by validation plugins (cdk-nag
 * v3 reads `Validations.of(x).acknowledge`), so the library does not depend on cdk-nag.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';

/**
 * Acknowledge `AwsSolutions-IAM5` (wildcard permissions) for exactly the wildcards the given
 * role or managed policy holds now, finding by finding: a wildcard added later is reported again.
 */
export function acknowledgeWildcards(entity: iam.Role | iam.ManagedPolicy, reason: string): void {
  const cfn = entity.node.defaultChild as iam.CfnRole | iam.CfnManagedPolicy;
  const stack = Stack.of(entity);
  const documents: unknown[] =
    cfn instanceof iam.CfnRole
      ? ((stack.resolve(cfn.policies) as { policyDocument: unknown }[] | undefined) ?? []).map((p) => stack.resolve(p.policyDocument))
      : [stack.resolve(cfn.policyDocument)];
  for (const finding of wildcardFindings(documents)) {
    Validations.of(cfn).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason });
  }
}

/** Acknowledge one rule on a construct and everything below it. */
export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

/** The wildcard findings of policy documents, named the way cdk-nag names them (`Action::s3:*`, `Resource::arn...*`). */
function wildcardFindings(documents: readonly unknown[]): Set<string> {
  const findings = new Set<string>();
  for (const document of documents) {
    const statements = (document as { Statement?: { Effect?: string; Action?: unknown; Resource?: unknown }[] }).Statement ?? [];
    for (const statement of statements) {
      if (statement.Effect !== 'Allow') continue;
      for (const action of asArray(statement.Action)) {
        if (typeof action === 'string' && action.includes('*')) findings.add(`Action::${action}`);
      }
      for (const resource of asArray(statement.Resource).map(flatten)) {
        if (resource.includes('*')) findings.add(`Resource::${resource}`);
      }
    }
  }
  return findings;
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : value === undefined ? [] : [value];
}

/** A CloudFormation value as one string, as cdk-nag flattens it: `<Logical.Attr>`, `<Ref>`, joins concatenated. */
function flatten(node: unknown): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
  const value = node as Record<string, unknown>;
  if (value['Fn::Join']) {
    const [delimiter, items] = value['Fn::Join'] as [string, unknown[]];
    return items.map(flatten).join(delimiter);
  }
  if (value['Fn::Sub']) return flatten(value['Fn::Sub']);
  if (value['Fn::GetAtt']) {
    const [resource, attribute] = value['Fn::GetAtt'] as [unknown, unknown];
    return `<${flatten(resource)}.${flatten(attribute)}>`;
  }
  if (value['Fn::ImportValue']) return flatten(value['Fn::ImportValue']);
  if (value.Ref) return `<${flatten(value.Ref)}>`;
  return JSON.stringify(node);
}
