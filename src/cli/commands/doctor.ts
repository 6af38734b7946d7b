import type { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { CliContext } from '../context.js';

interface DoctorOptions {
  config: string;
  json?: boolean;
}

export function registerDoctor(program: Command, ctx: CliContext): void {
  program
    .command('doctor')
    .description('check a service before its first run: each problem with its fix (exit 1 when one would make the run fail)')
    .argument('[service]', 'a service of the config, or a service folder (default: every service of the config, else this folder)')
    .option('-c, --config <file>', 'the config file', 'pipelines.config.ts')
    .option('--json', 'print the findings as one JSON document')
    .action(async (service: string | undefined, options: DoctorOptions) => {
      const [{ diagnoseService }, { nodeProcesses }, { InputError }] = await Promise.all([
        import('../../steps/doctor.js'),
        import('../../runtime/process.js'),
        import('../../model/errors.js'),
      ]);
      type Target = { name: string; dir: string; options: Omit<Parameters<typeof diagnoseService>[0], 'dir' | 'processes' | 'env'> };
      const targets: Target[] = [];
      const configFile = path.resolve(ctx.cwd, options.config);
      const folder = service === undefined ? undefined : path.resolve(ctx.cwd, service);
      if (existsSync(configFile) && !(folder && isDirectory(folder))) {
        const { loadConfig } = await import('../../runtime/load-config.js');
        const { config, baseDir } = await loadConfig(options.config, ctx.cwd);
        const services = config.services.map((s, index) => ({ s, index })).filter(({ s }) => service === undefined || s.name === service);
        if (services.length === 0) {
          throw new InputError(`unknown service "${service}"; the config has: ${config.services.map((s) => s.name).join(', ')}`, [
            { where: 'service', message: 'give a service of the config, or a service folder' },
          ]);
        }
        for (const { s, index } of services) {
          if (s.source.path === undefined) {
            throw new InputError(`service "${s.name}" has no source.path: doctor checks the service's folder`, [{ where: `services[${index}].source.path`, message: 'give the folder of the service, relative to the config file' }]);
          }
          const environments = config.environments.filter((e) => s.environments === undefined || s.environments.includes(e.name)).map((e) => ({ name: e.name, region: e.region }));
          targets.push({
            name: s.name,
            dir: path.resolve(baseDir, s.source.path),
            options: { flavor: s.flavor ?? 'serverless', ...(s.commands ? { commands: s.commands } : {}), configKey: `services[${index}]`, environments },
          });
        }
      } else {
        const dir = folder ?? ctx.cwd;
        if (!isDirectory(dir)) {
          throw new InputError(`no service folder at ${dir}`, [{ where: 'service', message: `give a service folder, or a service of ${options.config}` }]);
        }
        targets.push({ name: path.basename(dir), dir, options: {} });
      }
      const report = [];
      for (const target of targets) {
        const findings = await diagnoseService({ dir: target.dir, ...target.options, processes: nodeProcesses, env: ctx.env });
        report.push({ service: target.name, dir: target.dir, findings });
      }
      const errors = report.flatMap((r) => r.findings).filter((f) => f.level === 'error').length;
      if (options.json) {
        ctx.stdout.write(`${JSON.stringify({ schemaVersion: 1, services: report }, null, 2)}\n`);
      } else {
        for (const { service: name, dir, findings } of report) {
          ctx.stdout.write(`${name} (${path.relative(ctx.cwd, dir) || '.'})\n`);
          const passed = findings.filter((f) => f.level === 'ok').map((f) => f.check);
          for (const finding of findings.filter((f) => f.level !== 'ok')) {
            ctx.stdout.write(`  ${finding.level === 'error' ? '✖' : '!'} ${finding.check}: ${finding.problem}${finding.where ? `\n      at ${finding.where}` : ''}\n      fix: ${finding.fix!.split('\n').join('\n           ')}\n`);
          }
          ctx.stdout.write(`  ✔ ${[...new Set(passed)].join(', ') || 'nothing passed'}\n`);
        }
        const warnings = report.flatMap((r) => r.findings).filter((f) => f.level === 'warning').length;
        ctx.stdout.write(`${errors} problem${errors === 1 ? '' : 's'} that would fail a run, ${warnings} warning${warnings === 1 ? '' : 's'}\n`);
      }
      if (errors > 0) ctx.exitCode = 1;
    });
}

function isDirectory(file: string): boolean {
  return statSync(file, { throwIfNoEntry: false })?.isDirectory() ?? false;
}
