/**
 * End to end: a signed GitHub push starts a real run (`service-pipelines run`, a custom-flavor
 * service whose commands are plain shell), the dashboard in headless Chromium shows it progress,
 * the waiting approval is approved from the page, the run finishes, and a screenshot is taken.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext } from 'playwright-core';
import { StateStore } from '../../src/local/state-store.js';
import { systemClock } from '../../src/runtime/clock.js';
import { nodeProcesses } from '../../src/runtime/process.js';
import type { CliRunStarter } from '../../src/serve/run-starter.js';
import { startServe, type RunningServe } from '../../src/serve/serve.js';
import { loadConfig } from '../../src/runtime/load-config.js';
import { exampleOf, signedDelivery, tempFolder, TEST_SECRET } from './support.js';

const CHROMIUM = '/usr/bin/chromium';
const builtCli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const skipReason = !existsSync(CHROMIUM)
  ? `Chromium is not installed at ${CHROMIUM} (apt-get install chromium)`
  : !existsSync(builtCli)
    ? 'the CLI is not built (npm run build): runs are started as `service-pipelines run` processes'
    : undefined;
if (skipReason) {
  console.warn(`skipping the dashboard end-to-end test: ${skipReason}`);
}

describe.skipIf(skipReason !== undefined)(`dashboard end to end in headless Chromium${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let work: { dir: string; cleanup: () => void };
  let serve: RunningServe;
  let browser: BrowserContext;
  let profile: string;
  const log: string[] = [];

  beforeAll(async () => {
    work = tempFolder('sp-serve-e2e-');
    const source = path.join(work.dir, 'svc');
    mkdirSync(source);
    const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.com', '-c', 'init.defaultBranch=main', ...args], { cwd: source, env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1' } });
    git('init', '-q');
    writeFileSync(path.join(source, 'README.md'), '# svc\n');
    git('add', '-A');
    git('commit', '-q', '-m', 'initial');
    writeFileSync(
      path.join(work.dir, 'pipelines.config.json'),
      JSON.stringify({
        cicd: { account: '111111111111', region: 'us-east-1' },
        environments: [
          { name: 'dev', account: '222222222222', region: 'us-east-1' },
          { name: 'prod', account: '444444444444', region: 'us-east-1', approval: true },
        ],
        services: [
          {
            name: 'svc',
            flavor: 'custom',
            source: { path: './svc', github: { owner: 'Codertocat', repo: 'Hello-World', branch: 'master', githubTokenSecret: 'github-token' } },
            commands: {
              install: 'echo installing',
              // The server's secret must not reach the runs it starts.
              lint: ['echo linting the service', 'test -z "$SERVICE_PIPELINES_WEBHOOK_SECRET"', 'sleep 1'],
              testUnit: ['echo unit tests pass', 'sleep 1'],
              testIntegration: 'echo integration tests pass',
              package: ['mkdir -p .pipeline/Package', 'echo bundle > .pipeline/Package/bundle.txt'],
              deploy: 'echo "deploying to $STAGE"',
              testAcceptance: 'echo "acceptance tests pass on $STAGE"',
            },
          },
        ],
      }),
    );
    const loaded = await loadConfig('pipelines.config.json', work.dir);
    serve = await startServe({
      config: loaded.config,
      configFile: loaded.file,
      baseDir: loaded.baseDir,
      cwd: work.dir,
      home: path.join(work.dir, '.service-pipelines'),
      port: 0,
      secret: TEST_SECRET,
      env: { ...process.env, SERVICE_PIPELINES_WEBHOOK_SECRET: TEST_SECRET },
      processes: nodeProcesses,
      clock: systemClock,
      log: (line) => log.push(line),
    });
    const { chromium } = await import('playwright-core');
    profile = mkdtempSync(path.join(tmpdir(), 'sp-chromium-'));
    // A new, empty profile (playwright passes it as --user-data-dir).
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1400, height: 900 },
    });
  });

  afterAll(async () => {
    await browser?.close();
    await serve?.close();
    await (serve?.starter as CliRunStarter | undefined)?.whenIdle();
    if (profile) {
      rmSync(profile, { recursive: true, force: true });
    }
    work?.cleanup();
  });

  it('GIVEN a signed push WHEN the run progresses THEN the page shows it live, approves the approval, and sees it succeed', async () => {
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${serve.url}/`);
    await page.waitForSelector('body[data-ready="true"] [data-pipeline="svc"]');
    expect(await page.locator('[data-pipeline="svc"] .stage').count()).toBe(5);

    // GIVEN GitHub's push example, re-signed, for the followed repository and branch, naming the
    // clone's commit (the run takes the commit its push names).
    const pushed = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: path.join(work.dir, 'svc') }).toString().trim();
    const delivery = await signedDelivery('push', { ...exampleOf('push', (p) => p.ref === 'refs/heads/master'), after: pushed });
    const response = await fetch(`${serve.url}/webhooks/github`, { method: 'POST', headers: delivery.headers, body: delivery.body });
    expect(response.status).toBe(202);

    // The overview picks the new execution up; its page follows it live.
    const link = page.locator('[data-pipeline="svc"] a[href^="/executions/"]');
    await link.waitFor({ timeout: 30_000 });
    await link.click();
    await page.waitForSelector('body[data-ready="true"] #execution-id');
    const seen = new Set<string>();
    const watch = setInterval(() => {
      void page
        .locator('.stage[data-stage="Build"]')
        .getAttribute('data-status', { timeout: 200 })
        .then((s) => s && seen.add(s))
        .catch(() => undefined);
    }, 100);
    await page.waitForSelector('.stage[data-stage="Build"][data-status="SUCCEEDED"]', { timeout: 60_000 });
    await page.waitForSelector('#approve', { timeout: 60_000 });
    clearInterval(watch);
    expect(seen.has('IN_PROGRESS') || seen.has('WAITING') || seen.has('PENDING')).toBe(true);
    await expect.poll(() => page.locator('[data-log="Deploy-dev.Deploy"] pre').textContent(), { timeout: 10_000 }).toContain('deploying to dev');
    expect(await page.locator('body').getAttribute('data-execution-status')).toBe('AWAITING_APPROVAL');

    if (process.env.SERVE_SCREENSHOT_DIR) {
      await page.screenshot({ path: path.join(process.env.SERVE_SCREENSHOT_DIR, 'dashboard-approval.png') });
    }

    // WHEN the approval is approved from the page.
    await page.fill('#approval-comment', 'looks good');
    await page.click('#approve');

    // THEN the run goes on to prod and succeeds; the page sees it without a reload.
    await page.waitForSelector('body[data-execution-status="SUCCEEDED"]', { timeout: 60_000 });
    await page.waitForSelector('.stage[data-stage="Deploy-prod"][data-status="SUCCEEDED"]');
    await expect.poll(() => page.locator('[data-log="Deploy-prod.AcceptanceTests"] pre').textContent(), { timeout: 10_000 }).toContain('acceptance tests pass on prod');
    const executionId = (await page.locator('#execution-id').textContent())!;
    const store = StateStore.open(path.join(work.dir, '.service-pipelines'));
    try {
      expect(store.approval(executionId, 'Approve-prod', 'Approve')).toMatchObject({ status: 'APPROVED', summary: 'looks good', decidedBy: expect.stringContaining('dashboard') });
    } finally {
      store.close();
    }

    const screenshot = path.join(work.dir, 'dashboard.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    expect(statSync(screenshot).size).toBeGreaterThan(10_000);
    expect(readFileSync(screenshot).subarray(1, 4).toString('latin1')).toBe('PNG');
    if (process.env.SERVE_SCREENSHOT_DIR) {
      writeFileSync(path.join(process.env.SERVE_SCREENSHOT_DIR, 'dashboard-execution.png'), readFileSync(screenshot));
      await page.goto(`${serve.url}/`);
      await page.waitForSelector('[data-pipeline="svc"] .stage[data-status="SUCCEEDED"]');
      await page.screenshot({ path: path.join(process.env.SERVE_SCREENSHOT_DIR, 'dashboard-pipelines.png'), fullPage: true });
    }
    expect(pageErrors).toEqual([]);
  }, 150_000);
});
