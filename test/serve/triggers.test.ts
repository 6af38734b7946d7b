import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/model/validate.js';
import { systemClock } from '../../src/runtime/clock.js';
import { nodeProcesses } from '../../src/runtime/process.js';
import { GitWatcher } from '../../src/serve/git-watcher.js';
import { CliRunStarter } from '../../src/serve/run-starter.js';
import { RecordingStarter, tempFolder } from './support.js';

let work: { dir: string; cleanup: () => void };
beforeEach(() => {
  work = tempFolder();
});
afterEach(() => work.cleanup());

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.com', '-c', 'init.defaultBranch=main', ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1' },
  }).trim();
}

function commitFile(dir: string, name: string, content: string): string {
  writeFileSync(path.join(dir, name), content);
  git(dir, 'add', name);
  git(dir, 'commit', '-q', '-m', `change ${name}`);
  return git(dir, 'rev-parse', 'HEAD');
}

function localConfig(services: Array<{ name: string; path: string; branch?: string }>) {
  return validateConfig({
    cicd: { account: '111111111111', region: 'us-east-1' },
    environments: [{ name: 'dev', account: '222222222222', region: 'us-east-1' }],
    services: services.map((s) => ({
      name: s.name,
      flavor: 'custom',
      source: {
        path: s.path,
        ...(s.branch ? { github: { owner: 'o', repo: 'r', branch: s.branch, githubTokenSecret: 'gh-token' } } : {}),
      },
      commands: { package: 'true', deploy: 'true' },
    })),
  });
}

describe('GitWatcher (serve --watch)', () => {
  it('GIVEN a local repository WHEN its branch gets a new commit THEN the pipeline starts once; the first commit seen is only the starting point', async () => {
    const repo = path.join(work.dir, 'svc');
    mkdirSync(repo);
    git(repo, 'init', '-q');
    const first = commitFile(repo, 'a.txt', 'one');
    const starter = new RecordingStarter();
    const lines: string[] = [];
    const watcher = new GitWatcher({ services: localConfig([{ name: 'svc', path: './svc' }]).services, baseDir: work.dir, processes: nodeProcesses, clock: systemClock, starter, log: (l) => lines.push(l) });

    const atStart = await watcher.poll();
    const unchanged = await watcher.poll();
    const second = commitFile(repo, 'b.txt', 'two');
    const afterCommit = await watcher.poll();

    expect(atStart).toEqual([]);
    expect(unchanged).toEqual([]);
    expect(afterCommit).toEqual(['svc']);
    expect(starter.requests).toEqual([{ service: 'svc', trigger: 'push', reason: expect.stringContaining(`commit ${second.slice(0, 7)} on main`), revision: second }]);
    expect(watcher.targets).toEqual([{ service: 'svc', folder: repo, branch: 'main', commit: second }]);
    expect(lines[0]).toContain(`watching svc: branch main at ${first.slice(0, 7)}`);
  });

  it('GIVEN source.github.branch WHEN another branch moves THEN nothing starts; when that branch moves THEN it does', async () => {
    const repo = path.join(work.dir, 'svc');
    mkdirSync(repo);
    git(repo, 'init', '-q');
    commitFile(repo, 'a.txt', 'one');
    git(repo, 'branch', 'release');
    const starter = new RecordingStarter();
    const watcher = new GitWatcher({ services: localConfig([{ name: 'svc', path: './svc', branch: 'release' }]).services, baseDir: work.dir, processes: nodeProcesses, clock: systemClock, starter });

    await watcher.poll();
    commitFile(repo, 'b.txt', 'on main');
    const mainMoved = await watcher.poll();
    git(repo, 'checkout', '-q', 'release');
    commitFile(repo, 'c.txt', 'on release');
    const releaseMoved = await watcher.poll();

    expect(mainMoved).toEqual([]);
    expect(releaseMoved).toEqual(['svc']);
  });

  it('GIVEN a folder outside git WHEN watched THEN it is reported once and skipped', async () => {
    mkdirSync(path.join(work.dir, 'plain'));
    const lines: string[] = [];
    const watcher = new GitWatcher({ services: localConfig([{ name: 'plain', path: './plain' }]).services, baseDir: work.dir, processes: nodeProcesses, clock: systemClock, starter: new RecordingStarter(), log: (l) => lines.push(l) });

    await watcher.poll();
    await watcher.poll();

    expect(lines.filter((l) => l.startsWith('not watching plain'))).toHaveLength(1);
  });

  it('GIVEN start() WHEN a commit lands THEN the polling loop starts the run; stop() ends the loop', async () => {
    const repo = path.join(work.dir, 'svc');
    mkdirSync(repo);
    git(repo, 'init', '-q');
    commitFile(repo, 'a.txt', 'one');
    const starter = new RecordingStarter();
    const watcher = new GitWatcher({ services: localConfig([{ name: 'svc', path: './svc' }]).services, baseDir: work.dir, processes: nodeProcesses, clock: systemClock, starter, intervalMs: 30 });

    watcher.start();
    while (watcher.targets[0]!.commit === undefined) {
      await new Promise((r) => setTimeout(r, 10));
    }
    commitFile(repo, 'b.txt', 'two');
    const deadline = Date.now() + 10_000;
    while (starter.requests.length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    await watcher.stop();

    expect(starter.requests.map((r) => r.service)).toEqual(['svc']);
  });
});

describe('CliRunStarter', () => {
  it('GIVEN a request WHEN started THEN the CLI runs as `run <service> --config F --json [--pull-request] [--queued-execution ID --revision SHA]` in its own process, its output in a file', async () => {
    const cli = path.join(work.dir, 'fake-cli.mjs');
    // A stand-in for bin/service-pipelines.js that prints what it was given: the starter's contract is its command line.
    writeFileSync(cli, "console.log(JSON.stringify({ argv: process.argv.slice(2), cwd: process.cwd(), secret: process.env.KEPT ?? null }));\n");
    const starter = new CliRunStarter({ processes: nodeProcesses, configFile: '/cfg/pipelines.config.ts', cwd: work.dir, outputDir: path.join(work.dir, 'out'), cliScript: cli, env: { ...process.env, KEPT: 'yes' } });

    const push = await starter.start({ service: 'api', trigger: 'push', reason: 'push abc to o/r@main' });
    const pr = await starter.start({ service: 'api', trigger: 'pull-request', reason: 'pull request #1' });
    const queued = await starter.start({ service: 'api', trigger: 'push', reason: 'push', executionId: 'exec-1', revision: 'a'.repeat(40) });
    await starter.whenIdle();

    expect(push.pid).toBeGreaterThan(0);
    expect(starter.active).toBe(0);
    const pushOutput = readFileSync(push.outputFile, 'utf8').split('\n');
    expect(pushOutput[0]).toBe('# push abc to o/r@main');
    expect(JSON.parse(pushOutput[2]!)).toEqual({ argv: ['run', 'api', '--config', '/cfg/pipelines.config.ts', '--json'], cwd: work.dir, secret: 'yes' });
    expect(JSON.parse(readFileSync(pr.outputFile, 'utf8').split('\n')[2]!).argv).toEqual(['run', 'api', '--config', '/cfg/pipelines.config.ts', '--json', '--pull-request']);
    // A queued run takes its record over, and runs the commit it was queued for; its output is named by it.
    expect(JSON.parse(readFileSync(queued.outputFile, 'utf8').split('\n')[2]!).argv).toEqual(['run', 'api', '--config', '/cfg/pipelines.config.ts', '--json', '--queued-execution', 'exec-1', '--revision', 'a'.repeat(40)]);
    expect(queued.outputFile).toMatch(/-api-exec-1\.log$/);
    expect(await queued.exited).toEqual({ code: 0, signal: null });
  });

  it('GIVEN runs still going WHEN the starter stops them (serve stopping) THEN each gets SIGTERM and is waited for', async () => {
    const cli = path.join(work.dir, 'slow-cli.mjs');
    // Stands in for a run waiting for an approval: it ends when told to, as `run` does on SIGTERM.
    writeFileSync(cli, "process.on('SIGTERM', () => { console.log('stopped'); process.exit(1); }); setTimeout(() => {}, 60_000); console.log('waiting');\n");
    const starter = new CliRunStarter({ processes: nodeProcesses, configFile: '/cfg/c.json', cwd: work.dir, outputDir: path.join(work.dir, 'out'), cliScript: cli });
    const run = await starter.start({ service: 'api', trigger: 'push', reason: 'test' });
    while (!readFileSync(run.outputFile, 'utf8').includes('waiting')) {
      await new Promise((r) => setTimeout(r, 10));
    }

    const started = Date.now();
    const stopped = await starter.stopAll();

    expect(stopped).toBe(1);
    expect(starter.active).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(readFileSync(run.outputFile, 'utf8')).toContain('stopped');
  });
});
