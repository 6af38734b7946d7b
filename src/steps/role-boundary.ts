/**
 * The permissions boundary on the roles of a deployment template. The deployer role may create or
 * change a role only when it carries the environment's boundary; a template with a role that does
 * not would fail half-way through a deploy with AccessDenied in AWS, and is refused before.
 */

/** A role of a template that does not carry the boundary. */
export interface RoleWithoutBoundary {
  readonly logicalId: string;
  /** For messages: which role, and what it has instead. */
  readonly description: string;
}

interface TemplateResource {
  readonly Type?: unknown;
  readonly Properties?: { readonly PermissionsBoundary?: unknown; readonly RoleName?: unknown };
}

/**
 * The `AWS::IAM::Role` resources of a template whose `PermissionsBoundary` is not the given ARN.
 * A boundary written as `Fn::Sub` of the pseudo parameters (`${AWS::Partition}`, `${AWS::AccountId}`)
 * is evaluated with the partition and account of the ARN.
 */
export function rolesWithoutBoundary(template: unknown, boundaryArn: string): RoleWithoutBoundary[] {
  const resources = (template as { Resources?: Record<string, TemplateResource> } | undefined)?.Resources ?? {};
  const [, partition = 'aws', , , account = ''] = boundaryArn.split(':');
  const missing: RoleWithoutBoundary[] = [];
  for (const [logicalId, resource] of Object.entries(resources)) {
    if (resource.Type !== 'AWS::IAM::Role') continue;
    const boundary = resource.Properties?.PermissionsBoundary;
    const value = evaluate(boundary, { 'AWS::Partition': partition, 'AWS::AccountId': account });
    if (value === boundaryArn) continue;
    missing.push({
      logicalId,
      description:
        boundary === undefined
          ? `the role ${logicalId} has no PermissionsBoundary`
          : value === undefined
            ? `the role ${logicalId} has a PermissionsBoundary that cannot be checked (${JSON.stringify(boundary)})`
            : `the role ${logicalId} has the PermissionsBoundary ${value}`,
    });
  }
  return missing;
}

function evaluate(value: unknown, pseudo: Readonly<Record<string, string>>): string | undefined {
  if (typeof value === 'string') return value;
  const sub = (value as { 'Fn::Sub'?: unknown } | undefined)?.['Fn::Sub'];
  if (typeof sub === 'string') {
    let unresolved = false;
    const text = sub.replace(/\$\{([^}!]+)\}/g, (_match, name: string) => {
      const resolved = pseudo[name];
      if (resolved === undefined) unresolved = true;
      return resolved ?? '';
    });
    return unresolved ? undefined : text;
  }
  return undefined;
}
