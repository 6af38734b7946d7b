import type { Command } from 'commander';
import { InputError } from '../../model/errors.js';
import type { CliContext } from '../context.js';

// Placeholder registration: replaced by the command's real implementation.
export function registerApprove(program: Command, _ctx: CliContext): void {
  program
    .command('approve')
    .description('approve or reject a local run waiting for approval')
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .action(() => {
      throw new InputError('the "approve" command is not implemented yet');
    });
}
