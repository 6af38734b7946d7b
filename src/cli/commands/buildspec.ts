import type { Command } from 'commander';
import { InputError } from '../../model/errors.js';
import type { CliContext } from '../context.js';

// Placeholder registration: replaced by the command's real implementation.
export function registerBuildspec(program: Command, _ctx: CliContext): void {
  program
    .command('buildspec')
    .description('run or check a CodeBuild buildspec on this machine')
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .action(() => {
      throw new InputError('the "buildspec" command is not implemented yet');
    });
}
