import type { Command } from 'commander';
import { InputError } from '../../model/errors.js';
import type { CliContext } from '../context.js';

// Placeholder registration: replaced by the command's real implementation.
export function registerUp(program: Command, _ctx: CliContext): void {
  program
    .command('up')
    .description('serve the current local releases again')
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .action(() => {
      throw new InputError('the "up" command is not implemented yet');
    });
}
