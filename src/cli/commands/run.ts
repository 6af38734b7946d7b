import type { Command } from 'commander';
import { InputError } from '../../model/errors.js';
import type { CliContext } from '../context.js';

// Placeholder registration: replaced by the command's real implementation.
export function registerRun(program: Command, _ctx: CliContext): void {
  program
    .command('run')
    .description("run a service's pipeline on this machine")
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .action(() => {
      throw new InputError('the "run" command is not implemented yet');
    });
}
