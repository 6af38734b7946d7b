// Artifact collection (`artifacts: files: ['**/*']`) against `cp -r` of the same files.
//
//   npm run build && node bench/buildspec-artifacts.mjs [runs=5]
//
// Two trees: 10,000 small files (100 folders of 100 files of 200 bytes) and 200 MB (20 files of
// 10 MB). The collector checks every candidate's real path (nothing from outside the source gets
// in), then hard-links the files of the build's own folder (`buildspec run` in its copy of the
// source: one link(2) per file, no bytes copied) and copies those of a folder it does not own
// (`buildspec run --in-place`: a reflink where the file system has them, else the bytes).
// `cp -r` copies the bytes; `cp -rl` (hard links, no globbing, no checks) is the floor of linking.
// Then the whole command a user runs: `buildspec run --artifacts-out` of the 10,000-file tree, in
// a copy of the source (the default) and with --in-place.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { collectArtifact } from '../dist/local/executor/artifacts.js';
import { median } from './support.mjs';

const runs = Number(process.argv[2] ?? 5);
const work = mkdtempSync(join(tmpdir(), 'sp-bench-artifacts-'));

function smallTree(root) {
  const content = 'x'.repeat(200);
  for (let d = 0; d < 100; d++) {
    mkdirSync(join(root, `dir${d}`), { recursive: true });
    for (let f = 0; f < 100; f++) {
      writeFileSync(join(root, `dir${d}`, `file${f}.txt`), content);
    }
  }
}

function largeTree(root) {
  mkdirSync(root, { recursive: true });
  const chunk = Buffer.alloc(10 * 1024 * 1024, 7);
  for (let f = 0; f < 20; f++) {
    writeFileSync(join(root, `blob${f}.bin`), chunk);
  }
}


async function measure(name, build) {
  const src = join(work, name);
  build(src);
  const modes = { 'collect, own folder (links)': true, 'collect, --in-place (copies)': false };
  const times = Object.fromEntries([...Object.keys(modes), 'cp -r (bytes)', 'cp -rl (hard links)'].map((label) => [label, []]));
  for (let i = 0; i < runs; i++) {
    const out = join(work, `out-${name}`);
    let start;
    for (const [label, ownsSrcDir] of Object.entries(modes)) {
      start = performance.now();
      const collected = await collectArtifact({ srcDir: src, ownsSrcDir, artifact: { files: ['**/*'] }, destination: out });
      times[label].push(performance.now() - start);
      rmSync(out, { recursive: true, force: true });
      if (i === 0) {
        console.log(`${name}, ${label}: ${collected.files} files (${collected.copied} copied instead of linked)`);
      }
    }
    for (const [label, flags] of [['cp -r (bytes)', '-r'], ['cp -rl (hard links)', '-rl']]) {
      start = performance.now();
      const result = spawnSync('cp', [flags, src, out]);
      times[label].push(performance.now() - start);
      if (result.status !== 0) {
        throw new Error(`cp ${flags} failed: ${result.stderr}`);
      }
      rmSync(out, { recursive: true, force: true });
    }
  }
  for (const [label, values] of Object.entries(times)) {
    console.log(`  ${label.padEnd(30)} median ${median(values).toFixed(0).padStart(6)} ms   (runs: ${values.map((v) => v.toFixed(0)).join(', ')})`);
  }
}

/** `buildspec run` through the CLI, as a user runs it, collecting every file of `src`. */
function measureCommand(src) {
  const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'service-pipelines.js');
  const buildspec = join(work, 'artifacts.yml');
  writeFileSync(buildspec, "version: 0.2\nphases:\n  build:\n    commands:\n      - 'true'\nartifacts:\n  files: ['**/*']\n");
  const times = { 'buildspec run (in a copy)': [], 'buildspec run --in-place': [] };
  for (let i = 0; i < runs; i++) {
    for (const [label, extra] of [['buildspec run (in a copy)', []], ['buildspec run --in-place', ['--in-place']]]) {
      const out = join(work, 'cli-out');
      const start = performance.now();
      const result = spawnSync(process.execPath, [cli, 'buildspec', 'run', buildspec, '--src', src, '--artifacts-out', out, ...extra], { encoding: 'utf8' });
      times[label].push(performance.now() - start);
      if (result.status !== 0) {
        throw new Error(`${label} failed: ${result.stderr}`);
      }
      rmSync(out, { recursive: true, force: true });
    }
  }
  console.log('the CLI, 10k-small-files into --artifacts-out:');
  for (const [label, values] of Object.entries(times)) {
    console.log(`  ${label.padEnd(30)} median ${median(values).toFixed(0).padStart(6)} ms   (runs: ${values.map((v) => v.toFixed(0)).join(', ')})`);
  }
}

try {
  await measure('10k-small-files', smallTree);
  await measure('200MB', largeTree);
  measureCommand(join(work, '10k-small-files'));
} finally {
  rmSync(work, { recursive: true, force: true });
}
