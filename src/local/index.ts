/**
 * The local engine: runs a service's pipeline plan on this machine, with local stages standing
 * in for the AWS accounts, and keeps the history under `.service-pipelines/`.
 */
export { runPipeline, STATE_FOLDER, type RunPipelineOptions, type RunPipelineResult, type ApprovalPrompt, type ApprovalRequest, type ApprovalDecision } from './engine.js';
export type { RunEvent, AnnouncedStage } from './events.js';
export { ProgressView, type ProgressViewOptions, type ProgressOutput } from './progress-view.js';
export { describeExecution, formatExecution, formatHistory, formatDuration, type ExecutionDocument, type StageDocument, type ActionDocument } from './describe.js';
export { openHistory, listExecutions, showExecution, decideApproval, type HistoryOptions } from './history.js';
export { StateStore } from './state-store.js';
export { recoverAbandonedExecutions, endExecutionAndProcesses } from './recovery.js';
export { ArtifactStore, removeReadOnly, type StoredArtifact, type TreeEntry } from './artifact-store.js';
export { snapshotSource, SNAPSHOT_EXCLUDES, type SourceSnapshot } from './source-snapshot.js';
export { postWebhook, webhookMessage, fetchPost, type HttpPost, type WebhookMessage, type RunNotification } from './notifier.js';
export { storedLocalDeployments, type LocalDeployments } from './local-deployments.js';
export { StoredDeploymentRecords, openDeploymentRecords } from './deployment-records.js';
export { readPlansFile, selectPipeline } from './plan-file.js';
