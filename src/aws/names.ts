/**
 * Names the AWS engine gives to stacks and roles. They are deterministic because other
 * accounts refer to them by name: a deployer role trusts exactly one role of the CICD account.
 */
import { InputError } from '../model/errors.js';

/** The stack-name prefix of every stack the engine synthesizes. */
export const DEFAULT_PREFIX = 'service-pipelines';

/**
 * Check a stack-name prefix: it names stacks (`<prefix>-shared`) and the artifact bucket.
 *
 * @throws InputError naming `--prefix` when it cannot
 */
export function checkPrefix(prefix: string): void {
  if (!/^[a-z][a-z0-9-]{0,19}$/.test(prefix)) {
    throw new InputError(`the stack prefix "${prefix}" cannot name the stacks and the artifact bucket`, [
      { where: '--prefix', message: 'must start with a lower-case letter and hold only lower-case letters, digits and dashes, at most 20 characters' },
    ]);
  }
}

/**
 * The shared artifact bucket's name: unique per prefix, account and region.
 *
 * @throws InputError when the prefix makes it an invalid bucket name (S3: at most 63 lower-case letters, digits and dashes)
 */
export function artifactBucketName(prefix: string, account: string, region: string): string {
  const name = `${prefix}-artifacts-${account}-${region}`;
  if (name.length > 63 || !/^[a-z][a-z0-9-]*$/.test(prefix)) {
    throw new InputError(`the stack prefix "${prefix}" cannot name the artifact bucket`, [
      {
        where: '--prefix',
        message: `must start with a lower-case letter and hold only lower-case letters, digits and dashes, at most ${63 - name.length + prefix.length} characters (the bucket is "${name}")`,
      },
    ]);
  }
  return name;
}

/** The name of the role a service's deploy action runs with in the CICD account, for one environment. */
export function deployActionRoleName(service: string, environment: string): string {
  // service ≤ 32 and environment ≤ 16 characters (config schema), so this stays within IAM's 64.
  return `${service}-${environment}-deploy-action`;
}

/** The name of the role a service's build and test actions (and its pull-request build) run with: they read artifacts, never write them. */
export function buildActionRoleName(service: string): string {
  return `${service}-build-action`;
}

/** The name of the role a service's Package action runs with: the only build action that writes an artifact. */
export function packageActionRoleName(service: string): string {
  return `${service}-package-action`;
}

/**
 * The name of the role a service's acceptance tests run with in one environment: they read that
 * environment's outputs and may assume its invoker role, nothing else.
 */
export function acceptanceActionRoleName(service: string, environment: string): string {
  // service ≤ 32 and environment ≤ 16 characters (config schema), so this stays within IAM's 64.
  return `${service}-${environment}-accept-action`;
}

/** The ARN of an acceptance action role. */
export function acceptanceActionRoleArn(service: string, environment: string, cicdAccount: string, partition = 'aws'): string {
  return `arn:${partition}:iam::${cicdAccount}:role/${acceptanceActionRoleName(service, environment)}`;
}

/**
 * The name of the role in an environment's account that the acceptance tests of that environment
 * assume to invoke the service's functions (`SERVICE_INVOKE`): it may invoke them, nothing else.
 */
export function invokerRoleName(service: string, environment: string): string {
  return `${service}-${environment}-invoker`;
}

/** The ARN of an invoker role. */
export function invokerRoleArn(service: string, environment: string, account: string, partition = 'aws'): string {
  return `arn:${partition}:iam::${account}:role/${invokerRoleName(service, environment)}`;
}

/** The name of the role a service's pull-request builds run with: third-party code, so nothing of the pipeline's. */
export function pullRequestRoleName(service: string): string {
  return `${service}-pull-request`;
}

/**
 * The variables namespace of the Package action: its output variables anchor the package's digest
 * outside the artifact, where no later action can change it.
 */
export const PACKAGE_DIGEST_NAMESPACE = 'PackageDigest';

/**
 * The Package action's output variables, which every Deploy action receives as environment
 * variables of the same name and `step deploy` compares against the package it is given:
 * `PACKAGE_SHA256`, the code bundle's sha256 (empty for a package without a bundle), and
 * `PACKAGE_MANIFEST_SHA256`, the sha256 of the package's manifest.json, which lists the sha256 of
 * every other file of the package (each environment's template included).
 */
export const PACKAGE_DIGEST_VARIABLES = { bundle: 'PACKAGE_SHA256', manifest: 'PACKAGE_MANIFEST_SHA256' } as const;

/** The manifest `step package` writes at the root of the Package artifact (the steps' `PACKAGE_MANIFEST_FILE`; a test keeps them equal). */
export const PACKAGE_MANIFEST = 'manifest.json';

/** The ARN of a deploy action role. */
export function deployActionRoleArn(service: string, environment: string, cicdAccount: string, partition = 'aws'): string {
  return `arn:${partition}:iam::${cicdAccount}:role/${deployActionRoleName(service, environment)}`;
}

/**
 * The key prefix under which CodePipeline stores a pipeline's artifacts in the artifact bucket:
 * the pipeline name cut to 20 characters (CodePipeline's own layout,
 * `<pipeline name[0..20]>/<artifact name[0..10]>/<random object name>`). Roles are scoped to it,
 * and to the folder of each artifact they read or write.
 */
export function artifactKeyPrefix(pipelineName: string): string {
  return pipelineName.slice(0, 20);
}

/** The CloudWatch Logs group CodePipeline writes a Commands action's output to. */
export function commandsLogGroupName(pipelineName: string): string {
  return `/aws/codepipeline/${pipelineName}`;
}

/** The CloudWatch Logs group of a CodeBuild project. */
export function codebuildLogGroupName(projectName: string): string {
  return `/aws/codebuild/${projectName}`;
}

