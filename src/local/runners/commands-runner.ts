/**
 * Commands actions: each runs its buildspec (`buildspecForAction`, the one made for CodeBuild)
 * through the buildspec executor, in a workspace of its own: its inputs laid out as copies (a
 * reflink where the file system has them: no action reaches the stored blobs), its outputs stored
 * by content from the folders the buildspec collects them from.
 *
 * The plan's step calls (`service-pipelines step ...`) are carried out in this process (see
 * `in-process-steps.ts`): the same code, environment, working directory, output and status, with
 * a process only for the user's own commands.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { buildspecForAction } from '../../buildspec/from-plan.js';
import type { Buildspec } from '../../buildspec/types.js';
import { LOCAL_ENV, artifactOutputDirectory } from '../../model/contract.js';
import type { CommandsPlanAction, PlanStage } from '../../model/plan-schema.js';
import type { AwsSeam } from '../../steps/aws.js';
import type { BuildspecRunResult, RunBuildspec } from '../executor/types.js';
import { StoredDeploymentRecords } from '../deployment-records.js';
import { failureCause } from '../failure-cause.js';
import { inProcessStepCalls } from '../in-process-steps.js';
import type { LocalDeployments } from '../local-deployments.js';
import type { ActionLog } from '../run-recorder.js';
import type { ActionOutcome } from '../scheduler.js';
import { artifactOf, errorText, type ActionRunner, type RunContext } from './run-context.js';

/** How commands actions run. */
export interface CommandsRunnerOptions {
  readonly runBuildspec: RunBuildspec;
  /** The environment actions start from (PATH, HOME...). */
  readonly baseEnv: NodeJS.ProcessEnv;
  /** The folder of the `service-pipelines` shim, put first on the actions' PATH. */
  readonly shimDir: string;
  /** How the plan's step calls run: in this process, or as the commands the plan renders. */
  readonly stepCalls: 'in-process' | 'command';
  readonly deployments: LocalDeployments;
  /** For in-process steps. @default - the AWS SDK */
  readonly aws?: AwsSeam;
}

/** Runs commands actions (and rollback actions, which are commands actions too). */
export class CommandsRunner implements ActionRunner<CommandsPlanAction> {
  constructor(
    private readonly context: RunContext,
    private readonly options: CommandsRunnerOptions,
  ) {}

  async run(stage: PlanStage, action: CommandsPlanAction): Promise<ActionOutcome> {
    const { context } = this;
    const startedAt = context.recorder.actionStarted(stage.name, action.name);
    const log = await context.recorder.openLog(stage.name, action.name);
    const finish = async (outcome: ActionOutcome, detail: { exitCode?: number; failedCommand?: string } = {}) => {
      await log.close();
      return context.recorder.actionFinished(stage.name, action.name, startedAt, outcome, detail);
    };
    try {
      const workspace = path.join(context.home, 'runs', context.executionId, 'work', stage.name, action.name);
      const { srcDir, secondarySources } = await this.layOutInputs(workspace, action);
      const { artifacts, ...buildspec } = buildspecForAction(action, { shell: 'sh' });
      const timeout = AbortSignal.timeout(action.timeoutMinutes * 60_000);
      let result: BuildspecRunResult;
      try {
        result = await this.runBuildspec(stage, action, buildspec, srcDir, secondarySources, log, AbortSignal.any([context.signal, timeout]));
      } catch (error) {
        log.write({ kind: 'output', stream: 'system', text: `[service-pipelines] ${errorText(error)}`, at: context.clock.now() });
        return await finish({ ok: false, reason: errorText(error) });
      }
      if (result.status !== 'SUCCEEDED') {
        const failed = result.phases.find((p) => p.status === 'FAILED');
        const reason = timeout.aborted
          ? `timed out after ${action.timeoutMinutes} minutes`
          : context.signal.aborted
            ? context.stopReason()
            : withCause(
                result.failure?.message ??
                  (failed?.failedCommand ? `command "${failed.failedCommand}" exited with status ${failed.exitCode ?? '?'} in phase ${failed.name}` : `the ${failed?.name ?? 'build'} phase failed`),
                result.failure?.command === undefined ? undefined : failureCause(log.recentOutput()),
              );
        return await finish({ ok: false, reason }, { ...(failed?.exitCode !== undefined ? { exitCode: failed.exitCode } : {}), ...(failed?.failedCommand ? { failedCommand: failed.failedCommand } : {}) });
      }
      for (const [output, folder] of outputFolders(action.outputs, artifacts)) {
        const info = await stat(path.join(srcDir, folder)).catch(() => undefined);
        if (!info?.isDirectory()) {
          return await finish({ ok: false, reason: `it did not write its output artifact ${output} (expected in ${folder}/)` }, { exitCode: 0 });
        }
        const stored = await context.artifactStore.put(path.join(srcDir, folder), { mode: 'link' });
        context.artifacts.set(output, stored);
        context.store.recordArtifact({
          executionId: context.executionId,
          name: output,
          digest: stored.digest,
          bytes: stored.bytes,
          files: stored.files,
          producedBy: `${stage.name}.${action.name}`,
          createdAt: context.clock.now(),
        });
      }
      if (action.privilege === 'deploy' && action.environment) {
        await this.tellWhatIsEmulated(action.environment);
      }
      return await finish({ ok: true }, { exitCode: 0 });
    } catch (error) {
      return await finish({ ok: false, reason: errorText(error) });
    }
  }

  /**
   * The action's inputs, as copies in its workspace (a reflink where the file system has them):
   * an action may edit its source in place (eslint --fix, snapshot updates), as it may in
   * CodeBuild, and must never reach the stored blobs, not even as root.
   */
  private async layOutInputs(workspace: string, action: CommandsPlanAction): Promise<{ srcDir: string; secondarySources: Record<string, string> }> {
    const { context } = this;
    const srcDir = path.join(workspace, 'src');
    const [primary, ...secondary] = action.inputs;
    if (primary) {
      await context.artifactStore.materialize(artifactOf(context, primary).digest, srcDir, 'copy');
    } else {
      await mkdir(srcDir, { recursive: true });
    }
    const secondarySources: Record<string, string> = {};
    for (const name of secondary) {
      const folder = path.join(workspace, 'inputs', name);
      await context.artifactStore.materialize(artifactOf(context, name).digest, folder, 'copy');
      secondarySources[name] = folder;
    }
    return { srcDir, secondarySources };
  }

  private async runBuildspec(
    stage: PlanStage,
    action: CommandsPlanAction,
    buildspec: Buildspec,
    srcDir: string,
    secondarySources: Record<string, string>,
    log: ActionLog,
    signal: AbortSignal,
  ): Promise<BuildspecRunResult> {
    const { context, options } = this;
    const recordGroup = (leader: { pid: number; startTime?: string }) =>
      context.store.recordProcessGroup({ executionId: context.executionId, stage: stage.name, action: action.name, leader, startedAt: context.clock.now() });
    const result = await options.runBuildspec({
      buildspec: { file: `${stage.name}.${action.name} buildspec`, document: buildspec },
      srcDir,
      secondarySources,
      env: {
        [LOCAL_ENV.target]: 'local',
        [LOCAL_ENV.home]: context.home,
        [LOCAL_ENV.executionId]: context.executionId,
      },
      baseEnv: { ...options.baseEnv, PATH: [options.shimDir, options.baseEnv.PATH ?? ''].filter(Boolean).join(path.delimiter) },
      buildId: `${context.plan.pipelineName}-${stage.name}-${action.name}:${randomUUID()}`,
      resolvedSourceVersion: context.source.resolvedVersion,
      onLog: (line) => log.write(line),
      signal,
      processes: context.processes,
      processTable: context.processTable,
      clock: context.clock,
      // Recorded, so that whoever finds this run dead ends what its actions left running.
      onProcessGroup: recordGroup,
      ...(options.stepCalls === 'in-process'
        ? {
            inProcess: inProcessStepCalls([...action.setup, ...(action.step ? [action.step] : [])], {
              processes: context.processes,
              processTable: context.processTable,
              clock: context.clock,
              ...(options.aws ? { aws: options.aws } : {}),
              // The history this run has open: the deploy step changes the records in it.
              localDeployments: async () => Object.assign(new StoredDeploymentRecords(context.store), { close: () => undefined }),
            }),
          }
        : {}),
    });
    // The executor ended its process groups before it returned.
    context.store.forgetProcessGroups(context.executionId, stage.name, action.name);
    return result;
  }

  /** What the deployment this action made current emulates of the service's events. */
  private async tellWhatIsEmulated(environment: string): Promise<void> {
    const { context } = this;
    const names = [...new Set([context.plan.service, context.plan.serverlessService])];
    const deployment = (await this.options.deployments.list()).find((d) => d.environment === environment && names.includes(d.service) && d.current?.executionId === context.executionId);
    if (deployment?.current) {
      for (const note of await this.options.deployments.notesOf(deployment.service, environment, deployment.current.release)) {
        context.recorder.notice(`${environment}: ${note}`);
      }
    }
  }
}

/** Each output artifact and the folder the action's buildspec collects it from (`base-directory`). */
function outputFolders(outputs: readonly string[], artifacts: Buildspec['artifacts']): Array<[string, string]> {
  return outputs.map((name) => {
    const definition = outputs.length === 1 ? artifacts : artifacts?.['secondary-artifacts']?.[name];
    return [name, definition?.['base-directory'] ?? artifactOutputDirectory(name)];
  });
}

/** A failure's message, with its cause from the command's output when there is one. */
function withCause(message: string, cause: string | undefined): string {
  return cause === undefined ? message : `${message}: ${cause}`;
}
