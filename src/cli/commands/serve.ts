import type { Command } from 'commander';
import { InputError } from '../../model/errors.js';
import type { CliContext } from '../context.js';
import { println } from '../context.js';

interface ServeCommandOptions {
  config: string;
  port: string;
  host: string;
  secret?: string;
  token?: string;
  watch?: boolean;
  watchInterval: string;
}

export function registerServe(program: Command, ctx: CliContext): void {
  program
    .command('serve')
    .description('receive GitHub webhooks (push, pull_request) and serve the dashboard of local runs')
    .option('-c, --config <file>', 'the config file', 'pipelines.config.ts')
    .option('-p, --port <port>', 'the port (0 picks a free one)', '8080')
    .option('--host <address>', 'the address to bind; anything but a loopback address needs --token', '127.0.0.1')
    .option('--secret <secret>', 'the GitHub webhook secret (prefer the SERVICE_PIPELINES_WEBHOOK_SECRET variable: arguments show in `ps`)')
    .option('--token <token>', 'the dashboard token, at least 16 characters (or SERVICE_PIPELINES_DASHBOARD_TOKEN)')
    .option('--watch', "start a service's pipeline when its branch's commit changes in its local repository")
    .option('--watch-interval <seconds>', 'how often --watch looks at the repositories', '2')
    .addHelpText(
      'after',
      [
        '',
        'Webhooks: POST /webhooks/github, content type application/json, with the secret set on GitHub.',
        'A push to a service\'s branch (source.github) runs its pipeline; a pull request opened, synchronized',
        'or reopened runs its test-only pipeline. Runs are `service-pipelines run` processes started here,',
        'recorded in ./.service-pipelines/ like any run.',
        'JSON API (for scripts too): GET /api/pipelines (and /api/pipelines/events), GET /api/executions?pipeline=&limit=, GET /api/executions/<id>,',
        'GET /api/executions/<id>/logs/<stage>/<action>?offset=, GET /api/executions/<id>/events (Server-Sent Events),',
        'POST /api/executions/<id>/approval {"decision": "approve"|"reject", "summary": "..."}.',
      ].join('\n'),
    )
    .action(async (options: ServeCommandOptions) => {
      const port = Number(options.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        throw new InputError(`--port ${options.port} is not a port`, [{ where: '--port', message: 'give a whole number from 0 to 65535' }]);
      }
      const watchSeconds = Number(options.watchInterval);
      if (!Number.isFinite(watchSeconds) || watchSeconds < 0.1 || watchSeconds > 3600) {
        throw new InputError(`--watch-interval ${options.watchInterval} is not a duration`, [{ where: '--watch-interval', message: 'give seconds, from 0.1 to 3600' }]);
      }
      const [{ loadConfig }, { startServe, SERVE_ENV }, { STATE_FOLDER }, { nodeProcesses }, { systemClock }, path] = await Promise.all([
        import('../../runtime/load-config.js'),
        import('../../serve/serve.js'),
        import('../../local/engine.js'),
        import('../../runtime/process.js'),
        import('../../runtime/clock.js'),
        import('node:path'),
      ]);
      const secret = options.secret ?? nonEmpty(ctx.env[SERVE_ENV.webhookSecret]);
      const token = options.token ?? nonEmpty(ctx.env[SERVE_ENV.dashboardToken]);
      const loaded = await loadConfig(options.config, ctx.cwd);
      const home = path.join(ctx.cwd, STATE_FOLDER);
      let serve;
      try {
        serve = await startServe({
          config: loaded.config,
          configFile: loaded.file,
          baseDir: loaded.baseDir,
          cwd: ctx.cwd,
          home,
          host: options.host,
          port,
          ...(secret === undefined ? {} : { secret }),
          ...(token === undefined ? {} : { token }),
          watch: Boolean(options.watch),
          watchIntervalMs: Math.round(watchSeconds * 1000),
          env: ctx.env,
          processes: nodeProcesses,
          clock: systemClock,
          log: (line) => println(ctx.stderr, `${new Date().toISOString()} ${line}`),
        });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL' || code === 'EACCES') {
          throw new InputError(`cannot listen on ${options.host}:${port} (${code})`, [
            { where: code === 'EADDRNOTAVAIL' ? '--host' : '--port', message: code === 'EADDRINUSE' ? 'the port is in use: give another --port' : 'give another address or port' },
          ]);
        }
        throw error;
      }
      println(ctx.stdout, `dashboard: ${serve.url}/${token === undefined ? '' : '  (open it with ?token=<token> once)'}`);
      println(ctx.stdout, secret === undefined ? 'webhooks: off (give --secret or SERVICE_PIPELINES_WEBHOOK_SECRET)' : `webhooks: ${serve.url}/webhooks/github`);
      if (serve.watcher) {
        println(ctx.stdout, `watching: ${serve.watcher.targets.map((t) => t.service).join(', ') || 'no service has a source.path'}`);
      }
      println(ctx.stdout, `history: ${path.join(home, 'state.db')}`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.removeListener('SIGINT', stop);
          process.removeListener('SIGTERM', stop);
          resolve();
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      println(ctx.stderr, 'stopping');
      const stopped = await serve.close();
      if (stopped > 0) {
        println(ctx.stderr, `stopped ${stopped} run${stopped === 1 ? '' : 's'} still going (see \`service-pipelines history\`)`);
      }
    });
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
