import type { Command } from 'commander';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CliContext } from '../context.js';

interface InitOptions {
  force?: boolean;
}

/** Folders never searched for services. */
const SKIPPED = new Set(['node_modules', '.git', '.service-pipelines', '.pipeline', '.serverless', 'cdk.out', 'dist', 'coverage']);
/** How deep below the project folder services are looked for. */
const MAX_DEPTH = 3;
/** What `.gitignore` must hold: the local state, and what the steps write. */
const IGNORED = ['.service-pipelines/', '.pipeline/'];

/** A service found: its folder (relative, posix) and the name its pipeline gets. */
export interface FoundService {
  readonly name: string;
  readonly path: string;
  /** serverless.yml's `service:`, when it is a plain name other than `name`. */
  readonly serverlessService?: string;
}

export function registerInit(program: Command, ctx: CliContext): void {
  program
    .command('init')
    .description('write pipelines.config.ts for the services below this folder (folders with a serverless.yml), and git-ignore the local state')
    .option('--force', 'replace an existing pipelines.config.ts')
    .action(async (options: InitOptions) => {
      const [{ InputError }, { SERVERLESS_CONFIG_FILES, parseServerlessConfig, serverlessServiceOfConfig }] = await Promise.all([
        import('../../model/errors.js'),
        import('../../runtime/serverless-config.js'),
      ]);
      const configFile = path.join(ctx.cwd, 'pipelines.config.ts');
      if (!options.force && (await readFile(configFile).then(() => true, () => false))) {
        throw new InputError(`${configFile} exists already`, [{ where: 'pipelines.config.ts', message: 'edit it, or give --force to replace it' }]);
      }
      const folders = await serviceFolders(ctx.cwd, new Set(SERVERLESS_CONFIG_FILES));
      if (folders.length === 0) {
        throw new InputError(`no service below ${ctx.cwd}`, [
          { where: ctx.cwd, message: `no folder (up to ${MAX_DEPTH} levels down) has a ${SERVERLESS_CONFIG_FILES.slice(0, 2).join(' or ')}; run init in the project that holds your services` },
        ]);
      }
      const services: FoundService[] = [];
      let region: string | undefined;
      for (const folder of folders) {
        const name = uniqueName(pipelineName(folder.relative === '.' ? path.basename(ctx.cwd) : path.basename(folder.relative)), services);
        const parsed = await parseServerlessConfig(folder.configFile).catch(() => undefined);
        const reading = parsed ? serverlessServiceOfConfig(parsed, 'serverlessService') : undefined;
        const declared = parsed?.document.getIn(['provider', 'region']);
        if (region === undefined && typeof declared === 'string' && /^[a-z]{2}(-[a-z]+)+-\d+$/.test(declared)) region = declared;
        services.push({ name, path: folder.relative, ...(reading && 'name' in reading && reading.name !== name ? { serverlessService: reading.name } : {}) });
      }
      await writeFile(configFile, renderConfig(services, region ?? 'us-east-1'));
      const added = await ignoreLocalState(path.join(ctx.cwd, '.gitignore'));
      ctx.stdout.write(`wrote ${configFile} with ${services.length} service${services.length === 1 ? '' : 's'}: ${services.map((s) => `${s.name} (${s.path})`).join(', ')}\n`);
      ctx.stdout.write(added.length ? `added ${added.join(' and ')} to .gitignore\n` : '.gitignore already ignores the local state\n');
      ctx.stdout.write(
        `next: fill in the AWS accounts (TODO), then\n  npx service-pipelines doctor\n  npx service-pipelines run ${services[0]!.name} --until dev\n`,
      );
    });
}

/** The folders below `root` holding a serverless config, nearest first. */
async function serviceFolders(root: string, configNames: ReadonlySet<string>): Promise<Array<{ relative: string; configFile: string }>> {
  const found: Array<{ relative: string; configFile: string }> = [];
  const visit = async (relative: string, depth: number): Promise<void> => {
    const entries = await readdir(path.join(root, relative), { withFileTypes: true }).catch(() => []);
    const config = [...configNames].find((name) => entries.some((e) => e.isFile() && e.name === name));
    if (config) {
      found.push({ relative, configFile: path.join(root, relative, config) });
      return;
    }
    if (depth >= MAX_DEPTH) return;
    for (const entry of entries.filter((e) => e.isDirectory() && !SKIPPED.has(e.name) && !e.name.startsWith('.')).sort((a, b) => a.name.localeCompare(b.name))) {
      await visit(relative === '.' ? entry.name : `${relative}/${entry.name}`, depth + 1);
    }
  };
  await visit('.', 0);
  return found;
}

/** A pipeline name from a folder name: lower-case letters, digits and dashes, starting with a letter, at most 32. */
export function pipelineName(folder: string): string {
  const name = folder
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .replace(/-+/g, '-')
    .slice(0, 32)
    .replace(/-+$/, '');
  return name || 'service';
}

function uniqueName(name: string, taken: readonly FoundService[]): string {
  let candidate = name;
  for (let n = 2; taken.some((s) => s.name === candidate); n += 1) {
    candidate = `${name.slice(0, 32 - String(n).length - 1)}-${n}`;
  }
  return candidate;
}

/** The text of a first `pipelines.config.ts`: three environments, accounts left to fill in. */
export function renderConfig(services: readonly FoundService[], region: string): string {
  const service = (s: FoundService) =>
    [
      '    {',
      `      name: '${s.name}',`,
      ...(s.serverlessService ? [`      // Its stacks take serverless.yml's name (${s.serverlessService}-<env>), read from there.`] : []),
      `      source: { path: '${s.path === '.' ? '.' : `./${s.path}`}' },`,
      '      // For the AWS engine: source.github = { owner, repo, branch, connectionArn }.',
      '    },',
    ].join('\n');
  return `/**
 * The pipelines of this project's services: run them here with \`npx service-pipelines run <service>\`,
 * deploy them to AWS with \`npx service-pipelines synth\`. Every key is documented where your editor
 * shows it, and in the README's config reference.
 */
import { defineConfig } from 'service-pipelines';

export default defineConfig({
  // TODO: the AWS account that hosts the pipelines (local runs do not use it).
  cicd: { account: '111111111111', region: '${region}' },
  environments: [
    // TODO: each environment's own AWS account.
    { name: 'dev', account: '222222222222', region: '${region}' },
    { name: 'staging', account: '333333333333', region: '${region}' },
    { name: 'prod', account: '444444444444', region: '${region}', approval: true, rollbackOnFailure: true },
  ],
  services: [
${services.map(service).join('\n')}
  ],
});
`;
}

/** Add the local state folders to a `.gitignore` (made if missing); returns what was added. */
async function ignoreLocalState(file: string): Promise<string[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const lines = new Set(text.split('\n').map((l) => l.trim().replace(/^\//, '')));
  const missing = IGNORED.filter((entry) => !lines.has(entry) && !lines.has(entry.slice(0, -1)));
  if (missing.length > 0) {
    await writeFile(file, `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}${missing.join('\n')}\n`);
  }
  return missing;
}
