// Overhead of `service-pipelines buildspec run` against running the same commands with `bash -c`.
//
//   npm run build && node bench/buildspec-overhead.mjs [runs=21]
//
// Needs GNU time at /usr/bin/time (for the CPU times).
//
// Both run the same five commands; the difference of the medians is what the executor costs a
// build (Node's start-up, loading the CLI, parsing, the shell protocol, the log), in copy mode
// (the default: a copy of a small source folder) and with --in-place.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './support.mjs';

const runs = Number(process.argv[2] ?? 21);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'bin', 'service-pipelines.js');
const work = mkdtempSync(join(tmpdir(), 'sp-bench-overhead-'));
const src = join(work, 'src');
mkdirSync(join(src, 'lib'), { recursive: true });
for (let i = 0; i < 20; i++) {
  writeFileSync(join(src, 'lib', `file${i}.js`), `export const value${i} = ${i};\n`);
}
const commands = ['cd lib', 'export GREETING=hello', 'echo "$GREETING" > out.txt', 'ls > /dev/null', 'cat out.txt > /dev/null'];
const buildspec = join(work, 'buildspec.yml');
writeFileSync(buildspec, `version: 0.2\nenv:\n  shell: bash\nphases:\n  build:\n    commands:\n${commands.map((c) => `      - ${JSON.stringify(c)}`).join('\n')}\n`);

// Wall time, and CPU time (user + system, of the process and its children, read by GNU time):
// on a busy machine the wall time mostly measures the other load, the CPU time much less so.
const gnuTime = '/usr/bin/time';
function time(command, args, options) {
  const start = process.hrtime.bigint();
  const result = spawnSync(gnuTime, ['-f', '@cpu %U %S', command, ...args], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', ...options });
  const wall = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  }
  const [, user, system] = /@cpu ([\d.]+) ([\d.]+)/.exec(result.stderr) ?? [];
  return { wall, cpu: (Number(user) + Number(system)) * 1000 };
}


const cases = {
  'bash -c (same commands)': () => time('bash', ['-c', commands.join('\n')], { cwd: src }),
  'node -e 0 (Node start-up alone)': () => time(process.execPath, ['-e', '0']),
  'CLI start-up (--version)': () => time(process.execPath, [cli, '--version']),
  'buildspec run --in-place': () => time(process.execPath, [cli, 'buildspec', 'run', buildspec, '--src', src, '--in-place']),
  'buildspec run (copy of --src)': () => time(process.execPath, [cli, 'buildspec', 'run', buildspec, '--src', src]),
};
const loads = [loadavg()[0]];
const results = {};
for (const [name, fn] of Object.entries(cases)) {
  fn(); // warm the file cache
  results[name] = [];
}
// Interleaved, so that a burst of load on the machine hits every case alike.
for (let i = 0; i < runs; i++) {
  for (const [name, fn] of Object.entries(cases)) {
    results[name].push(fn());
  }
}
// The executor alone, in this process (no Node start-up, no CLI): parse, the shell and its
// protocol, the log. CPU here is this process's own plus its children's (the shell).
const { runBuildspec } = await import('../dist/local/executor/run-buildspec.js');
const yaml = readFileSync(buildspec, 'utf8');
const inProcess = [];
for (let i = 0; i < runs + 1; i++) {
  const before = process.cpuUsage();
  const start = performance.now();
  const result = await runBuildspec({ buildspec: { file: 'buildspec.yml', text: yaml }, srcDir: src, baseEnv: { PATH: process.env.PATH } });
  const wall = performance.now() - start;
  const used = process.cpuUsage(before);
  if (result.status !== 'SUCCEEDED') {
    throw new Error(`the build failed: ${result.failure?.message}`);
  }
  if (i > 0) {
    inProcess.push({ wall, cpu: (used.user + used.system) / 1000 });
  }
}
results['runBuildspec in-process (executor only)'] = inProcess;
rmSync(work, { recursive: true, force: true });
const baseline = { wall: median(results['bash -c (same commands)'].map((r) => r.wall)), cpu: median(results['bash -c (same commands)'].map((r) => r.cpu)) };
loads.push(loadavg()[0]);
console.log(`load average (1 min) ${Math.min(...loads).toFixed(1)} to ${Math.max(...loads).toFixed(1)}`);
console.log(`runs: ${runs} each, interleaved; medians (CPU = user + system; 10 ms resolution for processes; in-process CPU excludes the shell)`);
console.log(`${''.padEnd(34)} ${'wall'.padStart(9)} ${'vs bash'.padStart(9)} ${'CPU'.padStart(9)} ${'vs bash'.padStart(9)}`);
for (const [name, values] of Object.entries(results)) {
  const wall = median(values.map((r) => r.wall));
  const cpu = median(values.map((r) => r.cpu));
  console.log(
    `${name.padEnd(34)} ${wall.toFixed(1).padStart(6)} ms ${(wall - baseline.wall).toFixed(1).padStart(6)} ms ${cpu.toFixed(0).padStart(6)} ms ${(cpu - baseline.cpu).toFixed(0).padStart(6)} ms`,
  );
}
