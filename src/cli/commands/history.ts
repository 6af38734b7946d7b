import type { Command } from 'commander';
import path from 'node:path';
import type { CliContext } from '../context.js';

interface HistoryOptions {
  json?: boolean;
  limit?: string;
}

export function registerHistory(program: Command, ctx: CliContext): void {
  program
    .command('history')
    .description('past local runs, newest first (runs whose process is gone are marked failed first)')
    .argument('[service]', 'only the runs of this service')
    .option('-n, --limit <count>', 'at most this many runs', '20')
    .option('--json', 'print the runs as one JSON document')
    .action(async (service: string | undefined, options: HistoryOptions) => {
      const [{ listExecutions }, { formatHistory }] = await Promise.all([import('../../local/history.js'), import('../../local/describe.js')]);
      const { InputError } = await import('../../model/errors.js');
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1) {
        throw new InputError(`--limit ${options.limit}: not a positive whole number`, [{ where: '--limit', message: 'give a count such as 20' }]);
      }
      const home = path.join(ctx.cwd, '.service-pipelines');
      const executions = await listExecutions({ home, limit, ...(service ? { service } : {}), onNotice: (notice) => ctx.stderr.write(`note: ${notice}\n`) });
      if (options.json) {
        ctx.stdout.write(`${JSON.stringify({ schemaVersion: 1, history: path.join(home, 'state.db'), executions }, null, 2)}\n`);
      } else {
        ctx.stdout.write(formatHistory(executions, home));
      }
    });
}
