import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/runtime/load-config.js';
import { PACK_TIMEOUT_MS, TEST_CACHE_HOME } from '../support/tool-fixtures.js';
import { appOf } from './helpers.js';

const projectRoot = path.resolve(import.meta.dirname, '../..');
const examples = path.join(projectRoot, 'examples');
const built = existsSync(path.join(projectRoot, 'dist/aws/index.js'));

/** Templates as reviewed (the tool they name is the tests' stand-in: its digest is the same from run to run). */
function normalize(template: unknown): string {
  return `${JSON.stringify(template, undefined, 2)}\n`;
}

describe("the example's templates", () => {
  it('GIVEN examples/pipelines.config.ts WHEN synthesized THEN every template matches its reviewed snapshot', async () => {
    const { config } = await loadConfig('pipelines.config.ts', examples);
    const { app } = appOf(config, { outdir: mkdtempSync(path.join(tmpdir(), 'sp-example-')) });
    const assembly = app.synth();
    const names = assembly.stacks.map((s) => s.stackName).sort();
    expect(names).toEqual([
      'service-pipelines-deployers-222222222222-1',
      'service-pipelines-deployers-333333333333-1',
      'service-pipelines-deployers-444444444444-1',
      'service-pipelines-pipelines-1',
      'service-pipelines-shared',
    ]);
    for (const stack of assembly.stacks) {
      await expect(normalize(stack.template)).toMatchFileSnapshot(`__snapshots__/example/${stack.stackName}.template.json`);
    }
  });

  it.skipIf(!built)(`GIVEN examples/cdk.json WHEN the CDK CLI runs its app THEN the assembly lands in CDK_OUTDIR${built ? '' : ' (skipped: run npm run build first)'}`, () => {
    const cdkJson = JSON.parse(readFileSync(path.join(examples, 'cdk.json'), 'utf8')) as { app: string };
    const outdir = mkdtempSync(path.join(tmpdir(), 'sp-cdk-app-'));
    // What the CDK CLI does: run `app` in the folder of cdk.json with CDK_OUTDIR set. Template
    // validation is covered by synthesize.test.ts; CDK_VALIDATION=false saves its 15 s here.
    // It packs this checkout's tool, into the tests' cache (packed once per change).
    const run = spawnSync(cdkJson.app, { cwd: examples, shell: true, env: { ...process.env, CDK_OUTDIR: outdir, CDK_VALIDATION: 'false', XDG_CACHE_HOME: TEST_CACHE_HOME }, encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const manifest = JSON.parse(readFileSync(path.join(outdir, 'manifest.json'), 'utf8')) as { artifacts: Record<string, { type: string }> };
    expect(Object.values(manifest.artifacts).filter((a) => a.type === 'aws:cloudformation:stack')).toHaveLength(5);
  }, PACK_TIMEOUT_MS);
});
