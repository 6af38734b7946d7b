/** What the synth benchmarks share: the config they synthesize, and one whole `synth` process. */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const cli = path.join(root, 'bin', 'service-pipelines.js');
const preload = path.join(import.meta.dirname, 'synth-process-report.mjs');

/**
 * The article's config (dev, staging, prod in three accounts; prod behind an approval, rolled
 * back on failure; pull requests validated), repeated for `count` services.
 */
export function pipelinesConfig(count) {
  const connectionArn = 'arn:aws:codeconnections:us-east-1:111111111111:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789';
  return {
    cicd: { account: '111111111111', region: 'us-east-1' },
    environments: [
      { name: 'dev', account: '222222222222', region: 'us-east-1' },
      { name: 'staging', account: '333333333333', region: 'us-east-1' },
      { name: 'prod', account: '444444444444', region: 'us-east-1', approval: true, rollbackOnFailure: true },
    ],
    notifications: { email: ['alerts@example.com'] },
    services: Array.from({ length: count }, (_, i) => {
      const name = `service-${String(i).padStart(3, '0')}`;
      return { name, source: { github: { owner: 'example-org', repo: name, branch: 'main', connectionArn } } };
    }),
  };
}

/**
 * One whole `service-pipelines synth --config F --out DIR --json` process (with `--no-validate`
 * when `validate` is false): wall seconds, CPU seconds, peak memory, and the stacks it wrote. `nodeOptions` go to node before the CLI (e.g. `--cpu-prof`).
 */
export function runSynth({ configFile, outdir, validate, nodeOptions = [] }) {
  const report = `${outdir}.report.json`;
  rmSync(report, { force: true });
  const args = [...nodeOptions, '--import', preload, cli, 'synth', '--config', configFile, '--out', outdir, '--json', ...(validate ? [] : ['--no-validate'])];
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, SYNTH_BENCH_REPORT: report }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      const wallSeconds = (performance.now() - started) / 1000;
      if (code !== 0) {
        reject(new Error(`synth of ${configFile} (${validate ? 'validated' : 'unvalidated'}) exited ${code}:\n${Buffer.concat(err).toString('utf8')}`));
        return;
      }
      const written = JSON.parse(Buffer.concat(out).toString('utf8'));
      resolve({ wallSeconds, ...JSON.parse(readFileSync(report, 'utf8')), stacks: written.stacks });
    });
  });
}
