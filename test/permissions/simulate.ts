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
