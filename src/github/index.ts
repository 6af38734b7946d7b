/**
 * service-pipelines/github: the GitHub Actions engine. A pipeline plan as a push workflow and a
 * pull-request workflow (`buildGitHubWorkflows`, `renderGitHubWorkflows`), and the deployer roles
 * of each environment account trusting GitHub's OIDC provider (`GitHubDeployerStacks`), behind
 * `service-pipelines synth --target github-actions`.
 */
export { buildGitHubWorkflows, concurrencyOf, GITHUB_HOSTED_JOB_LIMIT_MINUTES, type GitHubEnvironment, type GitHubSecret, type GitHubWorkflows, type GitHubWorkflowsOptions } from './workflows.js';
export { renderWorkflowFile, GENERATED_MARKER, literal } from './render.js';
export { renderGitHubWorkflows, workflowDrift, writeWorkflows, synthesizeDeployerStacks, repositorySetup, type RenderedWorkflows, type RenderGitHubOptions, type WorkflowDrift, type DeployerStackSummary, type RepositorySetup } from './synthesize.js';
export { GitHubDeployerStacks, createGitHubDeployersApp, deployersOf, type GitHubDeployerStacksProps, type GitHubDeployer, type GitHubDeployersAppOptions } from './deployer-stacks.js';
export { releaseAssetToolSource, registryToolSource, toolInstallStep, toolPublishCommands, type GitHubToolSource, type ReleaseAssetToolSource, type RegistryToolSource } from './tool-source.js';
export { PINNED_ACTIONS, usesOf, type PinnedAction } from './pinned-actions.js';
export * from './names.js';
export type { Workflow, WorkflowFile, Job, Step, Permissions, Concurrency } from './workflow-model.js';
