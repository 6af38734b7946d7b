#!/usr/bin/env node
/**
 * Where a validated `synth` spends its time: one whole `service-pipelines synth` process per
 * count, run under `node --cpu-prof`, its samples attributed to the phase they were taken in.
 *
 *   npm run build && node bench/synth-profile.mjs [--counts 1,40] [--top 12] [--keep DIR]
 *
 * Phases, by the frames on the sampled stack (innermost phase wins):
 * - validation: aws-cdk-lib's CloudFormation validation plugin, split into building its engine
 *   (`initializeEngine`: compiling the rule set), reading the templates back (`loadTemplates`),
 *   and `validateTemplate` (one call per template; its WebAssembly and the JavaScript glue);
 * - synthesis: everything else under `app.synth()`;
 * - the rest (loading modules, building the constructs, the CLI) as one row per package.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pipelinesConfig, runSynth } from './synth-support.mjs';

const { values } = parseArgs({ options: { counts: { type: 'string', default: '1,40' }, top: { type: 'string', default: '12' }, keep: { type: 'string' } } });
const work = path.resolve(import.meta.dirname, 'out', 'synth-profile');

/** The phase a sampled stack belongs to, from its frames (outermost first). */
function phaseOf(frames) {
  let phase = 'outside synthesis';
  for (const { functionName, url } of frames) {
    const file = url.split('/').pop();
    if (file === 'cloudformation-validate-plugin.js') {
      if (functionName === 'validate') phase = 'validation: other';
      else if (functionName === 'initializeEngine') phase = 'validation: building the engine';
      else if (functionName === 'loadTemplates') phase = 'validation: reading the templates';
    } else if (phase.startsWith('validation') && functionName === 'validateTemplate') {
      phase = 'validation: validateTemplate';
    } else if (phase === 'outside synthesis' && functionName === 'synth' && url.includes('aws-cdk-lib/core/lib/stage')) {
      phase = 'synthesis (without validation)';
    }
  }
  return phase;
}

/** A short name for where a frame's code is: a package, this project's dist/, node itself, or WebAssembly. */
function placeOf({ functionName, url }) {
  if (url.startsWith('wasm://') || /^(wasm-function|\$)/.test(functionName)) return 'WebAssembly';
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node';
  const modules = url.split('node_modules/');
  if (modules.length > 1) {
    const parts = modules.at(-1).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  return url.includes('/dist/') ? 'service-pipelines' : url;
}

function analyze(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const phases = new Map();
  const places = new Map();
  const leafFunctions = new Map();
  let total = 0;
  profile.samples.forEach((id, index) => {
    const micros = profile.timeDeltas[index] ?? 0;
    total += micros;
    const frames = [];
    for (let at = id; at !== undefined; at = parent.get(at)) frames.unshift(byId.get(at).callFrame);
    const phase = phaseOf(frames);
    const leaf = frames.at(-1);
    const place = placeOf(leaf);
    phases.set(phase, (phases.get(phase) ?? 0) + micros);
    const key = `${phase} | ${place}`;
    places.set(key, (places.get(key) ?? 0) + micros);
    if (phase.startsWith('validation')) {
      const name = `${place}: ${leaf.functionName || '(anonymous)'}`;
      leafFunctions.set(name, (leafFunctions.get(name) ?? 0) + micros);
    }
  });
  return { total, phases, places, leafFunctions };
}

const seconds = (micros) => Number((micros / 1e6).toFixed(2));
const sorted = (map, n) => [...map].sort((a, b) => b[1] - a[1]).slice(0, n);
console.log(`load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the start`);
for (const count of values.counts.split(',').map(Number)) {
  const dir = path.join(values.keep ?? work, String(count));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const configFile = path.join(dir, 'pipelines.config.json');
  writeFileSync(configFile, JSON.stringify(pipelinesConfig(count)));
  const profiles = path.join(dir, 'profiles');
  const run = await runSynth({ configFile, outdir: path.join(dir, 'cdk.out'), validate: true, nodeOptions: ['--cpu-prof', `--cpu-prof-dir=${profiles}`] });
  const [file] = readdirSync(profiles).filter((f) => f.endsWith('.cpuprofile'));
  const { total, phases, places, leafFunctions } = analyze(JSON.parse(readFileSync(path.join(profiles, file), 'utf8')));
  console.log(`\n${count} services, validated: ${run.wallSeconds.toFixed(1)} s wall, ${run.cpuSeconds.toFixed(1)} s CPU, ${run.maxRssMb} MB peak, ${run.stacks.length} templates; ${seconds(total)} s sampled`);
  console.table(sorted(phases, 20).map(([phase, micros]) => ({ phase, seconds: seconds(micros), share: `${((100 * micros) / total).toFixed(0)}%` })));
  console.table(sorted(places, Number(values.top)).map(([where, micros]) => ({ 'phase | code': where, seconds: seconds(micros) })));
  console.log('  validation, by innermost function:');
  console.table(sorted(leafFunctions, Number(values.top)).map(([fn, micros]) => ({ function: fn, seconds: seconds(micros) })));
  if (!values.keep) rmSync(dir, { recursive: true, force: true });
}
