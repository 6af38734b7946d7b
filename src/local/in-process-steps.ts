/**
 * The plan's step calls, carried out in the engine's own process: what `service-pipelines step
 * <name> ...` does (the same checks of its arguments, the same code, the same output and exit
 * status), without a Node start-up per step. Only the user's own commands get a process, and
 * each of those a process group that cannot outlive the engine (see `guardedProcesses`).
 *
 * The AWS actions and GitHub Actions jobs run the very same lines as commands: the plan is not
 * changed, only how this engine carries its step calls out.
 */
import { ServicePipelinesError } from '../model/errors.js';
import type { StepCall } from '../model/plan-schema.js';
import { stepCommandLine } from '../model/plan.js';
import type { Clock } from '../runtime/clock.js';
import { guardedProcesses, type Processes, type ProcessTable } from '../runtime/process.js';
import type { AwsSeam } from '../steps/aws.js';
import type { OpenDeploymentRecords } from '../steps/local-deployments.js';
import { stepOptionsOfCall, stepRequestOf } from '../steps/step-arguments.js';
import type { InProcessCommand } from './executor/types.js';

/** The seams in-process steps run through. */
export interface InProcessStepSeams {
  readonly processes: Processes;
  readonly processTable: ProcessTable;
  readonly clock: Clock;
  /** @default - the AWS SDK (loaded only by a step that calls AWS) */
  readonly aws?: AwsSeam;
  /** The local deployment records a local deploy or rollback changes (the engine's own, over its open history). */
  readonly localDeployments?: OpenDeploymentRecords;
}

/**
 * The in-process form of each step call the executor may meet, by its command line: what the
 * executor's `inProcess` option asks. A call whose arguments are not written plainly is left to
 * the shell (the command line then says what is wrong with them).
 */
export function inProcessStepCalls(calls: readonly StepCall[], seams: InProcessStepSeams): (command: string) => InProcessCommand | undefined {
  const byLine = new Map<string, InProcessCommand>();
  for (const call of calls) {
    const options = stepOptionsOfCall(call);
    if (options !== undefined) {
      byLine.set(stepCommandLine(call), async (context) => {
        const processes = guardedProcesses(seams.processes, { onGroup: context.onProcessGroup, processTable: seams.processTable });
        const stop = () => processes.stopAll();
        context.signal.addEventListener('abort', stop, { once: true });
        try {
          const [{ runStep }, aws] = await Promise.all([import('../steps/run-step.js'), seams.aws ?? import('../steps/aws.js').then((m) => m.sdkAws)]);
          await runStep(stepRequestOf(call.step, options, context.env), {
            cwd: context.cwd,
            env: context.env,
            output: { stdout: context.stdout, stderr: context.stderr },
            processes,
            processTable: seams.processTable,
            clock: seams.clock,
            aws,
            ...(seams.localDeployments ? { localDeployments: seams.localDeployments } : {}),
          });
          return 0;
        } catch (error) {
          const { text, exitCode } = reportOfError(error, context.env);
          context.stderr.write(text);
          return exitCode;
        } finally {
          context.signal.removeEventListener('abort', stop);
        }
      });
    }
  }
  return (command) => byLine.get(command);
}

/**
 * What `service-pipelines` prints on stderr for an error a step threw, and its exit status: the
 * command line's own report (`src/cli/main.ts`), so that a step's log and status are the same
 * whichever way it ran.
 */
export function reportOfError(error: unknown, env: NodeJS.ProcessEnv): { text: string; exitCode: number } {
  if (error instanceof ServicePipelinesError) {
    return { text: `error: ${error.message}\n`, exitCode: error.kind === 'input' ? 2 : 1 };
  }
  const detail = error instanceof Error ? (env.SERVICE_PIPELINES_DEBUG ? error.stack : error.message) : String(error);
  return { text: `error: unexpected failure: ${detail}\n(set SERVICE_PIPELINES_DEBUG=1 for the stack)\n`, exitCode: 1 };
}
