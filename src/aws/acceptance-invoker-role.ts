import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { acknowledgeWildcards } from './acknowledge.js';
import { deployScope, deployTargetOf } from './deploy-permissions.js';
import { acceptanceActionRoleArn, invokerRoleName } from './names.js';

/** Properties of an `AcceptanceInvokerRole`. */
export interface AcceptanceInvokerRoleProps {
  /** The service whose functions it invokes (the pipeline's name). */
  readonly serviceName: string;
  /** The environment; its account is the stack's. */
  readonly targetStageName: string;
  /** The CICD account, where the acceptance tests run. */
  readonly deployingAccountId: string;
  /**
   * The region the environment deploys to.
   *
   * @default - the stack's region
   */
  readonly targetRegion?: string;
  /**
   * The name the service deploys under (serverless.yml's `service:`): its functions are `<serverlessService>-<stage>-<function>`.
   *
   * @default - `serviceName`
   */
  readonly serverlessService?: string;
  /**
   * The only principal that may assume this role.
   *
   * @default - `<service>-<stage>-accept-action` in the CICD account: the environment's acceptance tests
   */
  readonly acceptanceActionRoleArn?: string;
}

/**
 * The role acceptance tests assume to invoke the functions of the stage they test
 * (`SERVICE_INVOKE`, for services no HTTP request reaches): `<service>-<env>-invoker` in the
 * environment's account. It may call `lambda:InvokeFunction` on the service's own functions in
 * that environment and nothing else (no deploy, no IAM, no other service's functions), and only
 * that environment's acceptance action role may assume it.
 */
export class AcceptanceInvokerRole extends Construct {
  /** The role. */
  readonly role: iam.Role;
  /** Its name. */
  readonly roleName: string;

  constructor(scope: Construct, id: string, props: AcceptanceInvokerRoleProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const target = deployTargetOf(stack, props);
    this.roleName = invokerRoleName(props.serviceName, props.targetStageName);
    const trusted = props.acceptanceActionRoleArn ?? acceptanceActionRoleArn(props.serviceName, props.targetStageName, props.deployingAccountId, target.partition);
    const { functionArn, stackName } = deployScope(target);
    this.role = new iam.Role(this, 'Role', {
      roleName: this.roleName,
      description: `Invokes the functions of ${stackName} for the acceptance tests of ${props.serviceName} in ${props.targetStageName}; assumable only by them, from ${props.deployingAccountId}`,
      assumedBy: new iam.AccountPrincipal(props.deployingAccountId).withConditions({ ArnEquals: { 'aws:PrincipalArn': trusted } }),
      maxSessionDuration: Duration.hours(1),
      inlinePolicies: {
        Invoke: iam.PolicyDocument.fromJson({
          Version: '2012-10-17',
          Statement: [{ Sid: 'InvokeServiceFunctions', Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: functionArn }],
        }),
      },
    });
    acknowledgeWildcards(this.role, {
      InvokeServiceFunctions: `The functions of the service's own stack in this environment (${stackName}-<function>, as the Serverless Framework names them), and their versions and aliases: invoke only.`,
    });
  }
}
