import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { createCicdApp, type CicdAppOptions } from '../../src/aws/cicd-app.js';
import { ToolSource } from '../../src/aws/tool-source.js';
import { buildPlans } from '../../src/model/plan.js';
import { validateConfig, type ValidConfig } from '../../src/model/validate.js';
import type { PipelinesConfig, ServiceConfig } from '../../src/model/config.js';

export const CICD = { account: '111111111111', region: 'us-east-1' } as const;
export const CONNECTION = 'arn:aws:codeconnections:us-east-1:111111111111:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789';

/** A service of the article's shape, from GitHub through a connection. */
export function service(name: string, extra: Partial<ServiceConfig> = {}): ServiceConfig {
  return { name, source: { github: { owner: 'example-org', repo: name, branch: 'main', connectionArn: CONNECTION } }, ...extra };
}

/** The article's setup: dev, staging, prod (approval, rollback), each in its own account. */
export function config(services: ServiceConfig[], extra: Partial<PipelinesConfig> = {}): ValidConfig {
  return validateConfig({
    cicd: CICD,
    environments: [
      { name: 'dev', account: '222222222222', region: 'us-east-1' },
      { name: 'staging', account: '333333333333', region: 'us-east-1' },
      { name: 'prod', account: '444444444444', region: 'us-east-1', approval: true, rollbackOnFailure: true },
    ],
    notifications: { email: ['alerts@example.com'] },
    services,
    ...extra,
  });
}

/** A stack in the CICD account, for constructs tested one by one. */
export function cicdStack(): Stack {
  // Template validation is tested once, in synthesize.test.ts: it costs ~15 s per app.
  return new Stack(new App({ analyticsReporting: false, builtinCloudFormationValidation: false }), 'Test', { env: CICD });
}

/** The number of resources of a stack's template. */
export function resourceCount(stack: Stack): number {
  return Object.keys(Template.fromStack(stack).toJSON()['Resources'] ?? {}).length;
}

/** A policy statement's actions as a list. */
export function actionsOf(statement: { Action: string | string[] }): string[] {
  return typeof statement.Action === 'string' ? [statement.Action] : statement.Action;
}

/**
 * A tool source for construct tests: a small file standing for the packed tarball, always the
 * same bytes (so that the templates that name its digest are the same from run to run). Tests of
 * what the actions install pack real tarballs (tool-distribution.test.ts).
 */
export function testTool(version = '9.9.9'): ToolSource {
  const dir = path.join(tmpdir(), 'service-pipelines-test-tool');
  mkdirSync(dir, { recursive: true });
  const content = `service-pipelines ${version}, a stand-in for the packed tarball\n`;
  const file = path.join(dir, `service-pipelines-${version}.tgz`);
  writeFileSync(file, content);
  return ToolSource.fromPackedTool({ file, sha256: createHash('sha256').update(content).digest('hex'), version });
}

/** The app of a config, as `synth` builds it (its plans, the test tool), template validation off unless asked. */
export function appOf(cfg: ValidConfig, options: CicdAppOptions = {}) {
  return createCicdApp(buildPlans(cfg), { tool: testTool(), validateTemplates: false, ...options });
}
