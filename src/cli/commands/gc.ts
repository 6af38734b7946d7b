import type { Command } from 'commander';
import path from 'node:path';
import type { CliContext } from '../context.js';

interface GcCommandOptions {
  keep: string;
  dryRun?: boolean;
  json?: boolean;
}

export function registerGc(program: Command, ctx: CliContext): void {
  program
    .command('gc')
    .description("prune .service-pipelines/: what neither the last runs of each pipeline nor a local stage's current and last good releases need")
    .option('--keep <count>', 'executions kept per pipeline (their workspaces, artifacts, releases and installs)', '10')
    .option('--dry-run', 'print what would go, and the space it would free, and remove nothing')
    .option('--json', 'print the report as one JSON document')
    .addHelpText(
      'after',
      '\nThe history (state.db) is never pruned. While a run is going, only old run folders go; a run that starts during gc waits for it.',
    )
    .action(async (options: GcCommandOptions) => {
      const [{ collectGarbage }, { formatBytes }, { InputError }] = await Promise.all([import('../../local/gc.js'), import('../../local/state-size.js'), import('../../model/errors.js')]);
      const keep = Number(options.keep);
      if (!Number.isSafeInteger(keep) || keep < 1) {
        throw new InputError(`--keep ${options.keep}: not a whole number of 1 or more`, [{ where: '--keep', message: 'give how many executions of each pipeline to keep, such as 10' }]);
      }
      const report = await collectGarbage({ home: path.join(ctx.cwd, '.service-pipelines'), keep, dryRun: Boolean(options.dryRun) });
      if (options.json) {
        ctx.stdout.write(`${JSON.stringify({ schemaVersion: 1, ...report }, null, 2)}\n`);
        return;
      }
      const lines: string[] = [];
      const verb = report.dryRun ? 'would remove' : 'removed';
      lines.push(`${verb} ${report.items.length} item${report.items.length === 1 ? '' : 's'}, freeing ${formatBytes(report.bytes)} of ${report.home} (${formatBytes(report.before)}${report.after === null ? '' : ` → ${formatBytes(report.after)}`})`);
      for (const kind of report.byKind) {
        lines.push(`  ${`${kind.kind}s`.padEnd(18)} ${String(kind.count).padStart(6)}  ${formatBytes(kind.bytes)}`);
      }
      if (report.dryRun) {
        // Every path but the stored file contents, which are many and named by their digest.
        for (const item of report.items.filter((i) => i.kind !== 'artifact content')) {
          lines.push(`  ${item.kind}: ${item.path}`);
        }
      }
      lines.push(`kept: the last ${report.keep} execution${report.keep === 1 ? '' : 's'} of each pipeline (${report.keptExecutions} in all), what they use, and every current, last good and served release`);
      for (const note of report.notes) {
        lines.push(`note: ${note}`);
      }
      ctx.stdout.write(`${lines.join('\n')}\n`);
    });
}
