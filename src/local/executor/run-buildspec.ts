/**
 * The buildspec executor: runs one buildspec as CodeBuild does (see DESIGN.md, "Buildspec semantics").
 *
 * The rules it follows, from the AWS documentation ("Build specification reference for
 * CodeBuild", "Build phase transitions", "Environment variables in build environments"):
 * - phases install, pre_build, build, post_build, in that order, all in one shell (0.2);
 * - in a phase, the first failing command skips the phase's other commands; `finally` runs anyway;
 *   the phase fails when any command of `commands` or `finally` failed;
 * - without `on-failure`, a failed install or pre_build ends the build (to FINALIZING: no later
 *   phase, no artifacts); a failed build still runs post_build, and artifacts are still uploaded
 *   ("The UPLOAD_ARTIFACTS phase is always attempted, even if the BUILD phase fails");
 * - `on-failure: CONTINUE` runs the next phase anyway; the build still ends FAILED;
 *   `on-failure: ABORT` ends the build there. The documentation does not say whether an aborted
 *   build uploads artifacts: it does not here, as "abort" reads;
 * - `CODEBUILD_BUILD_SUCCEEDING` is 1, and 0 from the first failed command on (so a phase's
 *   `finally` and post_build see it);
 * - variables: the buildspec's `env.variables`, then `parameter-store` and `secrets-manager`,
 *   then the variables of the build (start build > project > buildspec); `CODEBUILD_*` are the
 *   executor's own;
 * - `exported-variables` are read from the shell at the end of the build; a variable that is
 *   not set then is not exported (the documentation is silent on that case).
 */
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { BUILDSPEC_PHASES, type Buildspec, type BuildspecArtifact, type BuildspecPhaseName } from '../../buildspec/types.js';
import { parseBuildspec, validateBuildspec } from '../../buildspec/parse.js';
import { STEP_ENV, secondarySourceVariable } from '../../model/contract.js';
import { InputError, ServicePipelinesError, type InputProblem } from '../../model/errors.js';
import { systemClock, type Clock } from '../../runtime/clock.js';
import { nodeProcesses } from '../../runtime/process.js';
import { BuildLog, LineSplitter, SecretMasker } from './log.js';
import { ShellSession, singleQuote, type CommandOutcome } from './shell-session.js';
import type { BuildFailure, BuildspecRunOptions, BuildspecRunResult, InProcessCommand, PhaseResult, RunBuildspec } from './types.js';

const PHASE_LABEL: Record<BuildspecPhaseName, string> = {
  install: 'INSTALL',
  pre_build: 'PRE_BUILD',
  build: 'BUILD',
  post_build: 'POST_BUILD',
};

/** Where the artifacts of a build go below `artifactsOut`. */
export const PRIMARY_ARTIFACT_FOLDER = 'primary';

/** Runs one buildspec (see the module comment for the rules). */
export const runBuildspec: RunBuildspec = async (options) => {
  const buildspec =
    'text' in options.buildspec ? parseBuildspec(options.buildspec.text, options.buildspec.file) : validateBuildspec(options.buildspec.document, options.buildspec.file);
  const run = new BuildRun(options, buildspec);
  return run.execute();
};

class BuildRun {
  private readonly clock: Clock;
  private readonly masker = new SecretMasker();
  private readonly log: BuildLog;
  private readonly srcDir: string;
  private readonly env: NodeJS.ProcessEnv = {};
  private readonly stdoutLines: LineSplitter;
  private readonly stderrLines: LineSplitter;
  private session: ShellSession | undefined;
  /** Whether a command ran in the shell: from then on, its state may differ from the build's own. */
  private shellUsed = false;
  private inProcessStop: AbortController | undefined;
  private lastCwd: string;
  private succeeding = true;
  private stopped = false;
  private failure: BuildFailure | undefined;

  constructor(
    private readonly options: BuildspecRunOptions,
    private readonly buildspec: Buildspec,
  ) {
    this.clock = options.clock ?? systemClock;
    this.log = new BuildLog(this.clock, this.masker, options.onLog);
    this.srcDir = resolve(options.srcDir);
    this.lastCwd = this.srcDir;
    this.stdoutLines = new LineSplitter((line) => this.log.output('stdout', line));
    this.stderrLines = new LineSplitter((line) => this.log.output('stderr', line));
  }

  async execute(): Promise<BuildspecRunResult> {
    await this.checkSourceFolder();
    await this.prepareEnvironment();
    const { log } = this;
    log.container(`Running on service-pipelines (local executor), build ${this.env[STEP_ENV.buildId]}`);
    log.container('Phase complete: DOWNLOAD_SOURCE State: SUCCEEDED');
    log.container(`CODEBUILD_SRC_DIR=${this.srcDir}`);
    log.container(`YAML location is ${this.options.buildspec.file}`);
    log.container(`Using shell ${this.shellProgram()}`);
    log.container('Processing environment variables');
    for (const [section, why] of [
      ['cache', "this machine's files stay between builds"],
      ['reports', 'report files stay in the build folder (collect them as artifacts to keep them)'],
      ['batch', 'batch builds are a CodeBuild feature'],
      ['proxy', 'the machine reaches the network as it is'],
    ] as const) {
      if (this.buildspec[section] !== undefined) {
        log.container(`Not applying ${section} on this machine: ${why}`);
      }
    }

    const abort = () => {
      this.stopped = true;
      this.session?.kill();
      this.inProcessStop?.abort();
    };
    if (this.options.signal?.aborted) {
      this.stopped = true;
    }
    this.options.signal?.addEventListener('abort', abort, { once: true });
    try {
      const phases = await this.runPhases();
      const artifacts = await this.collectArtifacts(phases.uploadArtifacts);
      const exportedVariables = await this.readExportedVariables();
      const status = this.failure ? 'FAILED' : 'SUCCEEDED';
      log.container(`Phase complete: FINALIZING State: SUCCEEDED`);
      log.container(`Build ${status === 'SUCCEEDED' ? 'succeeded' : 'failed'}${this.failure ? `: ${this.failure.message}` : ''}`);
      return { status, phases: phases.results, exportedVariables, artifacts, ...(this.failure ? { failure: this.failure } : {}) };
    } finally {
      this.options.signal?.removeEventListener('abort', abort);
      await this.session?.close();
    }
  }

  private async runPhases(): Promise<{ results: PhaseResult[]; uploadArtifacts: boolean }> {
    const results: PhaseResult[] = [];
    let ended = false;
    let uploadArtifacts = true;
    for (const name of BUILDSPEC_PHASES) {
      if (ended || this.stopped) {
        if (this.stopped) {
          this.failure ??= { phase: 'STOPPED', message: `the build was stopped before phase ${PHASE_LABEL[name]}` };
        }
        results.push({ name, status: 'SKIPPED', durationMs: 0 });
        continue;
      }
      const result = await this.runPhase(name);
      results.push(result);
      if (this.stopped) {
        uploadArtifacts = false;
        this.failure ??= { phase: 'STOPPED', message: `the build was stopped during phase ${PHASE_LABEL[name]}` };
        ended = true;
        continue;
      }
      if (result.status !== 'FAILED') {
        continue;
      }
      const onFailure = this.buildspec.phases[name]?.['on-failure'];
      if (onFailure === 'CONTINUE') {
        this.log.container(`Continuing to the next phase (on-failure: CONTINUE)`);
      } else if (onFailure === 'ABORT') {
        this.log.container(`Aborting the build (on-failure: ABORT)`);
        ended = true;
        uploadArtifacts = false;
      } else if (name === 'install' || name === 'pre_build') {
        ended = true;
        uploadArtifacts = false;
      }
    }
    return { results, uploadArtifacts };
  }

  private async runPhase(name: BuildspecPhaseName): Promise<PhaseResult> {
    const label = PHASE_LABEL[name];
    const phase = this.buildspec.phases[name] ?? {};
    const started = this.clock.now();
    this.log.container(`Entering phase ${label}`);
    if (phase['runtime-versions']) {
      this.log.container(`Not installing runtime-versions (${Object.keys(phase['runtime-versions']).join(', ')}): this machine's own runtimes are used`);
    }
    const runAs = phase['run-as'] ?? this.buildspec['run-as'];
    if (runAs !== undefined) {
      this.log.container(`Not switching to user ${runAs} (run-as): commands run as the current user`);
    }
    let failed: { command: string; exitCode: number } | undefined;
    for (const block of [phase.commands ?? [], phase.finally ?? []]) {
      // `finally` runs even after a failed command, and stops at its own first failure.
      let blockFailed = false;
      for (const command of block) {
        if (this.stopped || blockFailed) {
          break;
        }
        const exitCode = await this.runCommand(command);
        if (exitCode !== 0) {
          blockFailed = true;
          failed ??= { command, exitCode };
          if (!this.stopped) {
            await this.markFailing();
          }
        }
      }
      if (this.stopped) {
        break;
      }
    }
    const durationMs = this.clock.now() - started;
    if (!failed) {
      this.log.container(`Phase complete: ${label} State: SUCCEEDED`);
      this.log.container('Phase context status code:  Message: ');
      return { name, status: 'SUCCEEDED', durationMs };
    }
    if (this.stopped) {
      this.failure ??= { phase: 'STOPPED', command: failed.command, message: `the build was stopped during phase ${label}, in command "${failed.command}"` };
    }
    const reason = this.stopped ? 'the build was stopped' : `exit status ${failed.exitCode}`;
    this.log.container(`Phase complete: ${label} State: FAILED`);
    this.log.container(`Phase context status code: COMMAND_EXECUTION_ERROR Message: Error while executing command: ${failed.command}. Reason: ${reason}`);
    this.failure ??= {
      phase: label,
      command: failed.command,
      exitCode: failed.exitCode,
      message: `command "${failed.command}" exited with status ${failed.exitCode} in phase ${label}`,
    };
    return { name, status: 'FAILED', exitCode: failed.exitCode, failedCommand: failed.command, durationMs };
  }

  /** Run a command of the buildspec, logging it as CodeBuild does. Resolves to its exit status. */
  private async runCommand(command: string): Promise<number> {
    this.log.container(`Running command ${command}`);
    const inProcess = this.shellUsed ? undefined : this.options.inProcess?.(command);
    const outcome = inProcess ? await this.inThisProcess(inProcess) : await this.inShell(command);
    if (outcome.exitCode !== 0) {
      this.log.container(`Command did not exit successfully ${command} exit status ${outcome.exitCode}`);
    }
    return outcome.exitCode;
  }

  /** A command the caller carries out itself, given what the shell would give it; its output goes to the log as a command's does. */
  private async inThisProcess(command: InProcessCommand): Promise<CommandOutcome> {
    this.inProcessStop = new AbortController();
    if (this.stopped) this.inProcessStop.abort();
    const sink = (lines: LineSplitter) =>
      new Writable({
        write(chunk: Buffer | string, _encoding, done) {
          lines.push(typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
          done();
        },
      });
    let exitCode: number;
    try {
      exitCode = await command({
        cwd: this.lastCwd,
        env: { ...this.env, [STEP_ENV.buildSucceeding]: this.succeeding ? '1' : '0' },
        stdout: sink(this.stdoutLines),
        stderr: sink(this.stderrLines),
        signal: this.inProcessStop.signal,
        onProcessGroup: (group) => this.options.onProcessGroup?.(group),
      });
    } finally {
      this.inProcessStop = undefined;
    }
    this.stdoutLines.flush();
    this.stderrLines.flush();
    return { exitCode, cwd: this.lastCwd, shellEnded: false };
  }

  private async inShell(command: string, capture = false): Promise<CommandOutcome> {
    this.shellUsed = true;
    const session = await this.ensureShell();
    const outcome = await session.run(command, { capture });
    this.stdoutLines.flush();
    this.stderrLines.flush();
    this.lastCwd = outcome.cwd;
    if (outcome.shellEnded && !this.stopped) {
      // The documentation does not say what CodeBuild does when a command ends its shell; here the
      // command ends with the shell's status, and later commands get a new shell in the same folder.
      this.log.container(`The shell ended (exit status ${outcome.exitCode}); later commands run in a new shell in ${this.lastCwd}, without the variables exported so far`);
    }
    return outcome;
  }

  private async ensureShell(): Promise<ShellSession> {
    if (!this.session?.alive) {
      // What the ended shell left running goes with it, as at the end of the build.
      await this.session?.close();
      this.session = ShellSession.start({
        shell: this.shellProgram(),
        cwd: this.lastCwd,
        env: { ...this.env, [STEP_ENV.buildSucceeding]: this.succeeding ? '1' : '0' },
        processes: this.options.processes ?? nodeProcesses,
        ...(this.options.processTable ? { processTable: this.options.processTable } : {}),
        onOutput: (stream, text) => (stream === 'stdout' ? this.stdoutLines : this.stderrLines).push(text),
      });
      if (this.session.group) {
        this.options.onProcessGroup?.(this.session.group);
      }
    }
    return this.session;
  }

  private async markFailing(): Promise<void> {
    if (this.succeeding) {
      this.succeeding = false;
      // A shell not started yet starts with it (see `ensureShell`).
      if (this.session?.alive) {
        await this.inShell(`export ${STEP_ENV.buildSucceeding}=0`);
      }
    }
  }

  private shellProgram(): string {
    // CodeBuild's Linux images run commands with sh unless env.shell says otherwise.
    return this.buildspec.env?.shell ?? 'sh';
  }

  private async checkSourceFolder(): Promise<void> {
    try {
      const info = await stat(this.srcDir);
      if (!info.isDirectory()) {
        throw new InputError(`the source folder ${this.srcDir} is not a folder`);
      }
    } catch (error) {
      if (error instanceof InputError) {
        throw error;
      }
      throw new InputError(`the source folder ${this.srcDir} does not exist`);
    }
  }

  private async prepareEnvironment(): Promise<void> {
    const { buildspec, options } = this;
    const file = options.buildspec.file;
    Object.assign(this.env, options.baseEnv ?? process.env);
    Object.assign(this.env, buildspec.env?.variables ?? {});
    const given = options.env ?? {};
    const lookups: Array<{ variable: string; where: string; resolve: () => Promise<string> }> = [];
    for (const [variable, name] of Object.entries(buildspec.env?.['parameter-store'] ?? {})) {
      lookups.push({ variable, where: `${file}: env.parameter-store.${variable}`, resolve: () => this.secrets().parameter(name) });
    }
    for (const [variable, reference] of Object.entries(buildspec.env?.['secrets-manager'] ?? {})) {
      lookups.push({ variable, where: `${file}: env.secrets-manager.${variable}`, resolve: () => this.secrets().secret(reference) });
    }
    // A variable of the build overrides the buildspec's (start build > project > buildspec), so
    // a secret it replaces is not looked up; its value stands for a secret and is masked.
    const needed = lookups.filter((lookup) => given[lookup.variable] === undefined);
    for (const lookup of lookups) {
      const override = given[lookup.variable];
      if (override !== undefined) {
        this.masker.add(override);
      }
    }
    const settled = await Promise.allSettled(needed.map((lookup) => lookup.resolve()));
    const problems: InputProblem[] = [];
    settled.forEach((outcome, index) => {
      const lookup = needed[index]!;
      if (outcome.status === 'fulfilled') {
        this.env[lookup.variable] = outcome.value;
        this.masker.add(outcome.value);
      } else if (outcome.reason instanceof InputError) {
        problems.push({ where: lookup.where, message: outcome.reason.message });
      } else {
        throw outcome.reason instanceof ServicePipelinesError ? outcome.reason : new Error(`${lookup.where}: ${(outcome.reason as Error).message}`, { cause: outcome.reason });
      }
    });
    if (problems.length) {
      throw new InputError('secrets of the buildspec could not be resolved', problems);
    }
    Object.assign(this.env, given);
    this.env[STEP_ENV.srcDir] = this.srcDir;
    this.env[STEP_ENV.buildId] = options.buildId ?? `local:${randomUUID()}`;
    this.env[STEP_ENV.buildSucceeding] = '1';
    if (options.resolvedSourceVersion !== undefined) {
      this.env[STEP_ENV.resolvedSourceVersion] = options.resolvedSourceVersion;
    }
    for (const [id, folder] of Object.entries(options.secondarySources ?? {})) {
      this.env[secondarySourceVariable(id)] = resolve(folder);
    }
  }

  private secrets() {
    if (!this.options.secrets) {
      throw new InputError('the buildspec reads parameter-store or secrets-manager variables, and no secret resolver was given');
    }
    return this.options.secrets;
  }

  private async collectArtifacts(upload: boolean): Promise<BuildspecRunResult['artifacts']> {
    const artifacts = this.buildspec.artifacts;
    const out = this.options.artifactsOut;
    const secondary: Record<string, string> = {};
    if (!artifacts || this.stopped) {
      return { secondary };
    }
    if (!upload) {
      this.log.container('Skipping UPLOAD_ARTIFACTS: the build ended before it');
      return { secondary };
    }
    this.log.container('Entering phase UPLOAD_ARTIFACTS');
    if (out === undefined) {
      this.log.container('Not collecting artifacts: no artifacts folder was given');
      this.log.container('Phase complete: UPLOAD_ARTIFACTS State: SUCCEEDED');
      return { secondary };
    }
    const definitions: Array<[string | undefined, BuildspecArtifact]> = [];
    if (artifacts.files !== undefined) {
      definitions.push([undefined, artifacts]);
    }
    for (const [id, definition] of Object.entries(artifacts['secondary-artifacts'] ?? {})) {
      definitions.push([id, definition]);
    }
    // Loaded here, so a build without artifacts does not pay for the glob library.
    const { ArtifactError, collectArtifact } = await import('./artifacts.js');
    let primary: string | undefined;
    for (const [id, definition] of definitions) {
      const destination = join(resolve(out), id ?? PRIMARY_ARTIFACT_FOLDER);
      try {
        if (definition.name !== undefined) {
          this.log.container(`Artifact ${id ?? 'primary'} is named ${await this.evaluateName(definition.name)}`);
        }
        const collected = await collectArtifact({
          srcDir: this.srcDir,
          ownsSrcDir: this.options.ownsSrcDir === true,
          artifact: definition,
          destination,
          // The tool's own state and the artifacts folder are never part of an artifact.
          skip: [resolve(out), join(this.srcDir, '.service-pipelines')],
          log: (text) => this.log.container(text),
        });
        if (id === undefined) {
          primary = collected.directory;
        } else {
          secondary[id] = collected.directory;
        }
      } catch (error) {
        if (!(error instanceof ArtifactError)) {
          throw error;
        }
        const which = id === undefined ? 'the primary artifact' : `secondary artifact ${id}`;
        this.log.container(`Phase complete: UPLOAD_ARTIFACTS State: FAILED`);
        this.log.container(`Phase context status code: CLIENT_ERROR Message: ${error.message} (${which})`);
        this.failure ??= { phase: 'UPLOAD_ARTIFACTS', message: `${which}: ${error.message}` };
        return { ...(primary ? { primary } : {}), secondary };
      }
    }
    this.log.container('Phase complete: UPLOAD_ARTIFACTS State: SUCCEEDED');
    return { ...(primary ? { primary } : {}), secondary };
  }

  /** An artifact name is in the shell command language (`myname-$(date +%Y-%m-%d)`): the build's shell evaluates it. */
  private async evaluateName(name: string): Promise<string> {
    const outcome = await this.inShell(`__sp_name=${singleQuote(name)}; eval "printf '%s' \\"$__sp_name\\""`, true);
    return outcome.exitCode === 0 && outcome.stdout !== undefined ? outcome.stdout : name;
  }

  private async readExportedVariables(): Promise<Record<string, string>> {
    const names = this.buildspec.env?.['exported-variables'] ?? [];
    const exported: Record<string, string> = {};
    const allowed = names.filter((name) => {
      if (name.startsWith('AWS_')) {
        // CodeBuild does not export variables that start with AWS_.
        this.log.container(`Not exporting ${name}: variables that start with AWS_ cannot be exported`);
        return false;
      }
      return true;
    });
    if (allowed.length === 0 || this.stopped) {
      return exported;
    }
    // NUL cannot occur in a variable's value, so it separates names and values unambiguously.
    const script = allowed.map((name) => `if [ -n "\${${name}+set}" ]; then printf '%s\\000%s\\000' ${name} "$${name}"; fi`).join('; ');
    const outcome = await this.inShell(script, true);
    const fields = (outcome.stdout ?? '').split('\u0000');
    for (let i = 0; i + 1 < fields.length; i += 2) {
      exported[fields[i]!] = fields[i + 1]!;
    }
    return exported;
  }
}
