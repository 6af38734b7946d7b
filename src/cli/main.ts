/**
 * The command line: the only place that parses argv, prints for humans and sets exit codes.
 * Commands register their flags here cheaply and load their implementation when they run.
 */
import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { ServicePipelinesError } from '../model/errors.js';
import type { CliContext } from './context.js';
import { registerPlan } from './commands/plan.js';
import { registerSynth } from './commands/synth.js';
import { registerBuildspec } from './commands/buildspec.js';
import { registerStep } from './commands/step.js';
import { registerPermissions } from './commands/permissions.js';
import { registerRun } from './commands/run.js';
import { registerHistory } from './commands/history.js';
import { registerShow } from './commands/show.js';
import { registerApprove } from './commands/approve.js';
import { registerUp } from './commands/up.js';
import { registerServe } from './commands/serve.js';
import { registerInvoke } from './commands/invoke.js';
import { registerDoctor } from './commands/doctor.js';
import { registerInit } from './commands/init.js';
import { registerGc } from './commands/gc.js';
import { registerGitHub } from './commands/github.js';

/** Exit codes: 0 success, 1 a pipeline or step failed, 2 bad input. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_INPUT = 2;

const commandRegistrations: Array<(program: Command, ctx: CliContext) => void> = [
  registerPlan,
  registerSynth,
  registerBuildspec,
  registerStep,
  registerPermissions,
  registerRun,
  registerHistory,
  registerShow,
  registerApprove,
  registerUp,
  registerServe,
  registerInvoke,
  registerDoctor,
  registerInit,
  registerGc,
  registerGitHub,
];

/** Run the CLI with `argv` (as `process.argv`: node, script, args...). Resolves to the exit code. */
export async function main(argv: readonly string[], ctx: CliContext = processContext()): Promise<number> {
  const program = new Command('service-pipelines')
    .description('CI/CD pipelines for serverless microservices, defined in TypeScript: run them locally, deploy them to AWS.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .exitOverride()
    .showSuggestionAfterError(true)
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (text) => ctx.stdout.write(text),
      writeErr: (text) => ctx.stderr.write(text),
    });
  program.addHelpText('after', '\nExit codes: 0 success, 1 a pipeline or step failed, 2 bad input.');
  for (const register of commandRegistrations) {
    register(program, ctx);
  }
  for (const command of program.commands) {
    command.exitOverride().showSuggestionAfterError(true);
  }
  try {
    await program.parseAsync([...argv]);
    return ctx.exitCode;
  } catch (error) {
    return reportError(error, ctx);
  }
}

/** Map an error to its exit code, printing it for a human. */
export function reportError(error: unknown, ctx: CliContext): number {
  if (error instanceof CommanderError) {
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') {
      return EXIT_OK;
    }
    if (error.code === 'commander.executeSubCommandAsync') {
      return EXIT_OK;
    }
    // commander printed the message already.
    return EXIT_INPUT;
  }
  if (error instanceof ServicePipelinesError) {
    ctx.stderr.write(`error: ${error.message}\n`);
    return error.kind === 'input' ? EXIT_INPUT : EXIT_FAILURE;
  }
  const detail = error instanceof Error ? (ctx.env.SERVICE_PIPELINES_DEBUG ? error.stack : error.message) : String(error);
  ctx.stderr.write(`error: unexpected failure: ${detail}\n(set SERVICE_PIPELINES_DEBUG=1 for the stack)\n`);
  return EXIT_FAILURE;
}

function processContext(): CliContext {
  endQuietlyOnClosedPipe(process.stdout);
  endQuietlyOnClosedPipe(process.stderr);
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, cwd: process.cwd(), env: process.env, exitCode: EXIT_OK };
}

/**
 * A reader that went away (`service-pipelines --help | head -1`) ends what is printed there, not
 * the CLI with an EPIPE stack trace: the command goes on and ends with its own exit code.
 */
function endQuietlyOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') {
      throw error;
    }
  });
}

function packageVersion(): string {
  const require = createRequire(import.meta.url);
  return (require('../../package.json') as { version: string }).version;
}
