import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { PolicyStatementJson } from '../model/config.js';
import { deployerRoleArn, deployerRoleName, partitionOf } from '../model/plan.js';
import { checkDeployStatements, defaultDeployStatements, type PolicyDocumentJson } from './deploy-permissions.js';
import { acknowledgeWildcards } from './acknowledge.js';
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
   * The only principal that may assume this role: the deploy action role of this service and
   * environment in the CICD account.
   *
   * @default - `<service>-<stage>-deploy-action` in the CICD account
   */
  readonly deployActionRoleArn?: string;
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
   * Where `deployPermissions` came from, for error messages.
   *
   * @default 'deployPermissions'
   */
  readonly where?: string;
}

/**
 * The role a service's deploy step assumes in a target account (the article's
 * `CrossAccountDeploymentRole`), named `<service>-<stage>-deployer`.
 *
 * Unlike the article's `AccountPrincipal`, which let anything in the CICD account assume it,
 * the trust policy names one principal: the deploy action role of the same service and
 * environment. The condition on `aws:PrincipalArn` (rather than the role ARN as principal) keeps
 * the trust valid when that role is re-created, and does not require it to exist first.
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
  /** The customer-managed policies holding inferred documents. */
  readonly managedPolicies: iam.ManagedPolicy[] = [];

  constructor(scope: Construct, id: string, props: CrossAccountDeploymentRoleProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const partition = partitionOf(stack.region);
    this.roleName = deployerRoleName(props.serviceName, props.targetStageName);
    const trusted = props.deployActionRoleArn ?? deployActionRoleArn(props.serviceName, props.targetStageName, props.deployingAccountId, partition);

    const documents = props.policyDocuments ?? [];
    let inline: Record<string, iam.PolicyDocument> | undefined;
    if (documents.length === 0) {
      const statements =
        props.deployPermissions ??
        defaultDeployStatements({ service: props.serviceName, stage: props.targetStageName, account: stack.account, region: stack.region, partition });
      checkDeployStatements(statements, props.where ?? 'deployPermissions');
      inline = { Deploy: iam.PolicyDocument.fromJson({ Version: '2012-10-17', Statement: statements }) };
    }
    this.deployerRole = new iam.Role(this, 'Role', {
      roleName: this.roleName,
      description: `Deploys ${props.serviceName} to ${props.targetStageName}; assumable only by its deploy action in ${props.deployingAccountId}`,
      assumedBy: new iam.AccountPrincipal(props.deployingAccountId).withConditions({ ArnEquals: { 'aws:PrincipalArn': trusted } }),
      maxSessionDuration: Duration.hours(1),
      ...(inline ? { inlinePolicies: inline } : {}),
    });
    documents.forEach((document, index) => {
      checkDeployStatements(document.Statement, `${props.where ?? 'deployPermissions'} (inferred document ${index + 1})`);
      this.managedPolicies.push(
        new iam.ManagedPolicy(this, `Inferred${index + 1}`, {
          managedPolicyName: `${this.roleName}-${index + 1}`,
          description: `Inferred deploy permissions of ${props.serviceName} in ${props.targetStageName} (${index + 1}/${documents.length})`,
          document: iam.PolicyDocument.fromJson(document),
          roles: [this.deployerRole],
        }),
      );
    });
    const reason =
      'Deploy permissions are scoped to the resources named after the service and stage (`<service>-<stage>-*`), whose full names and ids are chosen at deploy time; cloudformation:ValidateTemplate has no resource-level permissions.';
    acknowledgeWildcards(this.deployerRole, reason);
    this.managedPolicies.forEach((policy) => acknowledgeWildcards(policy, reason));
  }
}
