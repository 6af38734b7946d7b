/**
 * The steps a service provides; each is run by `service-pipelines step <name>`.
 * Kept apart from the zod schemas so that the CLI can list them without loading zod.
 */
export const stepNames = ['install', 'lint', 'test-unit', 'test-integration', 'package', 'deploy', 'test-acceptance', 'rollback'] as const;
