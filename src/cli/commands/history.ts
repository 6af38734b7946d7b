import type { Command } from 'commander';
import { InputError } from '../../model/errors.js';
import type { CliContext } from '../context.js';

// Placeholder registration: replaced by the command's real implementation.
export function registerHistory(program: Command, _ctx: CliContext): void {
  program
    .command('history')
    .description('past local runs')
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .action(() => {
      throw new InputError('the "history" command is not implemented yet');
    });
}
