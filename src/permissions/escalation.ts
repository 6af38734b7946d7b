/**
 * What keeps a deployer from raising its own rights: the permissions boundary that every role it
 * creates or changes must carry, and the explicit denials on the deployer itself and on the boundary.
 *
 * Which IAM actions need the boundary is read from IAM's own data: the actions that write to a role
 * or user and for which IAM evaluates `iam:PermissionsBoundary`.
 */
import type { IamAction } from './iam-catalog.js';
import type { PolicyStatement } from './policy.js';

/** The condition key that holds the boundary a role or user has (or is given). */
export const PERMISSIONS_BOUNDARY_KEY = 'iam:PermissionsBoundary';

/**
 * Actions never granted to a deployer: they take a boundary off a role or user, after which
 * nothing limits what the deployer gives it.
 */
export const NEVER_GRANTED: ReadonlySet<string> = new Set(['iam:DeleteRolePermissionsBoundary', 'iam:DeleteUserPermissionsBoundary']);

/** What the guard protects, in one account. */
export interface DeployerGuard {
  /** The permissions boundary every role the deployer creates or changes must carry. */
  readonly permissionsBoundaryArn: string;
  /** The deployer role itself (`role/<service>-<env>-deployer`), when known. */
  readonly deployerRoleArn?: string;
}

/**
 * Whether IAM lets a policy require the boundary for this action: an IAM write on a role or user
 * (create, put or attach a policy, update, delete) for which IAM evaluates `iam:PermissionsBoundary`.
 * Reads (`iam:GetRole`) are left out: they change nothing.
 */
export function requiresBoundary(action: IamAction): boolean {
  return action.service === 'iam' && action.conditionKeys.includes(PERMISSIONS_BOUNDARY_KEY) && !/^(Read|List)$/.test(action.accessLevel);
}

/** The condition that requires the boundary: exact, or an ARN pattern when the account is not known. */
export function boundaryCondition(permissionsBoundaryArn: string): NonNullable<PolicyStatement['Condition']> {
  return permissionsBoundaryArn.includes('*')
    ? { ArnLike: { [PERMISSIONS_BOUNDARY_KEY]: permissionsBoundaryArn } }
    : { StringEquals: { [PERMISSIONS_BOUNDARY_KEY]: permissionsBoundaryArn } };
}

/**
 * The deployer role that goes with a boundary named `<service>-<env>-boundary`
 * (`role/<service>-<env>-deployer`, as the deployer stacks name them), or `undefined` for a
 * boundary named otherwise.
 */
export function deployerRoleOfBoundary(permissionsBoundaryArn: string): string | undefined {
  const match = /^(arn:[^:]+:iam::[^:]*:)policy\/(?:.*\/)?([^/]+)-boundary$/.exec(permissionsBoundaryArn);
  return match ? `${match[1]}role/${match[2]}-deployer` : undefined;
}

/** The deployer's own managed policies (`policy/<deployer>-<n>`, as the deployer stacks name them). */
function deployerPoliciesOf(deployerRoleArn: string): string {
  return `${deployerRoleArn.replace(':role/', ':policy/')}-*`;
}

/** The ARNs nothing may touch: the deployer, its own policies, the boundary. */
export function guardedArns(guard: DeployerGuard): string[] {
  return [...(guard.deployerRoleArn ? [guard.deployerRoleArn, deployerPoliciesOf(guard.deployerRoleArn)] : []), guard.permissionsBoundaryArn];
}

/**
 * Explicit denials that hold whatever the Allow statements say: nothing on the deployer role, its
 * own policies or the boundary policy (no inline or attached policy, no new policy version, no
 * pass to a service), and no boundary taken off any role or user.
 */
export function escalationGuardStatements(guard: DeployerGuard): PolicyStatement[] {
  return [
    {
      Sid: 'DenyDeployerAndBoundary',
      Effect: 'Deny',
      Action: ['iam:*'],
      Resource: guardedArns(guard),
    },
    {
      Sid: 'DenyBoundaryRemoval',
      Effect: 'Deny',
      Action: [...NEVER_GRANTED].sort(),
      Resource: ['*'],
    },
  ];
}

/**
 * Whether an ARN pattern of a policy (`*` and `?` wildcards, as IAM matches resources) matches an
 * ARN, itself possibly a pattern: then some resource may match both.
 */
export function arnPatternsOverlap(pattern: string, arn: string): boolean {
  return globsOverlap(pattern, arn);
}

/** Whether two glob patterns (`*`, `?`) can match a common string. */
function globsOverlap(a: string, b: string): boolean {
  const memo = new Map<string, boolean>();
  const visit = (i: number, j: number): boolean => {
    const key = `${i},${j}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let result: boolean;
    if (i === a.length && j === b.length) result = true;
    else if (i < a.length && a[i] === '*') result = visit(i + 1, j) || (j < b.length && visit(i, j + 1));
    else if (j < b.length && b[j] === '*') result = visit(i, j + 1) || (i < a.length && visit(i + 1, j));
    else if (i === a.length || j === b.length) result = false;
    else result = (a[i] === b[j] || a[i] === '?' || b[j] === '?') && visit(i + 1, j + 1);
    memo.set(key, result);
    return result;
  };
  return visit(0, 0);
}
