import type { Command } from 'commander';
import { InputError } from '../../model/errors.js';
import type { CliContext } from '../context.js';

// Placeholder registration: replaced by the command's real implementation.
export function registerPermissions(program: Command, _ctx: CliContext): void {
  program
    .command('permissions')
    .description('the least-privilege deploy policy for a CloudFormation template')
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .action(() => {
      throw new InputError('the "permissions" command is not implemented yet');
    });
}
