/**
 * CodeBuild buildspec version 0.2 as TypeScript types.
 *
 * The keys are the buildspec's own (`pre_build`, `on-failure`, `base-directory`...), so a value
 * built in code reads like the YAML it renders to, and the AWS documentation applies word for
 * word ("Build specification reference for CodeBuild").
 */

/** The phases CodeBuild runs, in this order. */
export const BUILDSPEC_PHASES = ['install', 'pre_build', 'build', 'post_build'] as const;

/** A phase of the build. */
export type BuildspecPhaseName = (typeof BUILDSPEC_PHASES)[number];

/**
 * What CodeBuild does when a phase fails.
 * - `ABORT`: the build stops; later phases do not run.
 * - `CONTINUE`: the next phase runs; the build still ends FAILED.
 */
export type BuildspecOnFailure = 'ABORT' | 'CONTINUE';

/** A buildspec boolean: YAML `yes`/`no` (as the AWS documentation writes them) or `true`/`false`. */
export type BuildspecFlag = boolean | 'yes' | 'no';

/** The Linux shells a buildspec may ask for (`env.shell`). */
export type BuildspecShell = 'bash' | 'sh' | '/bin/sh' | '/bin/bash';

/** One phase: its commands and what to do when they fail. */
export interface BuildspecPhase {
  /**
   * Commands run one at a time, in order, in the build's one shell.
   *
   * @default - none
   */
  readonly commands?: readonly string[];
  /**
   * Commands run after `commands`, even when one of them failed.
   *
   * @default - none
   */
  readonly finally?: readonly string[];
  /**
   * What to do when the phase fails.
   *
   * @default - CodeBuild's phase transitions: a failed install or pre_build ends the build,
   * a failed build still runs post_build.
   */
  readonly 'on-failure'?: BuildspecOnFailure;
  /**
   * The Linux user that runs the phase's commands.
   *
   * @default - the buildspec's `run-as`, else the build's user
   */
  readonly 'run-as'?: string;
  /**
   * Runtimes CodeBuild installs before the install phase (install phase only), e.g. `{ nodejs: '20' }`.
   *
   * @default - the image's default runtimes
   */
  readonly 'runtime-versions'?: Readonly<Record<string, string>>;
}

/** `env`: the build's variables. */
export interface BuildspecEnv {
  /**
   * The shell that runs every command.
   *
   * @default 'sh'
   */
  readonly shell?: BuildspecShell;
  /**
   * Plain-text variables.
   *
   * @default - none
   */
  readonly variables?: Readonly<Record<string, string>>;
  /**
   * Variables read from SSM Parameter Store: variable name → parameter name.
   *
   * @default - none
   */
  readonly 'parameter-store'?: Readonly<Record<string, string>>;
  /**
   * Variables read from Secrets Manager: variable name → `secret-id:json-key:version-stage:version-id`.
   *
   * @default - none
   */
  readonly 'secrets-manager'?: Readonly<Record<string, string>>;
  /**
   * Variables whose values at the end of the build are exported (to CodePipeline's variables).
   *
   * @default - none
   */
  readonly 'exported-variables'?: readonly string[];
  /**
   * Whether CodeBuild's Git credential helper provides Git credentials.
   *
   * @default false
   */
  readonly 'git-credential-helper'?: BuildspecFlag;
}

/** An output artifact: which files, from where, how laid out. */
export interface BuildspecArtifact {
  /**
   * Glob patterns of the files, relative to `base-directory` (or the source folder).
   *
   * @default - no files
   */
  readonly files?: readonly string[];
  /**
   * The artifact's name, in the shell command language (`myname-$(date +%Y-%m-%d)`).
   *
   * @default - the project's artifact name
   */
  readonly name?: string;
  /**
   * The folder (a pattern may match several top-level folders) the files are taken from.
   * The folder itself is not part of the artifact, only what is below it.
   *
   * @default - the source folder
   */
  readonly 'base-directory'?: string;
  /**
   * Put every file at the artifact's root, dropping its folders.
   *
   * @default false
   */
  readonly 'discard-paths'?: BuildspecFlag;
  /**
   * Glob patterns, relative to `base-directory`, of files to leave out.
   *
   * @default - none
   */
  readonly 'exclude-paths'?: readonly string[];
  /**
   * Keep symbolic links as links instead of the files they point to.
   *
   * @default false
   */
  readonly 'enable-symlinks'?: BuildspecFlag;
  /**
   * A prefix for the artifact's key in S3 (S3 artifacts with a BUILD_ID namespace only).
   *
   * @default - none
   */
  readonly 's3-prefix'?: string;
}

/** `artifacts`: the primary artifact and the secondary ones by identifier. */
export interface BuildspecArtifacts extends BuildspecArtifact {
  /**
   * Secondary artifacts by artifact identifier.
   *
   * @default - none
   */
  readonly 'secondary-artifacts'?: Readonly<Record<string, BuildspecArtifact>>;
}

/** One report group's files. */
export interface BuildspecReport {
  readonly files: readonly string[];
  /** @default - the source folder */
  readonly 'base-directory'?: string;
  /** @default false */
  readonly 'discard-paths'?: BuildspecFlag;
  /** @default 'JUNITXML' */
  readonly 'file-format'?: string;
}

/** `cache`: what CodeBuild keeps between builds. */
export interface BuildspecCache {
  /** @default - none */
  readonly paths?: readonly string[];
  /** @default - none */
  readonly key?: string;
  /** @default - none */
  readonly 'fallback-keys'?: readonly string[];
  /** @default - restore and save */
  readonly action?: 'restore' | 'save';
}

/** `proxy`: settings for builds behind an explicit proxy server. */
export interface BuildspecProxy {
  /** @default false */
  readonly 'upload-artifacts'?: BuildspecFlag;
  /** @default false */
  readonly logs?: BuildspecFlag;
}

/** A CodeBuild buildspec, version 0.2. */
export interface Buildspec {
  /** The buildspec version: only 0.2 runs every command of a build in one shell. */
  readonly version: 0.2;
  /**
   * The Linux user that runs every command.
   *
   * @default - the build's user
   */
  readonly 'run-as'?: string;
  /** @default - no variables */
  readonly env?: BuildspecEnv;
  /** @default - no proxy */
  readonly proxy?: BuildspecProxy;
  /**
   * Batch build settings (`fast-fail`, `build-list`, `build-matrix`, `build-graph`), passed through as they are.
   *
   * @default - not a batch build
   */
  readonly batch?: Readonly<Record<string, unknown>>;
  /** The phases and their commands. */
  readonly phases: Readonly<Partial<Record<BuildspecPhaseName, BuildspecPhase>>>;
  /** @default - no reports */
  readonly reports?: Readonly<Record<string, BuildspecReport>>;
  /** @default - no artifacts */
  readonly artifacts?: BuildspecArtifacts;
  /** @default - no cache */
  readonly cache?: BuildspecCache;
}

/** Reads a buildspec flag: `yes`/`true` are true. */
export function isYes(flag: BuildspecFlag | undefined): boolean {
  return flag === true || flag === 'yes';
}
