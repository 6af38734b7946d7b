/**
 * Typed errors. Library code throws these; only `src/cli/` maps them to exit codes
 * (see `exitCodeOf` in `src/cli/exit.ts`) and prints them for humans.
 */

/** Base class of every error the project throws on purpose. */
export abstract class ServicePipelinesError extends Error {
  /** Which exit code family the CLI maps this error to. */
  abstract readonly kind: 'input' | 'failure';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** One problem found in some input, located by a path (`services[1].name`) or a file position (`buildspec.yml:14:5`). */
export interface InputProblem {
  /** Where the problem is: a config path, `file:line:column`, a CLI flag... */
  readonly where: string;
  /** What is wrong, and if possible what to do about it. */
  readonly message: string;
}

/**
 * Bad input: a config, a buildspec, a template, CLI arguments, a webhook payload.
 * Exit code 2. Nothing has been run or written when this is thrown.
 */
export class InputError extends ServicePipelinesError {
  readonly kind = 'input' as const;
  readonly problems: readonly InputProblem[];

  constructor(summary: string, problems: readonly InputProblem[] = [], options?: { cause?: unknown }) {
    super(problems.length ? `${summary}\n${problems.map((p) => `  ${p.where}: ${p.message}`).join('\n')}` : summary, options);
    this.problems = problems;
  }
}

/** A pipeline, an action or a step failed (a command exited non-zero, tests failed...). Exit code 1. */
export class FailureError extends ServicePipelinesError {
  readonly kind = 'failure' as const;
}
