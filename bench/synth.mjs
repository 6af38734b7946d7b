#!/usr/bin/env node
/**
 * `service-pipelines synth` of 1, 40 and 300 services, with aws-cdk-lib's template validation
 * (the default) and without it (`--no-validate`): wall time, CPU time and peak memory of the
 * whole command, as a user runs it, and whether every template stays within CloudFormation's
 * limits (500 resources, 1 MB).
 *
 *   npm run build && node bench/synth.mjs [--counts 1,40,300] [--runs 3] [--only validated|unvalidated]
 *
 * The two modes run back to back, one pair at a time (validated, then unvalidated, then the next
 * pair), so that both see the same load; the ratio is taken pair by pair and its median printed.
 * Each run is a process of its own (`node bin/service-pipelines.js synth --config F --json`);
 * `synth-process-report.mjs` is preloaded to report the process's peak memory and CPU time.
 * The config is the article's, repeated for N services (`synth-support.mjs`). One synth runs first,
 * untimed, so that the tool synth packs is in the cache (as after a user's first synth).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { median } from './support.mjs';
import { pipelinesConfig, runSynth } from './synth-support.mjs';

const work = path.resolve(import.meta.dirname, 'out', 'synth');

const { values } = parseArgs({
  options: {
    counts: { type: 'string', default: '1,40,300' },
    runs: { type: 'string', default: '3' },
    only: { type: 'string' },
  },
});
const counts = values.counts.split(',').map(Number);
const runs = Number(values.runs);
const modes = values.only ? [values.only] : ['validated', 'unvalidated'];

const round = (n, digits = 1) => Number(n.toFixed(digits));
const rows = [];
// synth packs the tool the actions install; a user's tool cache holds it after the first synth
// (packing cold takes a minute: bench/tool-pack.mjs measures it). One synth first fills the cache.
{
  const dir = path.join(work, 'warm-up');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'pipelines.config.json'), JSON.stringify(pipelinesConfig(1)));
  const warm = await runSynth({ configFile: path.join(dir, 'pipelines.config.json'), outdir: path.join(dir, 'cdk.out'), validate: false });
  console.log(`warm-up synth (packs the tool into the cache if it is not there): ${warm.wallSeconds.toFixed(1)} s`);
  rmSync(dir, { recursive: true, force: true });
}
console.log(`${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the start; ${runs} run(s) per figure`);
for (const count of counts) {
  const dir = path.join(work, String(count));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const configFile = path.join(dir, 'pipelines.config.json');
  writeFileSync(configFile, JSON.stringify(pipelinesConfig(count)));
  const results = Object.fromEntries(modes.map((m) => [m, []]));
  for (let run = 0; run < runs; run++) {
    for (const mode of modes) {
      results[mode].push(await runSynth({ configFile, outdir: path.join(dir, `cdk.out-${mode}`), validate: mode === 'validated' }));
    }
  }
  for (const mode of modes) {
    const all = results[mode];
    const stacks = all[0].stacks;
    rows.push({
      services: count,
      mode,
      wallSeconds: round(median(all.map((r) => r.wallSeconds))),
      cpuSeconds: round(median(all.map((r) => r.cpuSeconds))),
      peakRssMb: median(all.map((r) => r.maxRssMb)),
      stacks: stacks.length,
      maxResources: Math.max(...stacks.map((s) => s.resources)),
      maxTemplateKb: Math.round(Math.max(...stacks.map((s) => s.bytes)) / 1024),
      withinLimits: stacks.every((s) => s.resources <= 500 && s.bytes <= 1_000_000),
    });
  }
  if (modes.length === 2) {
    const ratios = results.validated.map((v, i) => v.wallSeconds / results.unvalidated[i].wallSeconds);
    const cpuRatios = results.validated.map((v, i) => v.cpuSeconds / results.unvalidated[i].cpuSeconds);
    console.log(`${count} services: validated / unvalidated, pair by pair: wall ${round(median(ratios), 2)}x, cpu ${round(median(cpuRatios), 2)}x`);
  }
  rmSync(dir, { recursive: true, force: true });
}
console.table(rows);
console.log(`load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the end`);
