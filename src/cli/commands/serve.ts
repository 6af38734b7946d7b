import type { Command } from 'commander';
import { InputError } from '../../model/errors.js';
import type { CliContext } from '../context.js';

// Placeholder registration: replaced by the command's real implementation.
export function registerServe(program: Command, _ctx: CliContext): void {
  program
    .command('serve')
    .description('receive GitHub webhooks and serve the dashboard of local runs')
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .action(() => {
      throw new InputError('the "serve" command is not implemented yet');
    });
}
