/**
 * Names shared by the engines and the steps: environment variables, artifact folders, files.
 * The AWS engine, the local engine and `service-pipelines step` all agree through these.
 */

/** Environment variables every step gets (DESIGN.md, "Environment given to every step"). */
export const STEP_ENV = {
  stage: 'STAGE',
  targetRegion: 'TARGET_REGION',
  serviceName: 'SERVICE_NAME',
  deployerRoleArn: 'DEPLOYER_ROLE_ARN',
  /** Acceptance tests (AWS): the role `invoke` assumes to call the stage's functions, in place of the deployer. */
  invokerRoleArn: 'INVOKER_ROLE_ARN',
  /** Deploy actions: the permissions boundary every role of the service must carry. */
  permissionsBoundaryArn: 'PERMISSIONS_BOUNDARY_ARN',
  srcDir: 'CODEBUILD_SRC_DIR',
  buildId: 'CODEBUILD_BUILD_ID',
  buildSucceeding: 'CODEBUILD_BUILD_SUCCEEDING',
  resolvedSourceVersion: 'CODEBUILD_RESOLVED_SOURCE_VERSION',
  /** Acceptance tests: the deployed API's base URL (= ServiceEndpoint, else HttpApiUrl). */
  serviceUrl: 'SERVICE_URL',
} as const;

/** `CODEBUILD_SRC_DIR_<artifactName>`: where a secondary input artifact is. */
export function secondarySourceVariable(artifactName: string): string {
  return `CODEBUILD_SRC_DIR_${artifactName}`;
}

/** Variables the local engine gives steps, on top of the documented ones. */
export const LOCAL_ENV = {
  /** Where a step deploys: `aws` (the default, as in CodeBuild) or `local` (local stages). */
  target: 'SERVICE_PIPELINES_TARGET',
  /** The local state folder (`.service-pipelines/`): stages, releases and the install cache live below it. */
  home: 'SERVICE_PIPELINES_HOME',
  /** The local execution id. */
  executionId: 'SERVICE_PIPELINES_EXECUTION_ID',
} as const;

/**
 * Where, relative to the action's primary source folder, a step writes an output artifact.
 * Both engines collect `<ARTIFACT_OUTPUT_ROOT>/<artifactName>/**` as that artifact.
 */
export const ARTIFACT_OUTPUT_ROOT = '.pipeline';
export function artifactOutputDirectory(artifactName: string): string {
  return `${ARTIFACT_OUTPUT_ROOT}/${artifactName}`;
}

/** In an `Outputs_<env>` artifact: the deployed stack's outputs, `{ "OutputKey": "value", ... }`. */
export const STACK_OUTPUTS_FILE = 'stack-outputs.json';
