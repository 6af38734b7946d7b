/**
 * The steps of a service (`service-pipelines step <name>`): the successor of the article's build.sh.
 */
export { runStep, isStepName } from './run-step.js';
export type { StepRequest, StepDependencies, StepResult, StepOutput, StepFlavor, PackageStage } from './step-types.js';
export { sdkAws, type AwsSeam, type TemporaryCredentials, type AssumeRoleRequest, type StackOutputsRequest, type InvokeFunctionRequest, type InvokeFunctionResponse } from './aws.js';
export { RefreshingCredentialsServer, environmentForRole } from './credentials-server.js';
export { InstallCache } from './install-cache.js';
export { readPackageManifest, verifyPackage, verifyAnchoredDigest, sha256File, PACKAGE_MANIFEST_FILE, PACKAGE_DIGEST_VARIABLE, type PackageManifest } from './package-manifest.js';
export { invokeStageFunction, SERVICE_INVOKE_VARIABLE, type InvokeRequest, type InvokeResult, type StageFunctions } from './invoke.js';
export { diagnoseService, type DoctorFinding, type DoctorTarget } from './doctor.js';
export { PACKAGE_ARTIFACT_VARIABLE } from './serverless-package.js';
export * from './local-releases.js';
export * from './local-server.js';
export * from './local-deployments.js';
export { stepRequestOf, type StepOptions } from './step-arguments.js';
