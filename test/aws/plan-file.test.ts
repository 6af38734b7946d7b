/**
 * The AWS engine is built from a plans document alone (issue 13): `createCicdApp(plans, options)`
 * and `synth --plan FILE` read no config.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createCicdApp } from '../../src/aws/cicd-app.js';
import { parsePlansDocument } from '../../src/model/plan.js';
import { loadConfig } from '../../src/runtime/load-config.js';
import { runCli } from '../support/cli.js';
import { PACK_TIMEOUT_MS, packingEnv } from '../support/tool-fixtures.js';
import { appOf, testTool } from './helpers.js';

const examples = path.resolve(import.meta.dirname, '../../examples');
const exampleConfig = path.join(examples, 'pipelines.config.ts');

const folders: string[] = [];
function tempFolder(): string {
  const folder = mkdtempSync(path.join(tmpdir(), 'sp-plan-file-'));
  folders.push(folder);
  return folder;
}
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

/** The templates of a cloud assembly on disk, by stack name. */
function templatesIn(outdir: string): Record<string, unknown> {
  const manifest = JSON.parse(readFileSync(path.join(outdir, 'manifest.json'), 'utf8')) as {
    artifacts: Record<string, { type: string; properties?: { templateFile: string; stackName: string } }>;
  };
  return Object.fromEntries(
    Object.values(manifest.artifacts)
      .filter((a) => a.type === 'aws:cloudformation:stack')
      .map((a) => [a.properties!.stackName, JSON.parse(readFileSync(path.join(outdir, a.properties!.templateFile), 'utf8'))]),
  );
}

/** `plan --json` of the example, written to a folder of its own. */
async function writtenPlan(): Promise<string> {
  const run = await runCli(['plan', '--json', '--config', exampleConfig]);
  expect(run.exitCode, run.stderr).toBe(0);
  const file = path.join(tempFolder(), 'pipelines.plan.json');
  writeFileSync(file, run.stdout);
  return file;
}

describe('the AWS engine, from a plans document alone', () => {
  it('GIVEN the plans plan --json wrote WHEN the app is built from that file alone THEN its templates are those built from the config', async () => {
    const file = await writtenPlan();
    const plans = parsePlansDocument(JSON.parse(readFileSync(file, 'utf8')), file);
    const fromFile = createCicdApp(plans, { tool: testTool(), validateTemplates: false, outdir: tempFolder() }).app.synth();

    const { config } = await loadConfig('pipelines.config.ts', examples);
    const fromConfig = appOf(config, { outdir: tempFolder() }).app.synth();

    expect(fromFile.stacks.map((s) => s.stackName).sort()).toEqual(fromConfig.stacks.map((s) => s.stackName).sort());
    for (const stack of fromConfig.stacks) {
      expect({ stack: stack.stackName, template: fromFile.getStackByName(stack.stackName).template }).toEqual({ stack: stack.stackName, template: stack.template });
    }
  });

  it(
    'GIVEN a folder holding only a plans file WHEN synth --plan runs there THEN it writes the assembly synth --config writes, and the same plans beside it',
    async () => {
      const file = await writtenPlan();
      const alone = path.dirname(file);
      const fromFile = await runCli(['synth', '--plan', 'pipelines.plan.json', '--out', 'cdk.out', '--no-validate'], { cwd: alone, env: packingEnv() });
      expect(fromFile.exitCode, fromFile.stderr).toBe(0);
      expect(readdirSync(alone).sort()).toEqual(['cdk.out', 'pipelines.plan.json']);

      const elsewhere = tempFolder();
      const fromConfig = await runCli(['synth', '--config', exampleConfig, '--out', path.join(elsewhere, 'cdk.out'), '--no-validate'], { env: packingEnv() });
      expect(fromConfig.exitCode, fromConfig.stderr).toBe(0);

      expect(templatesIn(path.join(alone, 'cdk.out'))).toEqual(templatesIn(path.join(elsewhere, 'cdk.out')));
      expect(JSON.parse(readFileSync(path.join(alone, 'cdk.out', 'pipelines.plan.json'), 'utf8'))).toEqual(JSON.parse(readFileSync(file, 'utf8')));
    },
    PACK_TIMEOUT_MS,
  );

  it('GIVEN a plans file of schema version 1 WHEN synth --plan runs THEN exit 2 names the file and how to write it again, and nothing is written', async () => {
    const dir = tempFolder();
    writeFileSync(path.join(dir, 'old.plan.json'), JSON.stringify({ schemaVersion: 1, pipelines: [] }));
    const run = await runCli(['synth', '--plan', 'old.plan.json', '--no-validate'], { cwd: dir, env: packingEnv() });
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('is a plan of schema version 1');
    expect(run.stderr).toContain('plan --json');
    expect(readdirSync(dir)).toEqual(['old.plan.json']);
  });

  it('GIVEN both --plan and --config WHEN synth runs THEN exit 2: one source of pipelines', async () => {
    const run = await runCli(['synth', '--plan', 'pipelines.plan.json', '--config', exampleConfig, '--no-validate'], { cwd: tempFolder(), env: packingEnv() });
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/--plan.*cannot be used with.*--config/);
  });
});
