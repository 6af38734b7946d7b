import type { Command } from 'commander';
import { InputError } from '../../model/errors.js';
import type { CliContext } from '../context.js';

// Placeholder registration: replaced by the command's real implementation.
export function registerStep(program: Command, _ctx: CliContext): void {
  program
    .command('step')
    .description('run one step of the service in the current folder (what CodeBuild runs)')
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .action(() => {
      throw new InputError('the "step" command is not implemented yet');
    });
}
