/**
 * The step that installs the tool on a runner, run here with bash as a runner would run it: the
 * release asset comes from a `gh` that serves a file of this machine (GitHub is out of reach).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { releaseAssetToolSource, toolInstallStep } from '../../src/github/tool-source.js';
import type { RunStep } from '../../src/github/workflow-model.js';
import { textOf } from '../../src/github/render.js';
import { systemClock } from '../../src/runtime/clock.js';
import { packTool, type PackedTool } from '../../src/runtime/pack-tool.js';
import { nodeProcesses } from '../../src/runtime/process.js';
import { writeFixturePackage } from '../support/tool-fixtures.js';

let dir: string;
let packed: PackedTool;
beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'sp-gh-tool-'));
  const root = writeFixturePackage(path.join(dir, 'package'), { name: 'service-pipelines', version: '1.2.3' });
  packed = await packTool({ processes: nodeProcesses, clock: systemClock, root, cacheDir: path.join(dir, 'cache') });
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Run the install step in a fresh runner folder; `gh release download` copies `served`. */
function runInstall(served: string, sha256 = packed.sha256) {
  const runner = mkdtempSync(path.join(dir, 'runner-'));
  const bin = path.join(runner, 'fake-bin');
  mkdirSync(bin);
  writeFileSync(
    path.join(bin, 'gh'),
    `#!/bin/bash\n# gh release download TAG --repo R --pattern P --dir D\n[ "$1 $2" = "release download" ] || exit 2\nwhile [ $# -gt 0 ]; do case "$1" in --pattern) p=$2; shift;; --dir) d=$2; shift;; esac; shift; done\ncp ${JSON.stringify(served)} "$d/$p"\n`,
  );
  chmodSync(path.join(bin, 'gh'), 0o755);
  const step = toolInstallStep(releaseAssetToolSource({ sha256, version: '1.2.3' })) as RunStep;
  const env = Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, k === 'GH_TOKEN' ? 'token' : textOf(v)]));
  const githubPath = path.join(runner, 'github_path');
  writeFileSync(githubPath, '');
  const result = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', textOf(step.run)], {
    env: { ...env, PATH: `${bin}:${process.env['PATH']}`, RUNNER_TEMP: runner, GITHUB_PATH: githubPath, GITHUB_REPOSITORY: 'example-org/svc' },
    encoding: 'utf8',
  });
  return { ...result, runner, githubPath };
}

describe('the tool install step', () => {
  it('GIVEN the packed tool as the release asset WHEN the step runs THEN the tool is unpacked, on PATH, and answers its version', () => {
    const run = runInstall(packed.file);

    expect(run.status, run.stderr + run.stdout).toBe(0);
    const installed = readFileSync(run.githubPath, 'utf8').trim();
    expect(installed).toBe(path.join(run.runner, 'service-pipelines/bin'));
    expect(spawnSync(path.join(installed, 'service-pipelines'), ['--version'], { encoding: 'utf8' }).stdout.trim()).toBe('1.2.3');
  });

  it('GIVEN a release asset with other bytes WHEN the step runs THEN it fails before unpacking, saying the sha256 differs', () => {
    const other = path.join(dir, 'other.tgz');
    writeFileSync(other, Buffer.concat([readFileSync(packed.file), Buffer.from('tampered')]));

    const run = runInstall(other);

    expect(run.status).toBe(1);
    expect(run.stdout).toContain('::error::service-pipelines-1.2.3.tgz of release service-pipelines-1.2.3-');
    expect(run.stdout).toContain('does not have the sha256 the workflow pins');
    expect(readFileSync(run.githubPath, 'utf8')).toBe('');
  });
});
