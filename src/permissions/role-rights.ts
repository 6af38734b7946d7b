/**
 * The rights a template gives its own roles: the managed policies they attach, the statements of
 * their inline and attached policies, and who may assume them. A change that adds rights to a
 * role adds no permission to the deploy policy (the deployer already creates and changes the
 * role), so `permissions --against` compares these as well.
 */
import { isRecord, parseTemplate, type TemplateResource } from './template.js';

/** One right the template gives one of its roles. */
export interface RoleRight {
  /** The role's logical id. */
  readonly role: string;
  /** `managed-policy`: an attached managed policy; `statement`: one action on one resource; `trust`: a principal that may assume the role. */
  readonly kind: 'managed-policy' | 'statement' | 'trust';
  /** What it is, for a reader: `AWS managed policy AdministratorAccess`, `Allow s3:GetObject on Uploads.Arn/*`. */
  readonly what: string;
  /** Why a reviewer should look twice (administrator access, IAM wholesale, a wildcard action...), if so. */
  readonly risk?: string;
}

/** What a new template's roles may do that the old one's could not, and what they no longer may. */
export interface RoleRightsDiff {
  readonly added: RoleRight[];
  readonly removed: RoleRight[];
}

/** AWS managed policies that amount to more than a service role should hold. */
const RISKY_MANAGED_POLICIES: Readonly<Record<string, string>> = {
  AdministratorAccess: 'administrator access: every action on every resource',
  PowerUserAccess: 'every action but IAM and Organizations, on every resource',
  IAMFullAccess: 'every IAM action: a way to administrator access',
  AWSLambda_FullAccess: 'every Lambda action, and passing roles to it',
};

/**
 * The rights a template gives its roles.
 *
 * @throws InputError when `template` is not a CloudFormation template.
 */
export function roleRightsOf(template: unknown, templateName?: string): RoleRight[] {
  const { resources } = parseTemplate(template, templateName);
  const roles = new Map(resources.filter((r) => r.type === 'AWS::IAM::Role').map((r) => [r.logicalId, r]));
  const byId = new Map(resources.map((r) => [r.logicalId, r]));
  const rights: RoleRight[] = [];
  for (const role of roles.values()) {
    for (const arn of array(role.properties['ManagedPolicyArns'])) rights.push(...attachedPolicy(role.logicalId, arn, byId));
    for (const policy of array(role.properties['Policies'])) {
      if (isRecord(policy)) rights.push(...statementRights(role.logicalId, policy['PolicyDocument'], ` (inline policy ${render(policy['PolicyName'])})`));
    }
    rights.push(...trustRights(role.logicalId, role.properties['AssumeRolePolicyDocument']));
  }
  // Policies of their own that name the role in `Roles` (AWS::IAM::Policy, RolePolicy, ManagedPolicy).
  for (const policy of resources.filter((r) => ['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy', 'AWS::IAM::RolePolicy'].includes(r.type))) {
    const named = [...array(policy.properties['Roles']), ...(policy.properties['RoleName'] !== undefined ? [policy.properties['RoleName']] : [])];
    for (const role of named) {
      const id = isRecord(role) && typeof role['Ref'] === 'string' && roles.has(role['Ref']) ? role['Ref'] : `role ${render(role)}`;
      rights.push(...statementRights(id, policy.properties['PolicyDocument'], ` (${policy.type.split('::')[2]} ${policy.logicalId})`));
    }
  }
  return dedupe(rights);
}

/** Compare the rights two templates give their roles (by role logical id). */
export function diffRoleRights(before: readonly RoleRight[], after: readonly RoleRight[]): RoleRightsDiff {
  const key = (r: RoleRight) => `${r.role}\u0000${r.kind}\u0000${r.what}`;
  const old = new Set(before.map(key));
  const now = new Set(after.map(key));
  return { added: after.filter((r) => !old.has(key(r))), removed: before.filter((r) => !now.has(key(r))) };
}

/** The rights of a managed policy attached by ARN, or by a reference to the template's own. */
function attachedPolicy(role: string, arn: unknown, byId: ReadonlyMap<string, TemplateResource>): RoleRight[] {
  const own = isRecord(arn) && typeof arn['Ref'] === 'string' ? byId.get(arn['Ref']) : undefined;
  if (own?.type === 'AWS::IAM::ManagedPolicy') return statementRights(role, own.properties['PolicyDocument'], ` (ManagedPolicy ${own.logicalId})`);
  const text = render(arn);
  const awsManaged = /^arn:[^:]+:iam::aws:policy\/(?:.*\/)?([^/]+)$/.exec(text)?.[1] ?? /^arn:\$\{AWS::Partition\}:iam::aws:policy\/(?:.*\/)?([^/]+)$/.exec(text)?.[1];
  const what = awsManaged ? `AWS managed policy ${awsManaged}` : `managed policy ${text}`;
  const risk = awsManaged ? RISKY_MANAGED_POLICIES[awsManaged] : undefined;
  return [{ role, kind: 'managed-policy', what, ...(risk ? { risk } : {}) }];
}

/** One right per effect, action and resource of a policy document. */
function statementRights(role: string, document: unknown, via: string): RoleRight[] {
  const statements = isRecord(document) ? array(document['Statement']) : [];
  const rights: RoleRight[] = [];
  for (const statement of statements.filter(isRecord)) {
    const effect = statement['Effect'] === 'Deny' ? 'Deny' : 'Allow';
    const not = statement['NotAction'] !== undefined;
    const actions = array(not ? statement['NotAction'] : statement['Action']).map(render);
    const resources = array(statement['NotResource'] ?? statement['Resource']).map(render);
    const onResources = statement['NotResource'] !== undefined ? 'every resource except ' : '';
    const condition = statement['Condition'] !== undefined ? ` when ${JSON.stringify(statement['Condition'])}` : '';
    if (not) {
      rights.push({ role, kind: 'statement', what: `${effect} every action except ${actions.join(', ')} on ${onResources}${resources.join(', ')}${condition}${via}`, ...(effect === 'Allow' ? { risk: 'NotAction: every action not listed' } : {}) });
      continue;
    }
    for (const action of actions) {
      for (const resource of resources) {
        const risk = effect === 'Allow' ? actionRisk(action, resource) : undefined;
        rights.push({ role, kind: 'statement', what: `${effect} ${action} on ${onResources}${resource}${condition}${via}`, ...(risk ? { risk } : {}) });
      }
    }
  }
  return rights;
}

/** Why an allowed action deserves a second look. */
function actionRisk(action: string, resource: string): string | undefined {
  const [service = '', name = ''] = action.toLowerCase().split(':');
  if (action === '*' || service === '*') return 'every action';
  if (['iam', 'sts', 'organizations'].includes(service) && name.includes('*')) return `a wildcard over ${service.toUpperCase()}: a way to more rights`;
  if (service === 'iam' && /^(passrole|createrole|attachrolepolicy|putrolepolicy|createpolicyversion|updateassumerolepolicy)$/.test(name)) return 'changes what roles may do';
  if (name === '*' && resource === '*') return `every ${service} action on every resource`;
  return undefined;
}

/** Who may assume the role. */
function trustRights(role: string, document: unknown): RoleRight[] {
  const statements = isRecord(document) ? array(document['Statement']) : [];
  const rights: RoleRight[] = [];
  for (const statement of statements.filter(isRecord)) {
    if (statement['Effect'] === 'Deny') continue;
    const principal = statement['Principal'];
    const entries: [string, unknown][] = principal === '*' ? [['AWS', '*']] : isRecord(principal) ? Object.entries(principal) : [];
    for (const [type, values] of entries) {
      for (const value of array(values)) {
        const who = render(value);
        const risk = who === '*' ? 'anyone may assume it' : type === 'AWS' ? 'another account or principal may assume it' : undefined;
        rights.push({ role, kind: 'trust', what: `${type} ${who} may assume it`, ...(risk ? { risk } : {}) });
      }
    }
  }
  return rights;
}

/**
 * A template value as a reader would write it, the same in every stage: references as
 * `Logical.Attribute`, `${...}` left as written.
 */
function render(value: unknown): string {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return value.map(render).join(', ');
  if (!isRecord(value)) return '';
  const [fn] = Object.keys(value);
  const argument = fn === undefined ? undefined : value[fn];
  switch (fn) {
    case 'Ref':
      return `\${${render(argument)}}`;
    case 'Fn::GetAtt':
      return Array.isArray(argument) ? argument.map(render).join('.') : render(argument);
    case 'Fn::Sub':
      return render(Array.isArray(argument) ? argument[0] : argument);
    case 'Fn::Join':
      return Array.isArray(argument) && Array.isArray(argument[1]) ? argument[1].map(render).join(render(argument[0])) : JSON.stringify(value);
    default:
      return JSON.stringify(value);
  }
}

function array(value: unknown): unknown[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

function dedupe(rights: RoleRight[]): RoleRight[] {
  const seen = new Map<string, RoleRight>();
  for (const right of rights) seen.set(`${right.role}\u0000${right.kind}\u0000${right.what}`, right);
  return [...seen.values()];
}
