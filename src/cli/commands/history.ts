import type { Command } from 'commander';
import path from 'node:path';
import type { CliContext } from '../context.js';

interface HistoryOptions {
  json?: boolean;
  limit: string;
  config?: string;
}

/** The most runs `history` lists at once. */
const MAX_LIMIT = 1_000_000;

export function registerHistory(program: Command, ctx: CliContext): void {
  program
    .command('history')
    .description('past local runs, newest first (runs whose process is gone are marked failed first)')
    .argument('[service]', 'only the runs of this service')
    .option('-c, --config <file>', "only the runs of this config's services (by default every run kept in this folder)")
    .option('-n, --limit <count>', `at most this many runs (1 to ${MAX_LIMIT})`, '20')
    .option('--json', 'print the runs as one JSON document')
    .action(async (service: string | undefined, options: HistoryOptions) => {
      const [{ listExecutions }, { formatHistory }, { InputError }] = await Promise.all([
        import('../../local/history.js'),
        import('../../local/describe.js'),
        import('../../model/errors.js'),
      ]);
      // Digits only: Number() would take 1e3, 0x10 and 99999999999999999999 (a float SQLite refuses).
      const limit = /^[1-9][0-9]*$/.test(options.limit) ? Number(options.limit) : NaN;
      if (!(limit <= MAX_LIMIT)) {
        throw new InputError(`--limit ${options.limit}: not a count of runs`, [{ where: '--limit', message: `give a count from 1 to ${MAX_LIMIT}` }]);
      }
      const configFile = options.config === undefined ? undefined : await configOf(options.config, service, ctx);
      const home = path.join(ctx.cwd, '.service-pipelines');
      const onNotice = (notice: string) => ctx.stderr.write(`note: ${notice}\n`);
      // Runs of other configs share the folder: filtered here, then the limit applies.
      const executions =
        configFile === undefined
          ? await listExecutions({ home, limit, ...(service ? { service } : {}), onNotice })
          : (await listExecutions({ home, ...(service ? { service } : {}), onNotice })).filter((execution) => execution.configFile === configFile).slice(0, limit);
      if (options.json) {
        ctx.stdout.write(`${JSON.stringify({ schemaVersion: 1, history: path.join(home, 'state.db'), executions }, null, 2)}\n`);
      } else {
        ctx.stdout.write(formatHistory(executions, home));
      }
    });
}

/** The config file's absolute path, once it loads and has `service` (when one is given). */
async function configOf(file: string, service: string | undefined, ctx: CliContext): Promise<string> {
  const [{ loadConfig }, { unknownServiceError }] = await Promise.all([import('../../runtime/load-config.js'), import('../../model/plan.js')]);
  const loaded = await loadConfig(file, ctx.cwd);
  if (service !== undefined && !loaded.config.services.some((s) => s.name === service)) {
    throw unknownServiceError(loaded.config, service);
  }
  return loaded.file;
}
