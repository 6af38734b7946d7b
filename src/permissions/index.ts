/**
 * Least-privilege deploy permissions, inferred from a CloudFormation template and the
 * CloudFormation registry's resource schemas.
 */
export { loadSchemaRegistry, parseSchema, readSchemas, SchemaRegistry, type HandlerOperation, type LoadSchemaRegistryOptions, type ResourceTypeSchema } from './schema-registry.js';
export { IamCatalog, type IamAction, type IamResourceType } from './iam-catalog.js';
export {
  inferDeployPolicy,
  type ExplainedStatement,
  type InferDeployPolicyOptions,
  type InferredPolicy,
  type InvalidAction,
  type OmittedAction,
  type UnknownResourceType,
} from './infer.js';
export {
  boundaryCondition,
  deployerRoleOfBoundary,
  escalationGuardStatements,
  NEVER_GRANTED,
  PERMISSIONS_BOUNDARY_KEY,
  requiresBoundary,
  type DeployerGuard,
} from './escalation.js';
export { isDataPlane, PROPERTY_GATES, type OmittedReason } from './needs.js';
export { diffRoleRights, roleRightsOf, type RoleRight, type RoleRightsDiff } from './role-rights.js';
export { diffPolicies, grantsOf, IAM_POLICY_LIMITS, policySize, splitIntoDocuments, type Grant, type PolicyDiff, type PolicyDocument, type PolicyStatement } from './policy.js';
export { parseTemplate, type CloudFormationTemplate, type TemplateResource } from './template.js';
export { readTemplateInput, retargetStage, SERVERLESS_STATE_FILE, SERVERLESS_TEMPLATE_FILE, type ReadTemplateInputOptions, type RetargetStageOptions, type TemplateInput } from './template-input.js';
export { formatPolicyDiff, formatPolicySummary, type PolicyHeading } from './format.js';
export {
  cachedSchemaBundle,
  defaultSchemaCacheDir,
  hasCachedSchemaBundle,
  locateSchemas,
  schemaBundleUrl,
  SCHEMAS_ENV,
  updateSchemaCache,
  type FetchBundle,
  type LocateSchemasOptions,
  type SchemaCacheUpdate,
  type UpdateSchemaCacheOptions,
} from './schema-cache.js';
export { STACK_DEPLOY_ACTIONS } from './infer.js';
