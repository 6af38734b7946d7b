import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { CliContext } from '../context.js';

interface UpOptions {
  stop?: boolean;
  json?: boolean;
  httpPort?: string;
}

export function registerUp(program: Command, ctx: CliContext): void {
  program
    .command('up')
    .description('serve the current local releases again (serverless-offline, in the background), or stop them with --stop')
    .argument('[service]', 'only the stages of this service')
    .argument('[env]', 'only this environment')
    .option('--stop', 'stop the servers of these stages instead')
    .option('--http-port <port>', 'serve on this HTTP port (one stage only; default: a free port)')
    .option('--json', 'print the stages served as one JSON document')
    .action(async (service: string | undefined, env: string | undefined, options: UpOptions) => {
      const [{ listDeployments, serveRelease }, { stackOutputsOfServer, stopServer }, { openDeploymentRecords }, { InputError }, { nodeProcesses, nodeProcessTable }, { systemClock }] = await Promise.all([
        import('../../steps/local-deployments.js'),
        import('../../steps/local-server.js'),
        import('../../local/deployment-records.js'),
        import('../../model/errors.js'),
        import('../../runtime/process.js'),
        import('../../runtime/clock.js'),
      ]);
      const home = path.join(ctx.cwd, '.service-pipelines');
      const seams = { processes: nodeProcesses, processTable: nodeProcessTable, clock: systemClock };
      // Nothing deployed here: no history to open (and none to create).
      const records = existsSync(path.join(home, 'state.db')) ? await openDeploymentRecords(home) : undefined;
      try {
      const all = records ? await listDeployments(home, records, seams) : [];
      const stages = all.filter((s) => (service === undefined || s.service === service) && (env === undefined || s.environment === env));
      if (stages.length === 0) {
        const known = all.map((s) => `${s.service}/${s.environment}`);
        throw new InputError(`no local stage${service ? ` of ${service}${env ? `/${env}` : ''}` : ''} in ${path.join(home, 'stages')}`, [
          {
            where: service === undefined ? path.join(home, 'stages') : env === undefined ? 'service' : 'env',
            message: known.length ? `the local stages here: ${known.join(', ')}` : 'nothing was deployed here yet: run `service-pipelines run <service>` first',
          },
        ]);
      }
      let httpPort: number | undefined;
      if (options.httpPort !== undefined) {
        httpPort = Number(options.httpPort);
        if (!Number.isInteger(httpPort) || httpPort < 1 || httpPort > 65535) {
          throw new InputError(`--http-port ${options.httpPort}: not a port number`, [{ where: '--http-port', message: 'give a number from 1 to 65535' }]);
        }
        if (stages.length > 1) {
          throw new InputError(`--http-port serves one stage, and ${stages.length} match`, [
            { where: '--http-port', message: `name the service and environment: ${stages.map((s) => `${s.service} ${s.environment}`).join(', ')}` },
          ]);
        }
      }
      const report: Array<{
        service: string;
        environment: string;
        release?: number;
        url?: string;
        outputs?: Record<string, string>;
        lambdaEndpoint?: string;
        pid?: number;
        stopped?: boolean;
      }> = [];
      for (const stage of stages) {
        if (options.stop) {
          const stopped = await stopServer(home, stage.service, stage.environment, seams);
          report.push({ service: stage.service, environment: stage.environment, stopped });
          if (!options.json) {
            ctx.stdout.write(`${stage.service}/${stage.environment}: ${stopped ? 'stopped' : 'was not running'}\n`);
          }
        } else if (stage.current && records) {
          const { server, release } = await serveRelease(home, records, stage.service, stage.environment, seams, { env: ctx.env, ...(httpPort === undefined ? {} : { httpPort }) });
          // The URLs the stage's API answers on, as its stack outputs name them: REST routes under
          // /<env>, HTTP API routes at the root; a service without HTTP events has neither.
          const outputs = stackOutputsOfServer(server, release);
          const url = outputs.ServiceEndpoint ?? outputs.HttpApiUrl;
          const lambdaEndpoint = `http://127.0.0.1:${server.lambdaPort}`;
          report.push({ service: stage.service, environment: stage.environment, release: server.release, ...(url ? { url } : {}), outputs, lambdaEndpoint, pid: server.pid });
          if (!options.json) {
            const where = Object.entries(outputs).map(([key, value]) => `${key} ${value}`);
            ctx.stdout.write(
              `${stage.service}/${stage.environment}: release ${server.release} at ${where.length ? where.join(', ') : `${lambdaEndpoint} (Lambda endpoint: no HTTP events)`}  (pid ${server.pid})\n`,
            );
          }
        } else if (!options.json) {
          ctx.stdout.write(`${stage.service}/${stage.environment}: no release deployed yet\n`);
        }
      }
      if (options.json) {
        ctx.stdout.write(`${JSON.stringify({ schemaVersion: 1, stages: report }, null, 2)}\n`);
      } else if (!options.stop) {
        ctx.stdout.write(`they run in the background; stop them with: service-pipelines up${service ? ` ${service}` : ''}${env ? ` ${env}` : ''} --stop\n`);
      }
      } finally {
        records?.close();
      }
    });
}
