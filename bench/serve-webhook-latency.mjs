/**
 * Webhook to run started: how long after GitHub's POST a run is going.
 *
 *   npm run build && node bench/serve-webhook-latency.mjs [rounds=20]
 *
 * `serve` (in this process, as the CLI assembles it) receives a signed push (GitHub's example
 * payload, re-signed) and starts `service-pipelines run` as a process of its own. Measured, per
 * delivery:
 *   - 202: until the response (the run is recorded QUEUED with the delivery, and its process is
 *     spawned; GitHub's timeout is 10 s);
 *   - in progress: until the run's process took its record over (IN_PROGRESS).
 * Compared with the floor: starting the CLI itself (`service-pipelines --version`).
 * Each run is stopped (SIGTERM) once recorded, so that the next delivery starts from idle.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Webhooks } from '@octokit/webhooks';
import { StateStore } from '../dist/local/state-store.js';
import { systemClock } from '../dist/runtime/clock.js';
import { nodeProcesses } from '../dist/runtime/process.js';
import { loadConfig } from '../dist/runtime/load-config.js';
import { startServe } from '../dist/serve/serve.js';
import { ms, summary, workFolder } from './serve-fixture.mjs';

const rounds = Number(process.argv[2] ?? 20);
const secret = 'bench-webhook-secret';
const examples = createRequire(import.meta.url)('@octokit/webhooks-examples');
const push = examples.find((d) => d.name === 'push').examples.find((p) => p.ref === 'refs/heads/master');
const cli = fileURLToPath(new URL('../bin/service-pipelines.js', import.meta.url));

const work = workFolder();
const loaded = await loadConfig(work.configFile, work.dir);
const serve = await startServe({
  config: loaded.config,
  configFile: loaded.file,
  baseDir: loaded.baseDir,
  cwd: work.dir,
  home: work.home,
  port: 0,
  secret,
  env: process.env,
  processes: nodeProcesses,
  clock: systemClock,
  log: () => undefined,
});
const store = StateStore.open(work.home);
const webhooks = new Webhooks({ secret });

const responded = [];
const recorded = [];
try {
  for (let round = 0; round < rounds; round++) {
    const body = JSON.stringify(push);
    const headers = {
      'content-type': 'application/json',
      'x-github-event': 'push',
      'x-github-delivery': `bench-${round}-${Date.now()}`,
      'x-hub-signature-256': await webhooks.sign(body),
    };
    const before = new Set(store.executions({ limit: 5 }).map((e) => e.id));
    const t0 = performance.now();
    const response = await fetch(`${serve.url}/webhooks/github`, { method: 'POST', headers, body });
    const t1 = performance.now();
    const reply = await response.json();
    if (response.status !== 202) {
      throw new Error(`delivery ${round}: ${response.status} ${JSON.stringify(reply)}`);
    }
    let execution;
    while (!(execution = store.executions({ limit: 1 }).find((e) => !before.has(e.id) && e.status !== 'QUEUED'))) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    const t2 = performance.now();
    responded.push(t1 - t0);
    recorded.push(t2 - t0);
    process.kill(reply.started[0].pid, 'SIGTERM');
    while (['QUEUED', 'IN_PROGRESS', 'AWAITING_APPROVAL'].includes(store.execution(execution.id).status)) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  await serve.starter.whenIdle();
} finally {
  store.close();
  await serve.close();
}

const floor = [];
for (let i = 0; i < 10; i++) {
  const t0 = performance.now();
  spawnSync(process.execPath, [cli, '--version']);
  floor.push(performance.now() - t0);
}
rmSync(work.dir, { recursive: true, force: true });

const rows = [
  ['webhook → 202 (run recorded QUEUED, spawned)', summary(responded)],
  ['webhook → run took its record (IN_PROGRESS)', summary(recorded)],
  ['floor: `service-pipelines --version` process', summary(floor)],
];
console.log(`webhook to run started, ${rounds} deliveries (Node ${process.version}, ${(await import('node:os')).cpus().length} CPUs)`);
for (const [name, s] of rows) {
  console.log(`  ${name.padEnd(46)} median ${ms(s.median).padStart(9)}   p10 ${ms(s.p10).padStart(9)}   p90 ${ms(s.p90).padStart(9)}   (n=${s.n})`);
}
