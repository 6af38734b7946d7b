/**
 * The steps of a service (`service-pipelines step <name>`): the successor of the article's build.sh.
 */
export { runStep, isStepName } from './run-step.js';
export type { StepRequest, StepDependencies, StepResult, StepOutput, StepFlavor, PackageStage } from './step-types.js';
export { sdkAws, type AwsSeam, type TemporaryCredentials, type AssumeRoleRequest, type StackOutputsRequest } from './aws.js';
export { RefreshingCredentialsServer, environmentForRole } from './credentials-server.js';
export { InstallCache } from './install-cache.js';
export { readPackageManifest, verifyPackage, sha256File, PACKAGE_MANIFEST_FILE, type PackageManifest } from './package-manifest.js';
export { PACKAGE_ARTIFACT_VARIABLE } from './serverless-package.js';
export * from './local-stages.js';
