/**
 * IAM's decision on one request made by a role holding some policies, by a maintained IAM
 * evaluator (`@cloud-copilot/iam-simulate`): what AWS would answer, without an AWS account.
 */
import { runSimulation } from '@cloud-copilot/iam-simulate';
import type { PolicyDocument } from '../../src/permissions/index.js';

/** IAM's answer. */
export type Decision = 'Allowed' | 'ImplicitlyDenied' | 'ExplicitlyDenied';

/** One request: an action on a resource, with the request's condition keys. */
export interface SimulatedRequest {
  readonly action: string;
  readonly resource: string;
  readonly context?: Readonly<Record<string, string | string[]>>;
}

/**
 * What IAM decides for a request of `principal` (a role of `account`) that holds `documents`.
 *
 * @throws Error when the simulator refuses the request (a wrong ARN or context key: a test's bug)
 */
export async function decide(documents: readonly PolicyDocument[], request: SimulatedRequest, principal: string, account: string): Promise<Decision> {
  const result = await runSimulation(
    {
      identityPolicies: documents.map((policy, index) => ({ name: `policy${index + 1}`, policy })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      request: {
        principal,
        action: request.action,
        resource: { resource: request.resource, accountId: account },
        contextVariables: { ...(request.context ?? {}) },
      },
    },
    {},
  );
  if (result.resultType === 'error') throw new Error(`iam-simulate refused ${request.action} on ${request.resource}: ${JSON.stringify(result.errors)}`);
  if (result.resultType !== 'single') throw new Error(`expected one decision for ${request.action} on ${request.resource}`);
  return result.overallResult as Decision;
}

/**
 * What code running as a deployer may try, to raise its rights (each must be denied): on itself,
 * on the boundary, on its own policies, and on a service role without the boundary.
 */
export function escalationAttempts(names: { deployer: string; boundary: string; serviceRole: string }): [string, SimulatedRequest][] {
  const { deployer, boundary, serviceRole } = names;
  const admin = 'arn:aws:iam::aws:policy/AdministratorAccess';
  return [
    ['attach AdministratorAccess to itself', { action: 'iam:AttachRolePolicy', resource: deployer, context: { 'iam:PolicyARN': admin } }],
    ['put an inline policy on itself', { action: 'iam:PutRolePolicy', resource: deployer }],
    ['pass itself to Lambda', { action: 'iam:PassRole', resource: deployer, context: { 'iam:PassedToService': 'lambda.amazonaws.com' } }],
    ['tag itself', { action: 'iam:TagRole', resource: deployer }],
    ['create the service role without the boundary', { action: 'iam:CreateRole', resource: serviceRole }],
    ['create the service role with another boundary', { action: 'iam:CreateRole', resource: serviceRole, context: { 'iam:PermissionsBoundary': admin } }],
    ['change the trust of a role without the boundary', { action: 'iam:UpdateAssumeRolePolicy', resource: serviceRole }],
    ['attach AdministratorAccess to a role without the boundary', { action: 'iam:AttachRolePolicy', resource: serviceRole, context: { 'iam:PolicyARN': admin } }],
    ['take the boundary off the service role', { action: 'iam:DeleteRolePermissionsBoundary', resource: serviceRole, context: { 'iam:PermissionsBoundary': boundary } }],
    ['write a new version of the boundary', { action: 'iam:CreatePolicyVersion', resource: boundary }],
    ['make another version of the boundary the default', { action: 'iam:SetDefaultPolicyVersion', resource: boundary }],
    ['delete the boundary', { action: 'iam:DeletePolicy', resource: boundary }],
    ['write a new version of its own managed policy', { action: 'iam:CreatePolicyVersion', resource: `${deployer.replace(':role/', ':policy/')}-1` }],
  ];
}
