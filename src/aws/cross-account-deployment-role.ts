import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { PolicyStatementJson } from '../model/config.js';
import { InputError, type InputProblem } from '../model/errors.js';
import { deployerRoleArn, deployerRoleName, permissionsBoundaryName } from '../model/plan.js';
import {
  BOUNDARY_STATEMENT_REASONS,
  checkDeployStatements,
  DEFAULT_STATEMENT_REASONS,
  defaultDeployStatements,
  deployerGuardrails,
  deployScope,
  deployTargetOf,
  permissionsBoundaryStatements,
  type PolicyDocumentJson,
} from './deploy-permissions.js';
import { acknowledgeWildcards, wildcardStatements } from './acknowledge.js';
import { deployActionRoleArn } from './names.js';

/** Properties of a `CrossAccountDeploymentRole`. */
export interface CrossAccountDeploymentRoleProps {
  /** The service the role deploys. */
  readonly serviceName: string;
  /** The environment (stage) this role deploys to; its account is the stack's. */
  readonly targetStageName: string;
  /** The CICD account, where the service's pipeline runs. */
  readonly deployingAccountId: string;
  /**
   * The region the environment deploys to (IAM is global: the stack's region may be another
   * environment's of the same account).
   *
   * @default - the stack's region
   */
  readonly targetRegion?: string;
  /**
   * The only principal that may assume this role: the deploy action role of this service and
   * environment in the CICD account.
   *
   * @default - `<service>-<stage>-deploy-action` in the CICD account
   */
  readonly deployActionRoleArn?: string;
  /**
   * Who may assume the role instead, for an engine other than CodePipeline (GitHub Actions'
   * OIDC provider with the subjects of its deploy jobs), and how the role's description says it.
   *
   * @default - the deploy action role (`deployActionRoleArn`)
   */
  readonly trust?: { readonly principal: iam.IPrincipal; readonly description: string };
  /**
   * IAM statements the deploy needs. Checked: administrator access is refused.
   *
   * @default - `defaultDeployStatements`: what the Serverless Framework needs for the stack `<service>-<stage>`
   */
  readonly deployPermissions?: readonly PolicyStatementJson[];
  /**
   * Whole policy documents (from `inferDeployPolicy`, already split to fit IAM's size limits),
   * attached as customer-managed policies. Used instead of `deployPermissions` when given.
   *
   * @default - none
   */
  readonly policyDocuments?: readonly PolicyDocumentJson[];
  /**
   * Whether the last of `policyDocuments` holds the config's `extra` statements (for error messages).
   *
   * @default false
   */
  readonly lastDocumentIsExtra?: boolean;
  /**
   * The name the service deploys under (serverless.yml's `service:`): the default statements and
   * the boundary reach the stack `<serverlessService>-<stage>` and the resources named after it.
   *
   * @default - `serviceName`
   */
  readonly serverlessService?: string;
  /**
   * Why each wildcard statement of `deployPermissions` or `policyDocuments` is acceptable, by Sid.
   * Such statements are never acknowledged by themselves: one without a reason here is an error.
   *
   * @default - none
   */
  readonly acknowledgeWildcards?: Readonly<Record<string, string>>;
  /**
   * Where `deployPermissions` came from, for error messages.
   *
   * @default 'deployPermissions'
   */
  readonly where?: string;
  /**
   * Where `acknowledgeWildcards` came from, for error messages.
   *
   * @default 'acknowledgeWildcards'
   */
  readonly acknowledgementsWhere?: string;
}

/**
 * The role a service's deploy step assumes in a target account (the article's
 * `CrossAccountDeploymentRole`), named `<service>-<stage>-deployer`, with the permissions boundary
 * of the service's roles in that account (`<service>-<stage>-boundary`).
 *
 * Unlike the article's `AccountPrincipal`, which let anything in the CICD account assume it,
 * the trust policy names one principal: the deploy action role of the same service and
 * environment. The condition on `aws:PrincipalArn` (rather than the role ARN as principal) keeps
 * the trust valid when that role is re-created, and does not require it to exist first.
 *
 * Whatever its Allow statements (the defaults, the config's, or inferred ones), deny guardrails
 * keep the deployer from changing or passing itself, changing the boundary, creating or changing a
 * role without the boundary, or taking a boundary off a role: no deploy can raise its own rights.
 */
export class CrossAccountDeploymentRole extends Construct {
  /** The deployer role's name for a service and stage (the article's helper, kept). */
  static getRoleNameForService(serviceName: string, stage: string): string {
    return deployerRoleName(serviceName, stage);
  }

  /** The deployer role's ARN for a service and stage in an account (the article's helper, kept). */
  static getRoleArnForService(serviceName: string, stage: string, accountId: string, partition = 'aws'): string {
    return deployerRoleArn(serviceName, stage, accountId, partition);
  }

  /** The role. */
  readonly deployerRole: iam.Role;
  /** Its name. */
  readonly roleName: string;
  /** The permissions boundary every role the service's deploy creates must carry. */
  readonly permissionsBoundary: iam.ManagedPolicy;
  /** The customer-managed policies holding inferred documents. */
  readonly managedPolicies: iam.ManagedPolicy[] = [];

  constructor(scope: Construct, id: string, props: CrossAccountDeploymentRoleProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const target = deployTargetOf(stack, props);
    const { partition } = target;
    this.roleName = deployerRoleName(props.serviceName, props.targetStageName);
    const trusted = props.deployActionRoleArn ?? deployActionRoleArn(props.serviceName, props.targetStageName, props.deployingAccountId, partition);
    const boundaryArn = deployScope(target).boundaryArn;
    const where = props.where ?? 'deployPermissions';

    const documents = props.policyDocuments ?? [];
    const own = documents.length > 0 || props.deployPermissions !== undefined;
    const statements = documents.length > 0 ? undefined : (props.deployPermissions ?? defaultDeployStatements(target));
    if (statements) checkDeployStatements(statements, where);
    documents.forEach((document, index) => checkDeployStatements(document.Statement, `${where} (inferred document ${index + 1})`));
    // Statements of the config or inferred from a template are the user's to justify: a wildcard
    // nobody acknowledged fails synthesis here, before anything is deployed.
    if (own) {
      checkAcknowledged(
        statements
          ? [{ statements, where: (i) => `${where}[${i}]` }]
          : documents.map((d, n) => ({
              statements: d.Statement,
              where: (i: number) => (props.lastDocumentIsExtra && n === documents.length - 1 ? `${where}.extra[${i}]` : `${where}.infer (inferred document ${n + 1})`),
            })),
        props.acknowledgeWildcards ?? {},
        props.acknowledgementsWhere ?? 'acknowledgeWildcards',
      );
    }

    this.permissionsBoundary = new iam.ManagedPolicy(this, 'Boundary', {
      managedPolicyName: permissionsBoundaryName(props.serviceName, props.targetStageName),
      description: `Permissions boundary of the roles ${props.serviceName} creates in ${props.targetStageName}: the most they may do`,
      document: iam.PolicyDocument.fromJson({ Version: '2012-10-17', Statement: permissionsBoundaryStatements(target) }),
    });
    const deployerArn = deployerRoleArn(props.serviceName, props.targetStageName, stack.account, partition);
    this.deployerRole = new iam.Role(this, 'Role', {
      roleName: this.roleName,
      description: `Deploys ${props.serviceName} to ${props.targetStageName}; assumable only by ${props.trust?.description ?? `its deploy action in ${props.deployingAccountId}`}`,
      assumedBy: props.trust?.principal ?? new iam.AccountPrincipal(props.deployingAccountId).withConditions({ ArnEquals: { 'aws:PrincipalArn': trusted } }),
      maxSessionDuration: Duration.hours(1),
      inlinePolicies: {
        ...(statements ? { Deploy: iam.PolicyDocument.fromJson({ Version: '2012-10-17', Statement: statements }) } : {}),
        Guardrails: iam.PolicyDocument.fromJson({ Version: '2012-10-17', Statement: deployerGuardrails(deployerArn, boundaryArn) }),
      },
    });
    documents.forEach((document, index) => {
      this.managedPolicies.push(
        new iam.ManagedPolicy(this, `Inferred${index + 1}`, {
          managedPolicyName: `${this.roleName}-${index + 1}`,
          description: `Inferred deploy permissions of ${props.serviceName} in ${props.targetStageName} (${index + 1}/${documents.length})`,
          document: iam.PolicyDocument.fromJson(document),
          roles: [this.deployerRole],
        }),
      );
    });
    const reasons = own ? (props.acknowledgeWildcards ?? {}) : DEFAULT_STATEMENT_REASONS;
    acknowledgeWildcards(this.deployerRole, reasons);
    this.managedPolicies.forEach((policy) => acknowledgeWildcards(policy, reasons));
    acknowledgeWildcards(this.permissionsBoundary, BOUNDARY_STATEMENT_REASONS);
  }
}

/**
 * Every wildcard statement of the user's (config or inferred) must have a Sid that the config
 * acknowledges with a reason.
 *
 * @throws InputError listing each statement nobody acknowledged, with its wildcards
 */
function checkAcknowledged(
  sources: readonly { statements: readonly PolicyStatementJson[]; where: (index: number) => string }[],
  acknowledgements: Readonly<Record<string, string>>,
  acknowledgementsWhere: string,
): void {
  const problems: InputProblem[] = [];
  for (const source of sources) {
    for (const statement of wildcardStatements({ Statement: source.statements })) {
      if (statement.sid !== undefined && acknowledgements[statement.sid] !== undefined) continue;
      const what = `wildcards ${statement.findings.map((f) => f.replace(/^(Action|Resource)::/, '')).join(', ')} (cdk-nag AwsSolutions-IAM5)`;
      problems.push({
        where: statement.sid === undefined ? source.where(statement.index) : `${source.where(statement.index)} Sid ${statement.sid}`,
        message:
          statement.sid === undefined
            ? `${what}: give the statement a Sid, and say in ${acknowledgementsWhere} why they are acceptable`
            : `${what}: say in ${acknowledgementsWhere}.${statement.sid} why they are acceptable, or narrow the statement`,
      });
    }
  }
  if (problems.length > 0) {
    throw new InputError('deploy statements with wildcards nobody acknowledged', problems);
  }
}
