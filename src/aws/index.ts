/**
 * service-pipelines/aws: the AWS engine. CDK constructs that turn the plans of a config into
 * CodePipeline V2 pipelines, their roles, the deployer roles of the target accounts, alerts,
 * and the self-update pipeline; and `synthesizeCicd`, behind `service-pipelines synth`.
 *
 * Use them in your own CDK app (`createCicdApp(plans, { tool })`, `new ServiceCicdPipelines(app,
 * 'Cicd', { plans, tool })`, or one `ServicePipeline` per plan), or through `service-pipelines synth`.
 * They take a plans document (`buildPlans(config)`, or `pipelines.plan.json` read with
 * `parsePlansDocument`) and nothing else.
 */
export { ServiceCicdPipelines, type ServiceCicdPipelinesProps } from './service-cicd-pipelines.js';
export { ServicePipeline, type ServicePipelineProps, type SharedPipelineResources } from './service-pipeline.js';
export { PullRequestValidation, type PullRequestValidationProps } from './pull-request-validation.js';
export { CrossAccountDeploymentRole, type CrossAccountDeploymentRoleProps } from './cross-account-deployment-role.js';
export { PipelineFailedAlert, type PipelineFailedAlertProps } from './pipeline-failed-alert.js';
export { AlertsTopic, type AlertsTopicProps, type AlertTargets, type SlackChannel, type WebhookSecret } from './alerts-topic.js';
export { PipelineArtifactStore, type PipelineArtifactStoreProps } from './pipeline-artifact-store.js';
export { AcceptanceInvokerRole, type AcceptanceInvokerRoleProps } from './acceptance-invoker-role.js';
export { ToolDistribution, DEFAULT_TOOL_PARAMETER, type ToolDistributionProps, type ToolInstall } from './tool-distribution.js';
export { ToolSource, type PackedToolSource, type RegistryToolSource, type RegistryToolOptions } from './tool-source.js';
export { TemplateValidation, ENGINE_RESOURCE_TYPES, type TemplateValidationOptions } from './template-validation.js';
export { IAM_ROLES_QUOTA, IAM_ROLES_QUOTA_NAME, rolesPerAccount, type AccountRoles } from './role-quota.js';
export { NODE_MAJOR, CODEBUILD_IMAGE, nodeRuntimeLine, minimumNodeVersion } from './node-runtime.js';
export { SelfUpdatePipeline, type SelfUpdatePipelineProps, type SelfUpdateSource } from './self-update-pipeline.js';
export { createCicdApp, CICD_APP_CONTEXT, type CicdApp, type CicdAppOptions } from './cicd-app.js';
export { synthesizeCicd, PLANS_FILE, CLOUDFORMATION_LIMITS, type SynthesizeOptions, type SynthesizeResult, type SynthesizedStack } from './synthesize.js';
export { resolveDeployPolicies, SCHEMAS_ENV, type ResolveDeployPoliciesOptions, type ResolvedDeployPolicies } from './resolve-deploy-policies.js';
export { defaultDeployStatements, checkDeployStatements, type DeployTarget, type PolicyDocumentJson } from './deploy-permissions.js';
export { acknowledgeWildcards } from './acknowledge.js';
export * from './names.js';
