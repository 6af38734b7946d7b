/**
 * The contract of the buildspec executor: it runs one buildspec the way CodeBuild does.
 * Used by `service-pipelines buildspec run` and by the local engine for every action.
 */
import type { Writable } from 'node:stream';
import type { Clock } from '../../runtime/clock.js';
import type { ProcessIdentity, Processes, ProcessTable } from '../../runtime/process.js';

/** One line of a build log. */
export interface LogLine {
  /** `phase` lines mark phases ([Container] ... Entering phase BUILD); `output` lines are the commands' own. */
  readonly kind: 'phase' | 'output';
  readonly stream: 'stdout' | 'stderr' | 'system';
  /** The text, with secret values masked. */
  readonly text: string;
  /** Milliseconds since the epoch. */
  readonly at: number;
}

/** Resolves `env.parameter-store` and `env.secrets-manager` values. */
export interface SecretResolver {
  /** An SSM parameter's value, by name. */
  parameter(name: string): Promise<string>;
  /** A Secrets Manager value: `secret-id:json-key:version-stage:version-id` as CodeBuild reads it. */
  secret(reference: string): Promise<string>;
}

/** A phase's outcome, as CodeBuild reports it. */
export interface PhaseResult {
  readonly name: 'install' | 'pre_build' | 'build' | 'post_build';
  readonly status: 'SUCCEEDED' | 'FAILED' | 'SKIPPED';
  /** The exit code of the command that failed the phase. */
  readonly exitCode?: number;
  /** The command that failed the phase. */
  readonly failedCommand?: string;
  readonly durationMs: number;
}

/** What a run produced. */
export interface BuildspecRunResult {
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly phases: readonly PhaseResult[];
  /** `env.exported-variables`, with their values at the end of the build. */
  readonly exportedVariables: Readonly<Record<string, string>>;
  /** Folders holding the collected artifacts: the primary one, and each secondary one by id. */
  readonly artifacts: { readonly primary?: string; readonly secondary: Readonly<Record<string, string>> };
  /**
   * Why the build failed, for a person: the phase, the command and its exit status, or the
   * artifact that could not be collected.
   *
   * @default - the build succeeded
   */
  readonly failure?: BuildFailure;
}

/** Why a build failed. */
export interface BuildFailure {
  /** `INSTALL`, `PRE_BUILD`, `BUILD`, `POST_BUILD`, `UPLOAD_ARTIFACTS`, or `STOPPED`. */
  readonly phase: string;
  /** The command that failed, if a command did. */
  readonly command?: string;
  readonly exitCode?: number;
  /** One sentence: `command "npm test" exited with status 1 in phase BUILD`. */
  readonly message: string;
}

/** What the executor is given. */
export interface BuildspecRunOptions {
  /**
   * The buildspec: YAML text, or an already parsed document (e.g. one an engine built from a
   * plan action). Either is validated; `file` names it in error messages.
   */
  readonly buildspec: { readonly file: string; readonly text: string } | { readonly file: string; readonly document: unknown };
  /** `CODEBUILD_SRC_DIR`: where the build runs. The executor works in this folder as it is; callers copy first if they want. */
  readonly srcDir: string;
  /** Whether `srcDir` is the build's own copy, whose files artifacts may hard-link; else they are copied. @default false */
  readonly ownsSrcDir?: boolean;
  /** Secondary sources by artifact id, given as `CODEBUILD_SRC_DIR_<id>`. */
  readonly secondarySources?: Readonly<Record<string, string>>;
  /** Variables of the build (as the project's or the pipeline action's); applied over the buildspec's `env.variables`. */
  readonly env?: Readonly<Record<string, string>>;
  /** The container's environment (PATH, HOME...). @default process.env */
  readonly baseEnv?: NodeJS.ProcessEnv;
  /** Where collected artifacts go: the primary artifact in `<artifactsOut>/primary`, each secondary one in `<artifactsOut>/<id>`. @default - not collected */
  readonly artifactsOut?: string;
  /** `CODEBUILD_BUILD_ID`. @default - a new `local:<uuid>` */
  readonly buildId?: string;
  /** `CODEBUILD_RESOLVED_SOURCE_VERSION`. */
  readonly resolvedSourceVersion?: string;
  /** Receives every log line as it is produced. */
  readonly onLog?: (line: LogLine) => void;
  /** Stops the build (the running command is killed; post_build and finally do not run). */
  readonly signal?: AbortSignal;
  readonly processes?: Processes;
  /** @default nodeProcessTable */
  readonly processTable?: ProcessTable;
  readonly clock?: Clock;
  readonly secrets?: SecretResolver;
  /**
   * Told of each process group the build starts (a shell and everything it runs), before its
   * first command: a caller that records it can end the group should this process die.
   */
  readonly onProcessGroup?: (group: ProcessIdentity) => void;
  /**
   * Commands the caller carries out itself, in this process, instead of the shell: asked of each
   * command while the shell's state is still the build's own (before any command ran in the
   * shell), so that what the command sees (environment, working directory) is what the shell
   * would give it. A command it returns nothing for runs in the shell, as every later one does.
   *
   * @default - every command runs in the shell
   */
  readonly inProcess?: (command: string) => InProcessCommand | undefined;
}

/** What an in-process command is given: what the shell would have given it. */
export interface InProcessContext {
  /** The working directory (the source folder). */
  readonly cwd: string;
  /** The whole environment, as the shell's (`CODEBUILD_*`, the build's variables...). */
  readonly env: NodeJS.ProcessEnv;
  /** Where it writes what it prints: to the build's log, as a command's output is. */
  readonly stdout: Writable;
  readonly stderr: Writable;
  /** Aborted when the build is stopped: the command ends what it started. */
  readonly signal: AbortSignal;
  /** Told of each process group it starts, as a shell's is (see `BuildspecRunOptions.onProcessGroup`). */
  readonly onProcessGroup: (group: ProcessIdentity) => void;
}

/** A command carried out in this process; resolves to its exit status. */
export type InProcessCommand = (context: InProcessContext) => Promise<number>;

/** Runs one buildspec. */
export type RunBuildspec = (options: BuildspecRunOptions) => Promise<BuildspecRunResult>;
