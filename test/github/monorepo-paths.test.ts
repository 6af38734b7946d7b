/**
 * The monorepo example (examples/monorepo) as GitHub Actions workflows: each service's push and
 * pull-request workflows start only for changes to its folder or the library it depends on
 * (`on.push.paths` / `on.pull_request.paths`, from the plan's `source.triggerPaths`), their jobs
 * run in its folder, and actionlint finds nothing.
 */
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildPlans } from '../../src/model/plan.js';
import { loadConfig } from '../../src/runtime/load-config.js';
import { actionlint, parseWorkflow, projectRoot, render, type ParsedJob, type ParsedWorkflow } from './support.js';

describe('GitHub Actions workflows of the monorepo example', () => {
  let texts: ReadonlyMap<string, string>;
  const workflow = (name: string): ParsedWorkflow => parseWorkflow(texts.get(name)!);

  beforeAll(async () => {
    const { config } = await loadConfig('pipelines.config.ts', path.join(projectRoot, 'examples/monorepo'));
    texts = render(buildPlans(config)).texts;
  });

  it('GIVEN two services of one repository WHEN rendered THEN each push and pull-request workflow starts only for its folder and the shared library', () => {
    expect([...texts.keys()].sort()).toEqual(['invoices-pr.yml', 'invoices.yml', 'orders-pr.yml', 'orders.yml']);
    for (const service of ['orders', 'invoices']) {
      const paths = [`services/${service}/**`, 'libs/money/**'];
      expect(workflow(`${service}.yml`).on).toEqual({ push: { branches: ['main'], paths } });
      expect(workflow(`${service}-pr.yml`).on).toEqual({ pull_request: { branches: ['main'], paths } });
    }
  });

  it('GIVEN a service in a folder of the repository WHEN rendered THEN every job that runs its steps runs them in that folder', () => {
    for (const service of ['orders', 'invoices']) {
      const jobs = Object.values(workflow(`${service}.yml`).jobs) as Array<ParsedJob & { defaults?: { run: Record<string, string> } }>;
      const steps = jobs.filter((job) => job.steps.some((s) => s.run?.includes('service-pipelines step')));
      expect(steps.length).toBeGreaterThan(0);
      for (const job of steps) {
        expect(job.defaults, job.name).toEqual({ run: { 'working-directory': `services/${service}` } });
        expect(job.env?.['CODEBUILD_SRC_DIR'], job.name).toBe(`\${{ github.workspace }}/services/${service}`);
      }
    }
  });

  it('GIVEN the monorepo workflows WHEN linted THEN actionlint finds nothing in any of them', async () => {
    for (const [name, text] of texts) {
      expect(await actionlint(text, name), name).toEqual([]);
    }
  });
});
