import { appendFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { println } from '../context.js';

interface LastGoodOptions {
  stage: string;
  artifact: string;
}

/** `service-pipelines github ...`: what the GitHub Actions workflows run besides the steps. */
export function registerGitHub(program: Command, ctx: CliContext): void {
  const github = program.command('github').description('commands the generated GitHub Actions workflows run (besides `step`)');
  github
    .command('last-good')
    .description("in a rollback job: find the last run that passed the stage, and its package's digest (GITHUB_REPOSITORY, GITHUB_RUN_ID, GITHUB_TOKEN)")
    .requiredOption('--stage <name>', 'the plan stage whose acceptance tests must have passed (Deploy-prod)')
    .option('--artifact <name>', 'the package artifact', 'Package')
    .action(async (options: LastGoodOptions) => {
      const { findLastGoodRelease, lastGoodOutputs } = await import('../../github/last-good-release.js');
      const release = await findLastGoodRelease(
        {
          repository: ctx.env['GITHUB_REPOSITORY'] ?? '',
          runId: ctx.env['GITHUB_RUN_ID'] ?? '',
          token: ctx.env['GITHUB_TOKEN'] ?? '',
          stage: options.stage,
          artifact: options.artifact,
          ...(ctx.env['GITHUB_API_URL'] ? { apiUrl: ctx.env['GITHUB_API_URL'] } : {}),
        },
        (url, init) => fetch(url, init),
      );
      println(ctx.stdout, `the last good release of ${options.stage}: run ${release.runNumber} (${release.url}), commit ${release.headSha}, package manifest sha256 ${release.manifestSha256}`);
      const outputFile = ctx.env['GITHUB_OUTPUT'];
      if (outputFile) appendFileSync(outputFile, lastGoodOutputs(release));
    });
}
