#!/usr/bin/env node
/**
 * Synthesis of 1, 50 and 300 services: wall time, peak memory, and whether every template stays
 * within CloudFormation's limits (500 resources, 1 MB).
 *
 *   npm run build && node bench/synth.mjs [counts...] [--no-validate]
 *
 * Each count runs in a child process of its own, so that its peak memory (max RSS) is its own.
 * The config is the article's (dev, staging, prod in three accounts; prod behind an approval,
 * rolled back on failure; pull requests validated), repeated for N services.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, '..', 'dist');

function config(count) {
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

async function child(count, validate) {
  const { validateConfig } = await import(path.join(dist, 'model/index.js'));
  const { synthesizeCicd } = await import(path.join(dist, 'aws/index.js'));
  const outdir = mkdtempSync(path.join(tmpdir(), `sp-bench-${count}-`));
  const started = process.hrtime.bigint();
  const result = synthesizeCicd(validateConfig(config(count)), { outdir: path.join(outdir, 'cdk.out'), validateTemplates: validate });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cicd = result.stacks.filter((s) => s.account === '111111111111');
  const summary = {
    services: count,
    validate,
    seconds: Number(seconds.toFixed(1)),
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    stacks: result.stacks.length,
    pipelineStacks: cicd.filter((s) => /-pipelines-\d+$/.test(s.stackName)).length,
    cicdResources: cicd.reduce((n, s) => n + s.resources, 0),
    maxResources: Math.max(...result.stacks.map((s) => s.resources)),
    maxTemplateKb: Math.round(Math.max(...result.stacks.map((s) => s.bytes)) / 1024),
    withinLimits: result.stacks.every((s) => s.resources <= 500 && s.bytes <= 1_000_000),
  };
  rmSync(outdir, { recursive: true, force: true });
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

const args = process.argv.slice(2);
if (args[0] === '--child') {
  await child(Number(args[1]), args[2] === 'validate');
} else {
  const validate = !args.includes('--no-validate');
  const counts = args.filter((a) => /^\d+$/.test(a)).map(Number);
  const rows = [];
  for (const count of counts.length ? counts : [1, 50, 300]) {
    const run = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', String(count), validate ? 'validate' : 'no-validate'], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    if (run.status !== 0) {
      process.stderr.write(run.stderr);
      process.exit(run.status ?? 1);
    }
    const row = JSON.parse(run.stdout.trim().split('\n').pop());
    rows.push(row);
    process.stdout.write(`${JSON.stringify(row)}\n`);
  }
  console.table(rows);
}
