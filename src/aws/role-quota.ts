/**
 * IAM roles per account against IAM's quota: every service adds roles to the CICD account (its
 * pipeline's, its action roles, its pull-request build's) and to each environment's account (its
 * deployer and invoker roles), and IAM stops creating roles at the account's quota.
 */

/**
 * IAM's default quota of roles in an account (Service Quotas: IAM, "Roles per account"; it can be
 * raised there).
 */
export const IAM_ROLES_QUOTA = 1_000;

/** The name of the quota to raise, as Service Quotas shows it. */
export const IAM_ROLES_QUOTA_NAME = 'Roles per account (IAM, Service Quotas)';

/** The roles the synthesized stacks create in one account. */
export interface AccountRoles {
  readonly account: string;
  /** The roles of the synthesized stacks (not those the account already holds). */
  readonly roles: number;
  /** Whether they alone pass IAM's default quota. */
  readonly overDefaultQuota: boolean;
}

/** Count the roles of stacks by account, accounts in order of first appearance. */
export function rolesPerAccount(stacks: readonly { readonly account: string; readonly roles: number }[]): AccountRoles[] {
  const counts = new Map<string, number>();
  for (const stack of stacks) counts.set(stack.account, (counts.get(stack.account) ?? 0) + stack.roles);
  return [...counts].map(([account, roles]) => ({ account, roles, overDefaultQuota: roles > IAM_ROLES_QUOTA }));
}
