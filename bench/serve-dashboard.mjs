/* global document -- the functions given to waitForFunction run in the page */
/**
 * The dashboard with a long history: first paint, API latency and update latency with 1,000
 * executions in the history, side by side with 10.
 *
 *   npm run build && node bench/serve-dashboard.mjs [rounds=20]
 *
 * Needs Chromium at /usr/bin/chromium (skipped, with the reason, otherwise). The history is
 * recorded through the local engine's store API into a temp folder. Measured:
 *   - first paint: `first-contentful-paint` of the pipelines page and the time until its data is
 *     drawn (`data-ready`), on a fresh page each round; the same for a pipeline's history (100 rows);
 *   - API: GET /api/pipelines, /api/executions?pipeline=svc&limit=100, /api/executions/:id;
 *   - update latency, on the page of a running execution: a log line appended to an action's
 *     log file until it is on the page (Server-Sent Events), and an action's status changed in
 *     the store until the page shows it; on the pipelines page (its own event stream, every 500 ms), a status change.
 *     (The page is checked every 5 ms, so each latency is exact to about 5 ms.)
 */
import { appendFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { StateStore } from '../dist/local/state-store.js';
import { systemClock } from '../dist/runtime/clock.js';
import { nodeProcesses } from '../dist/runtime/process.js';
import { loadConfig } from '../dist/runtime/load-config.js';
import { startServe } from '../dist/serve/serve.js';
import { ms, recordHistory, summary, workFolder } from './serve-fixture.mjs';

const CHROMIUM = '/usr/bin/chromium';
if (!existsSync(CHROMIUM)) {
  console.log(`skipped: Chromium is not installed at ${CHROMIUM} (apt-get install chromium)`);
  process.exit(0);
}
const rounds = Number(process.argv[2] ?? 20);
const { chromium } = await import('playwright-core');
const profile = mkdtempSync(path.join(tmpdir(), 'sp-bench-chromium-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1400, height: 900 },
});

const results = {};
try {
  for (const size of [10, 1000]) {
    results[size] = await measure(size);
  }
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}

const names = Object.keys(results[10]);
console.log(`dashboard responsiveness, median of ${rounds} (p90 in brackets); Node ${process.version}, ${(await import('node:os')).cpus().length} CPUs`);
console.log(`  ${'measure'.padEnd(52)} ${'10 executions'.padStart(22)} ${'1,000 executions'.padStart(22)}`);
for (const name of names) {
  const cell = (s) => `${ms(s.median)} [${ms(s.p90)}]`.padStart(22);
  console.log(`  ${name.padEnd(52)} ${cell(results[10][name])} ${cell(results[1000][name])}`);
}

/**
 * Wait a random time before a change: the server looks for changes on a period, and a change
 * made right after the page got the previous one would always wait a whole period.
 */
function settle(periodMs = 400) {
  return new Promise((resolve) => setTimeout(resolve, Math.random() * periodMs));
}

async function measure(size) {
  const work = workFolder();
  const loaded = await loadConfig(work.configFile, work.dir);
  const runningId = recordHistory(work.home, loaded.config, size, { running: true });
  const serve = await startServe({
    config: loaded.config,
    configFile: loaded.file,
    baseDir: loaded.baseDir,
    cwd: work.dir,
    home: work.home,
    port: 0,
    env: process.env,
    processes: nodeProcesses,
    clock: systemClock,
    log: () => undefined,
  });
  const store = StateStore.open(work.home);
  const out = {};
  try {
    const paint = [];
    const drawn = [];
    const historyDrawn = [];
    for (let i = 0; i < rounds; i++) {
      const page = await browser.newPage();
      const t0 = Date.now();
      await page.goto(`${serve.url}/`);
      await page.waitForSelector('body[data-ready="true"] [data-pipeline="svc"] .stage');
      drawn.push(Date.now() - t0);
      paint.push(await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN));
      const t1 = Date.now();
      await page.goto(`${serve.url}/pipelines/svc`);
      await page.waitForSelector('body[data-ready="true"] #history tbody tr');
      historyDrawn.push(Date.now() - t1);
      await page.close();
    }
    out['pipelines page: first contentful paint'] = summary(paint);
    out['pipelines page: data drawn (navigation → ready)'] = summary(drawn);
    out['history page (100 rows): data drawn'] = summary(historyDrawn);

    for (const [name, url] of [
      ['GET /api/pipelines', '/api/pipelines'],
      ['GET /api/executions?pipeline=svc&limit=100', '/api/executions?pipeline=svc&limit=100'],
      ['GET /api/executions/:id', `/api/executions/${runningId}`],
    ]) {
      const times = [];
      for (let i = 0; i < rounds; i++) {
        const t0 = performance.now();
        const response = await fetch(`${serve.url}${url}`);
        await response.arrayBuffer();
        times.push(performance.now() - t0);
      }
      out[name] = summary(times);
    }

    // Update latency on a running execution's page (SSE).
    const page = await browser.newPage();
    await page.goto(`${serve.url}/executions/${runningId}`);
    await page.waitForSelector('body[data-ready="true"] [data-log="Build.Lint"]');
    const logFile = store.actions(runningId).find((a) => a.name === 'Lint').logFile;
    const logLatency = [];
    for (let i = 0; i < rounds; i++) {
      const marker = `bench marker ${i} ${Math.random()}`;
      const waiting = page.waitForFunction((text) => document.querySelector('[data-log="Build.Lint"] pre')?.textContent?.includes(text), marker, { polling: 5 });
      await settle();
      const t0 = Date.now();
      appendFileSync(logFile, `${marker}\n`);
      await waiting;
      logLatency.push(Date.now() - t0);
    }
    out['execution page: log line → on the page (SSE)'] = summary(logLatency);
    const statusLatency = [];
    for (let i = 0; i < rounds; i++) {
      const status = i % 2 === 0 ? 'SUCCEEDED' : 'IN_PROGRESS';
      const waiting = page.waitForFunction((s) => document.querySelector('.action[data-stage="Build"][data-action="Package"]')?.getAttribute('data-status') === s, status, { polling: 5 });
      await settle();
      const t0 = Date.now();
      store.updateAction(runningId, 'Build', 'Package', { status });
      await waiting;
      statusLatency.push(Date.now() - t0);
    }
    out['execution page: action status → on the page (SSE)'] = summary(statusLatency);
    await page.close();

    const overview = await browser.newPage();
    await overview.goto(`${serve.url}/`);
    await overview.waitForSelector('body[data-ready="true"] [data-pipeline="svc"] .stage');
    const overviewLatency = [];
    for (let i = 0; i < Math.min(rounds, 10); i++) {
      const status = i % 2 === 0 ? 'FAILED' : 'IN_PROGRESS';
      const waiting = overview.waitForFunction((s) => document.querySelector('[data-pipeline="svc"] .action[data-stage="Build"][data-action="Lint"]')?.getAttribute('data-status') === s, status, { polling: 5 });
      await settle(1000);
      const t0 = Date.now();
      store.updateAction(runningId, 'Build', 'Lint', { status });
      await waiting;
      overviewLatency.push(Date.now() - t0);
    }
    out['pipelines page: action status → on the page (SSE)'] = summary(overviewLatency);
    await overview.close();
  } finally {
    store.close();
    await serve.close();
    rmSync(work.dir, { recursive: true, force: true });
  }
  return out;
}
