import type { Command } from 'commander';
import path from 'node:path';
import type { CliContext } from '../context.js';

interface ShowOptions {
  json?: boolean;
}

export function registerShow(program: Command, ctx: CliContext): void {
  program
    .command('show')
    .description("one local run: stages, actions, durations, artifacts with digests, approvals, rollbacks and each action's log")
    .argument('<execution-id>', 'the execution (or a unique prefix of its id, 4 characters or more)')
    .option('--json', 'print the execution as one JSON document')
    .action(async (executionId: string, options: ShowOptions) => {
      const [{ showExecution }, { formatExecution }] = await Promise.all([import('../../local/history.js'), import('../../local/describe.js')]);
      const document = await showExecution({ home: path.join(ctx.cwd, '.service-pipelines'), executionId, logs: true, onNotice: (notice) => ctx.stderr.write(`note: ${notice}\n`) });
      ctx.stdout.write(options.json ? `${JSON.stringify(document, null, 2)}\n` : formatExecution(document));
    });
}
