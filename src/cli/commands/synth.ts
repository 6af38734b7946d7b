import type { Command } from 'commander';
import { InputError } from '../../model/errors.js';
import type { CliContext } from '../context.js';

// Placeholder registration: replaced by the command's real implementation.
export function registerSynth(program: Command, _ctx: CliContext): void {
  program
    .command('synth')
    .description('write the CloudFormation templates (CICD and deployer-role stacks) and pipelines.plan.json')
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .action(() => {
      throw new InputError('the "synth" command is not implemented yet');
    });
}
