import type { Command } from 'commander';
import { InputError } from '../../model/errors.js';
import type { CliContext } from '../context.js';

// Placeholder registration: replaced by the command's real implementation.
export function registerShow(program: Command, _ctx: CliContext): void {
  program
    .command('show')
    .description("one local run, with each action's log")
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .action(() => {
      throw new InputError('the "show" command is not implemented yet');
    });
}
