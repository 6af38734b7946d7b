import type { Command } from 'commander';
import path from 'node:path';
import type { CliContext } from '../context.js';

interface DecideOptions {
  message?: string;
}

export function registerApprove(program: Command, ctx: CliContext): void {
  for (const verb of ['approve', 'reject'] as const) {
    program
      .command(verb)
      .description(`${verb} the manual approval a local run is waiting for (from another shell)`)
      .argument('<execution-id>', 'the waiting execution (or a unique prefix of its id)')
      .option('-m, --message <text>', 'why, recorded with the decision')
      .action(async (executionId: string, options: DecideOptions) => {
        const { decideApproval } = await import('../../local/history.js');
        const { execution, approval } = await decideApproval({
          home: path.join(ctx.cwd, '.service-pipelines'),
          executionId,
          decision: verb === 'approve' ? 'APPROVED' : 'REJECTED',
          ...(options.message ? { summary: options.message } : {}),
        });
        ctx.stdout.write(`${approval.stage}.${approval.action} of execution ${execution.id}: ${approval.status.toLowerCase()}\n`);
      });
  }
}
