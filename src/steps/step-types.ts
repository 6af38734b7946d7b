/**
 * What every step is given: the parsed request, where to print, and the seams it runs through.
 */
import type { Writable } from 'node:stream';
import type { StepName } from '../model/plan-schema.js';
import type { Clock } from '../runtime/clock.js';
import type { Processes, ProcessTable } from '../runtime/process.js';
import type { AwsSeam } from './aws.js';
import type { OpenDeploymentRecords } from './local-deployments.js';

export type { StepName };

/** The flavors a service can have: how its steps are carried out by default. */
export type StepFlavor = 'serverless' | 'custom';

/** One environment given to `step package`: `--stage name@region` (and `--permissions-boundary name=arn`). */
export interface PackageStage {
  readonly name: string;
  readonly region: string;
  /**
   * The permissions boundary the roles of this environment's template must carry.
   *
   * @default - none (the template's roles are made without one)
   */
  readonly permissionsBoundary?: string;
}

/** A request to run one step, as the CLI parsed it. */
export interface StepRequest {
  readonly step: StepName;
  /**
   * The flavor.
   *
   * @default 'serverless'
   */
  readonly flavor?: StepFlavor;
  /** The environment the step targets (`--stage`); required by deploy, test-acceptance and rollback. */
  readonly stage?: string;
  /**
   * The target region (`--region`).
   *
   * @default - `TARGET_REGION` from the environment
   */
  readonly region?: string;
  /** `step package` only: every environment to make a template for, in promotion order. */
  readonly packageStages?: readonly PackageStage[];
  /**
   * Shell lines that replace the flavor's default commands (`--command`, repeatable).
   *
   * @default - the flavor's default
   */
  readonly commands?: readonly string[];
  /**
   * A Package artifact folder: what `deploy` deploys, or what `rollback` redeploys (AWS target).
   *
   * @default - `CODEBUILD_SRC_DIR_Package` for deploy; none for rollback
   */
  readonly packageDir?: string;
}

/** Where a step prints: what it runs, and the output of what it runs, passed through. */
export interface StepOutput {
  readonly stdout: Writable;
  readonly stderr: Writable;
}

/** What a step runs with. Tests inject their own seams. */
export interface StepDependencies {
  /** The service folder the step works in (`CODEBUILD_SRC_DIR` in a pipeline). */
  readonly cwd: string;
  /** The environment the step was started with; children get it plus what the step adds. */
  readonly env: NodeJS.ProcessEnv;
  readonly output: StepOutput;
  readonly processes: Processes;
  readonly clock: Clock;
  /** AWS calls (STS, CloudFormation). Only deploy and rollback to AWS use it. */
  readonly aws: AwsSeam;
  /**
   * Opens the record of what each local deployment serves: what a deploy or rollback with
   * `SERVICE_PIPELINES_TARGET=local` changes. Opened only by them, so that no other step loads it.
   *
   * @default - none: a local deploy or rollback says it needs it
   */
  readonly localDeployments?: OpenDeploymentRecords;
  /** Looks at and signals processes (a local deployment's server). @default nodeProcessTable */
  readonly processTable?: ProcessTable;
}

/** What a step reports when it succeeds. */
export interface StepResult {
  readonly step: StepName;
  /** One line for humans: what was done. */
  readonly summary: string;
  /** Files the step wrote that a caller may want (manifest, stack outputs...). */
  readonly files?: Readonly<Record<string, string>>;
}
