/**
 * The IAM of synthesized templates, read as AWS would: every role with its inline and managed
 * policies and its permissions boundary, CloudFormation intrinsics resolved (pseudo parameters,
 * `Ref`/`GetAtt` of the templates' own roles and policies, joins, subs and cross-stack imports),
 * and requests evaluated by `@cloud-copilot/iam-simulate`.
 */
import { runSimulation } from '@cloud-copilot/iam-simulate';

/** One synthesized stack, as the cloud assembly holds it. */
export interface SynthesizedTemplate {
  readonly stackName: string;
  readonly account: string;
  readonly region: string;
  readonly template: { Resources?: Record<string, CfnResource>; Outputs?: Record<string, { Value: unknown; Export?: { Name: string } }> };
}

interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}

/** A policy document, resolved. */
export interface PolicyDocument {
  readonly Version?: string;
  readonly Statement: PolicyStatement[];
}

export interface PolicyStatement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: string | string[];
  readonly NotAction?: string | string[];
  readonly Resource?: string | string[];
  readonly NotResource?: string | string[];
  readonly Condition?: Record<string, Record<string, unknown>>;
}

/** A role of the templates, with what IAM evaluates for it. */
export interface RoleModel {
  readonly stackName: string;
  readonly account: string;
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  readonly inline: { name: string; document: PolicyDocument }[];
  readonly managed: { name: string; arn: string; document: PolicyDocument }[];
  /** The permissions boundary's document, when the role has one. */
  readonly boundary?: { arn: string; document: PolicyDocument };
  /** Who may assume it. */
  readonly trust: PolicyDocument;
}

/** A customer-managed policy of the templates. */
export interface ManagedPolicyModel {
  readonly stackName: string;
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  readonly document: PolicyDocument;
}

/** What IAM decides. */
export type Decision = 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied';

/** The IAM of a set of templates. */
export class IamModel {
  readonly roles: RoleModel[] = [];
  readonly policies: ManagedPolicyModel[] = [];
  private readonly exports = new Map<string, unknown>();

  constructor(readonly templates: readonly SynthesizedTemplate[]) {
    for (const stack of templates) {
      for (const output of Object.values(stack.template.Outputs ?? {})) {
        if (output.Export) this.exports.set(output.Export.Name, this.resolve(stack, output.Value));
      }
    }
    for (const stack of templates) {
      for (const [logicalId, resource] of Object.entries(stack.template.Resources ?? {})) {
        if (resource.Type !== 'AWS::IAM::ManagedPolicy') continue;
        this.policies.push({
          stackName: stack.stackName,
          logicalId,
          name: this.policyName(stack, logicalId),
          arn: this.policyArn(stack, logicalId),
          document: this.resolve(stack, resource.Properties!['PolicyDocument']) as PolicyDocument,
        });
      }
    }
    for (const stack of templates) {
      for (const [logicalId, resource] of Object.entries(stack.template.Resources ?? {})) {
        if (resource.Type === 'AWS::IAM::Role') this.roles.push(this.roleModel(stack, logicalId, resource));
      }
    }
  }

  /** A role by name. */
  role(name: string): RoleModel {
    const role = this.roles.find((r) => r.name === name);
    if (!role) throw new Error(`no role named ${name}; there are ${this.roles.map((r) => r.name).join(', ')}`);
    return role;
  }

  /** A managed policy by name. */
  policy(name: string): ManagedPolicyModel {
    const policy = this.policies.find((p) => p.name === name);
    if (!policy) throw new Error(`no managed policy named ${name}; there are ${this.policies.map((p) => p.name).join(', ')}`);
    return policy;
  }

  /** The role that a Commands action or project runs with, by its `RoleArn`/`ServiceRole` value. */
  roleByArn(value: unknown, stackName: string): RoleModel {
    const stack = this.templates.find((t) => t.stackName === stackName)!;
    const arn = this.resolve(stack, value);
    const role = this.roles.find((r) => r.arn === arn);
    if (!role) throw new Error(`no role with ARN ${String(arn)}`);
    return role;
  }

  /** Resolve CloudFormation intrinsics of a stack's value. */
  resolve(stack: SynthesizedTemplate, value: unknown): unknown {
    if (Array.isArray(value)) return value.map((v) => this.resolve(stack, v));
    if (value === null || typeof value !== 'object') return value;
    const node = value as Record<string, unknown>;
    if ('Ref' in node) return this.ref(stack, node['Ref'] as string);
    if ('Fn::GetAtt' in node) {
      const [logicalId, attribute] = node['Fn::GetAtt'] as [string, string];
      const resource = stack.template.Resources?.[logicalId];
      if (resource?.Type === 'AWS::IAM::Role' && attribute === 'Arn') return this.roleArn(stack, logicalId, resource);
      return `arn:aws:${resource?.Type.split('::')[1]!.toLowerCase() ?? 'unknown'}:${stack.region}:${stack.account}:${logicalId}/${attribute}`;
    }
    if ('Fn::Join' in node) {
      const [delimiter, items] = node['Fn::Join'] as [string, unknown[]];
      return (this.resolve(stack, items) as unknown[]).map(String).join(delimiter);
    }
    if ('Fn::Sub' in node) {
      const text = node['Fn::Sub'] as string;
      return text.replace(/\$\{([^}]+)\}/g, (_, name: string) => String(this.ref(stack, name)));
    }
    if ('Fn::ImportValue' in node) {
      const name = this.resolve(stack, node['Fn::ImportValue']) as string;
      if (!this.exports.has(name)) throw new Error(`no stack exports ${name}`);
      return this.exports.get(name);
    }
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, this.resolve(stack, v)]));
  }

  /**
   * Evaluate one request of a role, as IAM would in the role's own account: its identity policies,
   * its boundary, and an optional resource policy.
   */
  async decide(role: RoleModel, request: { action: string; resource: string; resourceAccount?: string; context?: Record<string, string | string[]> }): Promise<Decision> {
    return evaluate({
      principal: `arn:aws:sts::${role.account}:assumed-role/${role.name}/session`,
      identityPolicies: [...role.inline, ...role.managed].map((p) => ({ name: p.name, policy: p.document })),
      ...(role.boundary ? { boundary: role.boundary.document } : {}),
      ...request,
      resourceAccount: request.resourceAccount ?? role.account,
      context: { 'aws:PrincipalArn': role.arn, ...request.context },
    });
  }

  /**
   * Whether a role may assume another, as IAM decides it: the caller's identity policies (and
   * boundary) must allow `sts:AssumeRole` on the target, and the target's trust policy must allow
   * the caller (both, across accounts).
   */
  async decideAssume(caller: RoleModel, target: RoleModel): Promise<Decision> {
    return evaluate({
      principal: `arn:aws:sts::${caller.account}:assumed-role/${caller.name}/session`,
      identityPolicies: [...caller.inline, ...caller.managed].map((p) => ({ name: p.name, policy: p.document })),
      ...(caller.boundary ? { boundary: caller.boundary.document } : {}),
      action: 'sts:AssumeRole',
      resource: target.arn,
      resourceAccount: target.account,
      resourcePolicy: target.trust,
      context: { 'aws:PrincipalArn': caller.arn, 'aws:PrincipalAccount': caller.account },
    });
  }

  private roleModel(stack: SynthesizedTemplate, logicalId: string, resource: CfnResource): RoleModel {
    const properties = resource.Properties ?? {};
    const inline = ((this.resolve(stack, properties['Policies']) as { PolicyName: string; PolicyDocument: PolicyDocument }[] | undefined) ?? []).map((p) => ({
      name: p.PolicyName,
      document: p.PolicyDocument,
    }));
    const attachedArns = new Set((this.resolve(stack, properties['ManagedPolicyArns']) as string[] | undefined) ?? []);
    for (const [policyId, policy] of Object.entries(stack.template.Resources ?? {})) {
      if (policy.Type !== 'AWS::IAM::ManagedPolicy' && policy.Type !== 'AWS::IAM::Policy') continue;
      const roles = (policy.Properties?.['Roles'] as { Ref?: string }[] | undefined) ?? [];
      if (!roles.some((r) => r.Ref === logicalId)) continue;
      if (policy.Type === 'AWS::IAM::ManagedPolicy') attachedArns.add(this.policyArn(stack, policyId));
      else inline.push({ name: policyId, document: this.resolve(stack, policy.Properties!['PolicyDocument']) as PolicyDocument });
    }
    const managed = [...attachedArns].map((arn) => {
      const policy = this.policies.find((p) => p.arn === arn);
      if (!policy) throw new Error(`role ${logicalId} has a managed policy the templates do not hold: ${arn}`);
      return { name: policy.name, arn, document: policy.document };
    });
    const boundaryArn = this.resolve(stack, properties['PermissionsBoundary']) as string | undefined;
    const boundaryPolicy = boundaryArn === undefined ? undefined : this.policies.find((p) => p.arn === boundaryArn);
    if (boundaryArn !== undefined && !boundaryPolicy) throw new Error(`role ${logicalId} has a boundary the templates do not hold: ${boundaryArn}`);
    return {
      stackName: stack.stackName,
      account: stack.account,
      logicalId,
      name: this.roleName(stack, logicalId, resource),
      arn: this.roleArn(stack, logicalId, resource),
      inline,
      managed,
      ...(boundaryPolicy ? { boundary: { arn: boundaryPolicy.arn, document: boundaryPolicy.document } } : {}),
      trust: this.resolve(stack, properties['AssumeRolePolicyDocument']) as PolicyDocument,
    };
  }

  private ref(stack: SynthesizedTemplate, name: string): unknown {
    switch (name) {
      case 'AWS::Partition':
        return 'aws';
      case 'AWS::AccountId':
        return stack.account;
      case 'AWS::Region':
        return stack.region;
      case 'AWS::URLSuffix':
        return 'amazonaws.com';
      case 'AWS::StackName':
        return stack.stackName;
      default: {
        const resource = stack.template.Resources?.[name];
        if (resource?.Type === 'AWS::IAM::ManagedPolicy') return this.policyArn(stack, name);
        if (resource?.Type === 'AWS::IAM::Role') return this.roleName(stack, name, resource);
        return `ref-${name}`;
      }
    }
  }

  private roleName(stack: SynthesizedTemplate, logicalId: string, resource: CfnResource): string {
    const name = resource.Properties?.['RoleName'];
    return typeof name === 'string' ? name : `${stack.stackName}-${logicalId}-GENERATED`;
  }

  private roleArn(stack: SynthesizedTemplate, logicalId: string, resource: CfnResource): string {
    const rolePath = (resource.Properties?.['Path'] as string | undefined) ?? '/';
    return `arn:aws:iam::${stack.account}:role${rolePath}${this.roleName(stack, logicalId, resource)}`;
  }

  private policyName(stack: SynthesizedTemplate, logicalId: string): string {
    const name = stack.template.Resources![logicalId]!.Properties?.['ManagedPolicyName'];
    return typeof name === 'string' ? name : `${stack.stackName}-${logicalId}-GENERATED`;
  }

  private policyArn(stack: SynthesizedTemplate, logicalId: string): string {
    const policyPath = (stack.template.Resources![logicalId]!.Properties?.['Path'] as string | undefined) ?? '/';
    return `arn:aws:iam::${stack.account}:policy${policyPath}${this.policyName(stack, logicalId)}`;
  }
}

/** One request, evaluated by iam-simulate; a simulation error (a malformed policy, an unknown action) fails the test. */
export async function evaluate(input: {
  principal: string;
  identityPolicies: { name: string; policy: unknown }[];
  boundary?: unknown;
  action: string;
  resource: string;
  resourceAccount: string;
  /** The resource's own policy (a role's trust policy), when it has one. */
  resourcePolicy?: unknown;
  context?: Record<string, string | string[]>;
}): Promise<Decision> {
  const result = await runSimulation(
    {
      request: {
        principal: input.principal,
        action: input.action,
        resource: { resource: input.resource, accountId: input.resourceAccount },
        contextVariables: input.context ?? {},
      },
      identityPolicies: input.identityPolicies,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(input.boundary ? { permissionBoundaryPolicies: [{ name: 'boundary', policy: input.boundary }] } : {}),
      ...(input.resourcePolicy ? { resourcePolicy: input.resourcePolicy } : {}),
    },
    {},
  );
  if (result.resultType === 'error') {
    throw new Error(`the simulation of ${input.action} on ${input.resource} failed: ${JSON.stringify(result.errors)}`);
  }
  return result.overallResult as Decision;
}
