/**
 * A typed model of the GitHub Actions workflow syntax this engine writes: only what it uses,
 * each field as GitHub names it, so that `render.ts` writes the model as it is (key order
 * included) and nothing is assembled from strings.
 */
import type { PinnedAction } from './pinned-actions.js';

/** A GitHub expression, `${{ ... }}`: the only way a model value refers to run-time data. */
export interface Expression {
  readonly expression: string;
}

/** `${{ <expression> }}`. */
export function expr(expression: string): Expression {
  return { expression };
}

/** Texts and expressions in a row: one string. */
export interface Concat {
  readonly parts: readonly (string | Expression)[];
}

/** Texts and expressions in a row. */
export function concat(...parts: (string | Expression)[]): Concat {
  return { parts };
}

/** A value GitHub evaluates: plain text (written so that GitHub evaluates nothing in it), an expression, or both in a row. */
export type Text = string | Expression | Concat;

/** What a `permissions:` scope may do. */
export type PermissionLevel = 'read' | 'write' | 'none';

/** The `GITHUB_TOKEN` scopes this engine grants; a job gets only the ones it names. */
export interface Permissions {
  readonly actions?: PermissionLevel;
  readonly contents?: PermissionLevel;
  readonly 'id-token'?: PermissionLevel;
}

/** `concurrency:` of a workflow. */
export interface Concurrency {
  readonly group: string;
  readonly 'cancel-in-progress': boolean;
  /** `max`: up to 100 runs wait in the group, in order (without it, one waits and a newer one replaces it). */
  readonly queue?: 'max';
}

/** `on.push` / `on.pull_request`. */
export interface BranchTrigger {
  readonly branches: readonly string[];
  /** Only changes to these paths start a run. */
  readonly paths?: readonly string[];
}

export interface Triggers {
  readonly push?: BranchTrigger;
  readonly pull_request?: BranchTrigger;
}

interface StepBase {
  readonly name: Text;
  readonly id?: string;
  readonly if?: Expression;
  readonly env?: Readonly<Record<string, Text>>;
}

/** A step that runs a shell script. */
export interface RunStep extends StepBase {
  readonly run: Text;
}

/** A step that uses an action, pinned by commit. */
export interface UsesStep extends StepBase {
  readonly uses: PinnedAction;
  readonly with?: Readonly<Record<string, Text | number | boolean>>;
}

export type Step = RunStep | UsesStep;

/** `environment:` of a job: the GitHub environment it deploys to (its protection rules, its OIDC subject). */
export type JobEnvironment = string;

export interface Job {
  readonly name: Text;
  readonly 'runs-on': string;
  readonly needs?: readonly string[];
  readonly if?: Expression;
  readonly environment?: JobEnvironment;
  readonly permissions: Permissions;
  readonly 'timeout-minutes'?: number;
  readonly outputs?: Readonly<Record<string, Expression>>;
  readonly env?: Readonly<Record<string, Text>>;
  readonly defaults?: { readonly run: { readonly 'working-directory': string } };
  readonly steps: readonly Step[];
}

export interface Workflow {
  readonly name: string;
  readonly on: Triggers;
  readonly permissions: Permissions;
  readonly concurrency?: Concurrency;
  readonly defaults: { readonly run: { readonly shell: 'bash' } };
  readonly jobs: Readonly<Record<string, Job>>;
}

/** A workflow file: where it goes, what it holds, and the comment heading it. */
export interface WorkflowFile {
  /** The file name in `.github/workflows/` (`<pipeline>.yml`). */
  readonly fileName: string;
  /** The repository the workflow runs in (`owner/repo`). */
  readonly repository: string;
  /** The plan's pipeline it renders. */
  readonly pipelineName: string;
  readonly workflow: Workflow;
}
