/**
 * The buildspec executor: runs one buildspec on this machine the way CodeBuild does.
 */
export * from './types.js';
export { runBuildspec, PRIMARY_ARTIFACT_FOLDER } from './run-buildspec.js';
export { collectArtifact, ArtifactError, type CollectArtifactOptions, type CollectedArtifact } from './artifacts.js';
export { LocalSecretResolver, RememberingSecretResolver, parseSecretReference, parameterVariable, secretVariable, type LocalSecrets, type SecretReference } from './secrets.js';
export { MASK } from './log.js';
export { AwsSecretResolver, type AwsSecretResolverProps, type ParameterReader, type SecretReader } from './aws-secret-resolver.js';
export { copySource, type BuildFolder, type CopySourceOptions } from './source-copy.js';
