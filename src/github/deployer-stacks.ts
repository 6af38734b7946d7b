/**
 * The AWS side of the GitHub Actions engine: in each environment account, GitHub's OIDC provider
 * (created, or imported where the account has it) and the services' deployer roles, built by the
 * same `CrossAccountDeploymentRole` as the CodePipeline engine's (same permissions, boundary and
 * guardrails) with another trust: the provider, `aud` = `sts.amazonaws.com`, and `sub` exactly
 * the jobs that deploy to that environment (`repo:<owner>/<repo>:environment:<env>`, and its
 * `<env>-rollback` where the stage rolls back). No pull request, branch or other environment.
 */
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { CrossAccountDeploymentRole, type CrossAccountDeploymentRoleProps } from '../aws/cross-account-deployment-role.js';
import type { PolicyDocumentJson } from '../aws/deploy-permissions.js';
import { CICD_APP_CONTEXT } from '../aws/cicd-app.js';
import { checkPrefix, DEFAULT_PREFIX } from '../aws/names.js';
import { InputError } from '../model/errors.js';
import { partitionOf } from '../model/plan.js';
import type { PipelinePlan, PlanEnvironment, PlansDocument } from '../model/plan-schema.js';
import { environmentSubject, GITHUB_OIDC_AUDIENCE, GITHUB_OIDC_HOST, githubOidcProviderArn, rollbackEnvironmentName } from './names.js';

/** Properties of `GitHubDeployerStacks`. */
export interface GitHubDeployerStacksProps {
  /** The plans (their push pipelines' environments get deployers). */
  readonly plans: PlansDocument;
  /** @default 'service-pipelines' */
  readonly prefix?: string;
  /**
   * Inferred deploy policies by `<service>/<environment>`, for plans with `deployPermissions: infer`.
   *
   * @default - none: such a plan is an error
   */
  readonly deployPolicies?: ReadonlyMap<string, readonly PolicyDocumentJson[]>;
  /**
   * Accounts that already have GitHub's OIDC provider (an account holds one per issuer): the
   * stacks refer to it instead of creating it. `'all'` for every account.
   *
   * @default - the first stack of each account creates it
   */
  readonly importOidcProvider?: readonly string[] | 'all';
  /**
   * How many deployer roles one stack holds (each with its boundary and inferred policies, within
   * CloudFormation's 500 resources and 1 MB).
   *
   * @default 20
   */
  readonly rolesPerStack?: number;
}

/** One deployer the stacks hold. */
export interface GitHubDeployer {
  readonly service: string;
  readonly environment: PlanEnvironment;
  readonly repository: string;
  /** The `sub` claims it admits. */
  readonly subjects: readonly string[];
}

/** The OIDC subjects each environment's deployer of a plan admits: its deploy jobs' environments. */
export function deployersOf(plan: PipelinePlan): GitHubDeployer[] {
  const github = plan.source.github;
  if (!github) {
    throw new InputError('no repository', [{ where: `pipeline ${plan.pipelineName}: source.github`, message: 'GitHub Actions runs a pipeline in its service\'s repository: give source.github (owner, repo)' }]);
  }
  const repository = `${github.owner}/${github.repo}`;
  return plan.environments.map((environment) => {
    const rollsBack = plan.stages.some((s) => s.rollback?.environment === environment.name && s.rollback.actions.some((a) => a.privilege === 'deploy'));
    return {
      service: plan.service,
      environment,
      repository,
      subjects: [environmentSubject(repository, environment.name), ...(rollsBack ? [environmentSubject(repository, rollbackEnvironmentName(environment.name))] : [])],
    };
  });
}

/**
 * Every environment account's OIDC provider and deployer roles, in stacks named
 * `<prefix>-github-deployers-<account>-<n>`.
 */
export class GitHubDeployerStacks extends Construct {
  readonly stacks: Stack[] = [];
  readonly deployerRoles: CrossAccountDeploymentRole[] = [];
  /** The OIDC providers the stacks create, by account. */
  readonly oidcProviders = new Map<string, iam.OidcProviderNative>();

  constructor(scope: Construct, id: string, props: GitHubDeployerStacksProps) {
    super(scope, id);
    const prefix = props.prefix ?? DEFAULT_PREFIX;
    checkPrefix(prefix);
    const perStack = props.rolesPerStack ?? 20;
    if (!Number.isInteger(perStack) || perStack < 1) throw new Error(`GitHubDeployerStacks ${this.node.path}: rolesPerStack must be a whole number ≥ 1`);
    const pushes = props.plans.pipelines.filter((p) => p.trigger === 'push');
    const byAccount = new Map<string, { plan: PipelinePlan; deployer: GitHubDeployer }[]>();
    for (const plan of pushes) {
      for (const deployer of deployersOf(plan)) {
        const list = byAccount.get(deployer.environment.account) ?? [];
        list.push({ plan, deployer });
        byAccount.set(deployer.environment.account, list);
      }
    }
    for (const [account, entries] of byAccount) {
      const region = entries[0]!.deployer.environment.region;
      const partition = partitionOf(region);
      const providerArn = githubOidcProviderArn(account, partition);
      const imported = props.importOidcProvider === 'all' || (props.importOidcProvider ?? []).includes(account);
      for (let start = 0, n = 1; start < entries.length; start += perStack, n += 1) {
        const stack = new Stack(this, `GitHubDeployers${account}n${n}`, {
          stackName: `${prefix}-github-deployers-${account}-${n}`,
          env: { account, region },
          description: `service-pipelines: GitHub Actions deployer roles of the services, assumable through ${GITHUB_OIDC_HOST} by their deploy jobs only`,
        });
        if (n === 1 && !imported) {
          this.oidcProviders.set(
            account,
            new iam.OidcProviderNative(stack, 'GitHubOidcProvider', {
              url: `https://${GITHUB_OIDC_HOST}`,
              clientIds: [GITHUB_OIDC_AUDIENCE],
              // Other workloads of the account may trust it: deleting this stack leaves it (import it then).
              removalPolicy: RemovalPolicy.RETAIN,
            }),
          );
        } else if (n > 1 && !imported) {
          stack.addDependency(this.stacks[this.stacks.length - 1]!);
        }
        this.stacks.push(stack);
        for (const { plan, deployer } of entries.slice(start, start + perStack)) {
          const role = new CrossAccountDeploymentRole(stack, `${deployer.service}-${deployer.environment.name}`, {
            ...roleProps(plan, deployer, props.deployPolicies ?? new Map()),
            trust: {
              principal: new iam.WebIdentityPrincipal(providerArn, {
                StringEquals: { [`${GITHUB_OIDC_HOST}:aud`]: GITHUB_OIDC_AUDIENCE, [`${GITHUB_OIDC_HOST}:sub`]: [...deployer.subjects] },
              }),
              description: `the GitHub Actions jobs of ${deployer.repository} in ${deployer.subjects.map((s) => s.slice(s.lastIndexOf(':') + 1)).join(' and ')}`,
            },
          });
          const provider = this.oidcProviders.get(account);
          if (provider && n === 1) role.node.addDependency(provider);
          this.deployerRoles.push(role);
        }
      }
    }
  }
}

/** The deployer's permissions, as the plan says them (the CodePipeline engine's, the same way). */
function roleProps(plan: PipelinePlan, deployer: GitHubDeployer, deployPolicies: ReadonlyMap<string, readonly PolicyDocumentJson[]>): CrossAccountDeploymentRoleProps {
  const permissions = plan.deployPermissions;
  const where = `pipeline ${plan.service}: deployPermissions`;
  const base = {
    serviceName: plan.service,
    targetStageName: deployer.environment.name,
    // No CodePipeline: the trust below replaces the deploy action role of the CICD account.
    deployingAccountId: plan.cicd.account,
    targetRegion: deployer.environment.region,
    serverlessService: plan.serverlessService,
    acknowledgeWildcards: plan.acknowledgeWildcards,
    where,
    acknowledgementsWhere: `pipeline ${plan.service}: acknowledgeWildcards`,
  };
  switch (permissions.kind) {
    case 'default':
      return base;
    case 'statements':
      return { ...base, deployPermissions: permissions.statements };
    case 'infer': {
      const documents = deployPolicies.get(`${plan.service}/${deployer.environment.name}`);
      if (!documents) {
        throw new InputError(`the deploy permissions of ${plan.service} in ${deployer.environment.name} are to be inferred, and were not`, [
          { where: `${where}.infer`, message: 'give synth the CloudFormation schemas (--schemas DIR|ZIP) so that the policy can be inferred, or list the statements' },
        ]);
      }
      return { ...base, policyDocuments: documents, lastDocumentIsExtra: permissions.extra.length > 0 };
    }
    default:
      throw new InputError(`deploy permissions of kind ${(permissions as { kind: string }).kind} are not known to the GitHub Actions engine`, [{ where, message: 'default, statements or infer' }]);
  }
}

/** Options of `createGitHubDeployersApp`. */
export interface GitHubDeployersAppOptions extends Omit<GitHubDeployerStacksProps, 'plans'> {
  /** Where the cloud assembly is written. @default - a temporary folder */
  readonly outdir?: string;
  /** @default true */
  readonly validateTemplates?: boolean;
}

/** A CDK app of the deployer stacks, with the context every app of this project synthesizes with. */
export function createGitHubDeployersApp(plans: PlansDocument, options: GitHubDeployersAppOptions = {}): { app: App; deployers: GitHubDeployerStacks } {
  const app = new App({
    ...(options.outdir ? { outdir: options.outdir } : {}),
    context: { ...CICD_APP_CONTEXT },
    analyticsReporting: false,
    builtinCloudFormationValidation: options.validateTemplates ?? true,
  });
  const { outdir: _outdir, validateTemplates: _validate, ...props } = options;
  return { app, deployers: new GitHubDeployerStacks(app, 'GitHub', { plans, ...props }) };
}
