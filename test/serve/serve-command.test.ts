import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { tempFolder } from './support.js';

const cli = fileURLToPath(new URL('../../bin/service-pipelines.js', import.meta.url));
const built = existsSync(fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url)));

let work: { dir: string; cleanup: () => void };
beforeEach(() => {
  work = tempFolder();
  writeFileSync(
    path.join(work.dir, 'pipelines.config.json'),
    JSON.stringify({
      cicd: { account: '111111111111', region: 'us-east-1' },
      environments: [{ name: 'dev', account: '222222222222', region: 'us-east-1' }],
      services: [{ name: 'svc', flavor: 'custom', source: { path: './svc' }, commands: { package: 'true', deploy: 'true' } }],
    }),
  );
});
afterEach(() => work.cleanup());

describe('service-pipelines serve: bad input (exit 2, nothing listens)', () => {
  it('GIVEN an address beyond this machine and no token WHEN serve starts THEN exit 2 naming --token', async () => {
    const run = await runCli(['serve', '--config', 'pipelines.config.json', '--host', '0.0.0.0', '--port', '0'], { cwd: work.dir, env: { PATH: process.env.PATH } });

    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('a token is required');
    expect(run.stderr).toContain('--token');
  });

  it('GIVEN a bad port or a port in use WHEN serve starts THEN exit 2 naming --port', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const notANumber = await runCli(['serve', '--config', 'pipelines.config.json', '--port', 'eighty'], { cwd: work.dir });
      const inUse = await runCli(['serve', '--config', 'pipelines.config.json', '--port', String(port)], { cwd: work.dir });

      expect(notANumber.exitCode).toBe(2);
      expect(notANumber.stderr).toContain('--port: give a whole number from 0 to 65535');
      expect(inUse.exitCode).toBe(2);
      expect(inUse.stderr).toContain('the port is in use');
    } finally {
      taken.close();
    }
  });
});

describe.skipIf(!built)(`service-pipelines serve: the process${built ? '' : ' (skipped: the CLI is not built; npm run build)'}`, () => {
  it('GIVEN a config and a secret in the environment WHEN serve runs THEN it prints where it serves, answers, and stops on SIGTERM with exit 0', async () => {
    const child = spawn(process.execPath, [cli, 'serve', '--config', 'pipelines.config.json', '--port', '0'], {
      cwd: work.dir,
      env: { ...process.env, SERVICE_PIPELINES_WEBHOOK_SECRET: 'a-secret-from-the-environment' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    const deadline = Date.now() + 20_000;
    while (!/^history: /m.test(stdout) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const url = /^dashboard: (\S+)\/$/m.exec(stdout)?.[1];

    const pipelines = await fetch(`${url}/api/pipelines`);
    const unsigned = await fetch(`${url}/webhooks/github`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    child.kill('SIGTERM');

    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(stdout).toContain(`webhooks: ${url}/webhooks/github`);
    expect(pipelines.status).toBe(200);
    expect(((await pipelines.json()) as { pipelines: Array<{ name: string }> }).pipelines.map((p) => p.name)).toEqual(['svc', 'svc-pr']);
    expect(unsigned.status).toBe(401);
    expect(await exited).toBe(0);
  });
});
