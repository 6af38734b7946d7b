/**
 * Names the GitHub Actions engine shares between the workflows it writes, the OIDC trust of the
 * deployer roles, and the rollback job that reads earlier runs back through the GitHub API.
 */

/** GitHub's OIDC issuer, as IAM names its provider and its condition keys. */
export const GITHUB_OIDC_HOST = 'token.actions.githubusercontent.com';
/** The audience `aws-actions/configure-aws-credentials` asks GitHub's token for. */
export const GITHUB_OIDC_AUDIENCE = 'sts.amazonaws.com';

/** The OIDC provider's ARN in an account (an account holds at most one per issuer URL). */
export function githubOidcProviderArn(account: string, partition = 'aws'): string {
  return `arn:${partition}:iam::${account}:oidc-provider/${GITHUB_OIDC_HOST}`;
}

/** The `sub` claim of a job that runs in a GitHub environment (`environment: <name>`). */
export function environmentSubject(repository: string, environment: string): string {
  return `repo:${repository}:environment:${environment}`;
}

/**
 * The GitHub environment of an environment's rollback job: without reviewers (a rollback must
 * not wait for the approval the deploy already had), trusted by that environment's deployer.
 */
export function rollbackEnvironmentName(environment: string): string {
  return `${environment}-rollback`;
}

/** The artifact of the last good package, as the rollback job downloads it from an earlier run. */
export const PACKAGE_OUTPUTS = {
  /** The bundle's sha256 (`.pipeline/Package.sha256`), as `PACKAGE_SHA256`. */
  bundle: 'package-sha256',
  /** `manifest.json`'s sha256, as `PACKAGE_MANIFEST_SHA256`: it pins the bundle and every template. */
  manifest: 'package-manifest-sha256',
} as const;

/** Between a job's display name and the package digest it carries. */
const PACKAGE_TAG = ' · package ';

/**
 * The display name of one of the last jobs of a stage that rolls back (its acceptance tests). It
 * carries the manifest digest of the package the run deployed, which GitHub evaluates from the
 * package job's outputs when the job starts: no step of any job can change it. The rollback job
 * finds the last good release of the stage's environment as the last run in which every job so
 * named succeeded, and takes the digest from their names.
 */
export function taggedJobNamePrefix(stageName: string, actionName: string): string {
  return `${stageName} / ${actionName}${PACKAGE_TAG}`;
}

/** The package digest a job's display name carries, when it is a tagged job of this stage. */
export function digestOfTaggedJob(jobName: string, stageName: string): string | undefined {
  if (!jobName.startsWith(`${stageName} / `)) return undefined;
  const at = jobName.lastIndexOf(PACKAGE_TAG);
  if (at < 0) return undefined;
  const digest = jobName.slice(at + PACKAGE_TAG.length);
  return /^[0-9a-f]{64}$/.test(digest) ? digest : undefined;
}

/**
 * The repository secret a workflow reads the webhook's URL from: the plan names a secret (a
 * Secrets Manager name in AWS), and GitHub secret names take letters, digits and underscores.
 * The same name the local engine reads from the environment.
 */
export function webhookSecretName(secret: string): string {
  return `SERVICE_PIPELINES_SECRET_${secret.toUpperCase().replace(/[^A-Z0-9]+/g, '_').replace(/^_+|_+$/g, '')}`;
}

/** A job id: letters, digits, `-` and `_`, starting with a letter. */
export function jobId(...words: string[]): string {
  return words
    .map((word) =>
      word
        .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/^-+|-+$/g, ''),
    )
    .filter((word) => word.length > 0)
    .join('-');
}
