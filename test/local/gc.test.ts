/**
 * `service-pipelines gc`: what the last runs of each pipeline and the local stages need stays,
 * the rest of the state folder goes; `--dry-run` says what would go and frees nothing.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/local/events.js';
import { collectGarbage } from '../../src/local/gc.js';
import { openDeploymentRecords } from '../../src/local/deployment-records.js';
import { listExecutions, showExecution } from '../../src/local/history.js';
import { GC_LOCK } from '../../src/local/maintenance.js';
import { stateFolderSize } from '../../src/local/state-size.js';
import { StateStore } from '../../src/local/state-store.js';
import { nodeProcessTable } from '../../src/runtime/process.js';
import { InstallCache } from '../../src/steps/install-cache.js';
import { runCli } from '../support/cli.js';
import { customConfig, gitRepository, shellRunOptions, tempFolder, writeArtifact, writeFiles, runPlanned } from './helpers.js';

let work: { dir: string; cleanup: () => void };
let source: string;
let home: string;

beforeEach(() => {
  work = tempFolder('sp-gc-');
  source = path.join(work.dir, 'svc');
  home = path.join(work.dir, '.service-pipelines');
  gitRepository(source, { 'README.md': '# svc\n', 'package-lock.json': '{"lockfileVersion":3}\n' });
});
afterEach(() => work.cleanup());

/** A run whose Package holds its own bundle (`bundle-<n>`, 64 kB), until dev. */
async function run(n: number, extra: { onEvent?: (event: RunEvent) => void } = {}): Promise<string> {
  const config = customConfig(source);
  const bundle = `bundle-${n}-${'x'.repeat(64_000)}`;
  const commands = { 'Build.Package': [writeArtifact('Package', 'bundle.txt', bundle)], 'Deploy-dev.Deploy': [writeArtifact('Outputs_dev', 'stack-outputs.json', '{}')] };
  const result = await runPlanned(shellRunOptions(config, commands, { baseDir: work.dir, home }, { until: 'dev', ...extra }));
  expect(result.status).toBe('SUCCEEDED');
  // What a run that failed keeps besides its logs: its workspace.
  writeFiles(path.join(home, 'runs', result.executionId, 'work'), { 'Build/Lint/src/scratch.txt': 'a workspace' });
  return result.executionId;
}

/**
 * Local releases as the deploy step makes them (src/steps/local-releases.ts): release n made by
 * execution ids[n - 1], each made current in turn, `lastGood` marked good when it was current.
 */
async function releases(ids: readonly string[], current: number, lastGood: number, installOf: Record<number, string>): Promise<string> {
  const stage = path.join(home, 'stages', 'svc', 'dev');
  const records = await openDeploymentRecords(home);
  try {
    for (const [index, id] of ids.entries()) {
      const folder = path.join(stage, 'releases', String(index + 1));
      writeFiles(folder, { 'release.json': JSON.stringify({ release: index + 1, executionId: id }), 'bundle/app.zip': 'z'.repeat(10_000) });
      const key = installOf[index + 1];
      if (key) symlinkSync(path.join(home, 'cache', key, 'node_modules'), path.join(folder, 'node_modules'), 'dir');
      // Recorded by deploys of their own (a run's records refuse changes once it has ended).
      if (index + 1 <= current) {
        expect(await records.makeCurrent({ service: 'svc', environment: 'dev', release: index + 1, packageSha256: 'a', executionId: `deploy-${index + 1}`, at: Date.now() })).toBe(true);
      }
      if (index + 1 === lastGood) expect(await records.markGood('svc', 'dev', `deploy-${index + 1}`, Date.now())).toBe(lastGood);
    }
  } finally {
    records.close();
  }
  writeFiles(path.join(stage, 'releases'), { '.tmp-123-abcd/partial': 'half a release' });
  return stage;
}

function install(key: string): string {
  const folder = path.join(home, 'cache', key);
  writeFiles(folder, { 'node_modules/osls/index.js': 'm'.repeat(20_000) });
  return folder;
}

describe('service-pipelines gc', () => {
  it('GIVEN four runs, releases and installs WHEN gc keeps 2 runs (first as a dry run) THEN only what the last 2 runs and the current and last good releases need stays, and the dry run removed nothing', async () => {
    const ids = [await run(1), await run(2), await run(3), await run(4)];
    const store = StateStore.open(home);
    const packageOf = (id: string) => store.artifacts(id).find((a) => a.name === 'Package')!;
    const [oldPackage, keptPackage] = [packageOf(ids[0]!), packageOf(ids[3]!)];
    const keptSource = store.artifacts(ids[3]!).find((a) => a.name === 'Source')!;
    store.close();
    const lockKey = (await InstallCache.keyOf(source))!;
    install(lockKey);
    install('f'.repeat(32));
    install('0'.repeat(32));
    writeFiles(path.join(home, 'cache'), { '.tmp-dead-install/x': 'leftover' });
    const stage = await releases(ids, 4, 1, { 1: 'f'.repeat(32) });
    writeFiles(path.join(home, 'serve', 'runs'), { [`2026-12-01T00-00-00-000Z-1-svc-${ids[0]}.log`]: 'old', [`2026-12-01T00-00-01-000Z-2-svc-${ids[3]}.log`]: 'kept' });
    const before = stateFolderSize(home);

    const dry = await collectGarbage({ home, keep: 2, dryRun: true });

    expect(stateFolderSize(home)).toBe(before);
    const gone = (kind: string) => dry.items.filter((i) => i.kind === kind).map((i) => path.relative(home, i.path)).sort();
    // The workspaces of the runs not kept; their logs are history.
    expect(gone('run folder')).toEqual([ids[0]!, ids[1]!].map((id) => path.join('runs', id, 'work')).sort());
    expect(gone('release')).toEqual([path.join('stages', 'svc', 'dev', 'releases', '2')]);
    expect(gone('install')).toEqual([path.join('cache', '0'.repeat(32))]);
    expect(gone('leftover')).toEqual([path.join('cache', '.tmp-dead-install'), path.join('stages', 'svc', 'dev', 'releases', '.tmp-123-abcd')].sort());
    expect(gone('serve output')).toEqual([path.join('serve', 'runs', `2026-12-01T00-00-00-000Z-1-svc-${ids[0]}.log`)]);
    const artifactsOf = (some: readonly string[]) => {
      const s = StateStore.open(home);
      try {
        return new Set(some.flatMap((id) => s.artifacts(id).map((a) => a.digest.slice('sha256:'.length))));
      } finally {
        s.close();
      }
    };
    const keptTrees = artifactsOf(ids.slice(2));
    const oldTrees = [...artifactsOf(ids.slice(0, 2))].filter((hex) => !keptTrees.has(hex));
    expect(oldTrees.length).toBeGreaterThanOrEqual(2);
    expect(gone('artifact')).toEqual(oldTrees.flatMap((hex) => [path.join('artifacts', 'trees', hex), path.join('artifacts', 'trees', `${hex}.json`)]).sort());
    // Each old bundle's content (64 kB) is freed with its run, nothing the kept runs share.
    expect(dry.bytes).toBeGreaterThan(2 * 64_000);
    expect(dry.keptExecutions).toBe(2);

    const done = await collectGarbage({ home, keep: 2 });

    expect(done.items.map((i) => i.path).sort()).toEqual(dry.items.map((i) => i.path).sort());
    expect(done.items.every((i) => !existsSync(i.path))).toBe(true);
    // What it said it freed is what the folder lost (give or take the history's own growth).
    expect(done.before - done.after!).toBeGreaterThan(done.bytes * 0.75);
    expect(done.before - done.after!).toBeLessThan(done.bytes * 1.25);
    expect(existsSync(path.join(home, 'artifacts', 'trees', oldPackage.digest.slice(7)))).toBe(false);
    // What stays is whole: the kept runs' artifacts, the current and last good releases and their installs.
    expect(readFileSync(path.join(home, 'artifacts', 'trees', keptPackage.digest.slice(7), 'bundle.txt'), 'utf8')).toMatch(/^bundle-4-/);
    expect(readFileSync(path.join(home, 'artifacts', 'trees', keptSource.digest.slice(7), 'README.md'), 'utf8')).toBe('# svc\n');
    expect(readdirSync(path.join(stage, 'releases')).sort()).toEqual(['1', '3', '4']);
    expect(readFileSync(path.join(stage, 'releases', '1', 'node_modules', 'osls', 'index.js'), 'utf8')).toHaveLength(20_000);
    expect(existsSync(path.join(home, 'cache', lockKey))).toBe(true);
    // The history is never pruned, logs included.
    expect((await listExecutions({ home })).map((e) => e.id).sort()).toEqual([...ids].sort());
    const pruned = await showExecution({ home, executionId: ids[0]! });
    expect(pruned.stages[1]!.actions.find((a) => a.name === 'Package')!.log).toContain('Running command mkdir -p .pipeline/Package');
    // A run after gc reuses what stayed.
    expect(await run(5)).toBeTruthy();
  });

  it('GIVEN a run going WHEN gc runs THEN only the folders of runs not kept go, and it says why the rest stayed', async () => {
    const old = await run(1);
    const store = StateStore.open(home);
    store.createExecution({
      id: 'going',
      pipeline: 'svc',
      service: 'svc',
      trigger: 'push',
      executionMode: 'SUPERSEDED',
      process: nodeProcessTable.identify(process.ppid)!,
      processScope: nodeProcessTable.scope(),
      configFile: 'c',
      sourcePath: source,
      startedAt: Date.now(),
      stages: [],
    });
    store.close();

    const trees = readdirSync(path.join(home, 'artifacts', 'trees')).sort();
    const report = await collectGarbage({ home, keep: 1 });

    expect(report.items).toEqual([{ kind: 'run folder', path: path.join(home, 'runs', old, 'work') }]);
    expect(report.notes[0]).toMatch(/^1 run is going \(going\): stored artifacts, releases and installs left alone/);
    expect(existsSync(path.join(home, 'runs', old, 'work'))).toBe(false);
    expect(existsSync(path.join(home, 'runs', old, 'logs'))).toBe(true);
    expect(readdirSync(path.join(home, 'artifacts', 'trees')).sort()).toEqual(trees);
  });

  it('GIVEN gc at work WHEN a run starts THEN it waits for it, saying so, and goes on once it is done', async () => {
    await run(1);
    const store = StateStore.open(home);
    store.tryStartMaintenance({ name: GC_LOCK, process: nodeProcessTable.identify(process.pid)!, processScope: nodeProcessTable.scope(), startedAt: Date.now() }, () => true);
    const notices: string[] = [];
    let released = false;
    const second = run(2, {
      onEvent: (event) => {
        if (event.type === 'notice') notices.push(event.message);
        if (event.type === 'execution-started') expect(released).toBe(true);
      },
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    released = true;
    store.endMaintenance(GC_LOCK);
    store.close();

    expect(await second).toBeTruthy();
    expect(notices).toContain(`waiting for \`service-pipelines gc\` (pid ${process.pid}) to finish`);
  });

  it('GIVEN a state folder past the threshold WHEN the history is listed THEN its size is told, with gc', async () => {
    await run(1);
    const notices: string[] = [];

    await listExecutions({ home, onNotice: (n) => notices.push(n), stateSizeNoticeBytes: 1_000 });
    await listExecutions({ home, onNotice: (n) => notices.push(n) });

    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(new RegExp(`^the state folder ${home.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} takes \\d+ kB: \`service-pipelines gc\` removes`));
  });

  it('GIVEN bad --keep WHEN gc runs THEN exit 2; GIVEN a dry run THEN it lists what would go, and the space', async () => {
    await run(1);
    await run(2);
    mkdirSync(path.join(home, 'cache', 'e'.repeat(32)), { recursive: true });

    const bad = await runCli(['gc', '--keep', '0'], { cwd: work.dir });
    const dry = await runCli(['gc', '--keep', '1', '--dry-run'], { cwd: work.dir });

    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('--keep 0: not a whole number of 1 or more');
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/^would remove \d+ items, freeing \d+(\.\d)? kB of /);
    expect(dry.stdout).toContain(`install: ${path.join(home, 'cache', 'e'.repeat(32))}`);
    expect(dry.stdout).toContain('run folder: ');
    expect(dry.stdout).toContain('kept: the last 1 execution of each pipeline (1 in all)');
    expect(existsSync(path.join(home, 'cache', 'e'.repeat(32)))).toBe(true);
  });
});
