/**
 * The push and pull-request workflows of a plan: job order and needs, environments, permissions
 * per job, pinned actions, concurrency, the package digests, the rollback jobs; the example's
 * workflows against reviewed snapshots; what GitHub Actions cannot run, refused.
 */
import { describe, expect, it } from 'vitest';
import { buildGitHubWorkflows, concurrencyOf } from '../../src/github/workflows.js';
import { PINNED_ACTIONS } from '../../src/github/pinned-actions.js';
import { digestOfTaggedJob } from '../../src/github/names.js';
import { InputError } from '../../src/model/errors.js';
import { actionCommandLines, parsePlansDocument } from '../../src/model/plan.js';
import type { CommandsPlanAction, PipelinePlan, PlansDocument } from '../../src/model/plan-schema.js';
import { everyOptionConfig, examplePlans, parseWorkflow, plansOf, render, TEST_TOOL, type ParsedJob, type ParsedWorkflow } from './support.js';

async function exampleWorkflow(name: string): Promise<ParsedWorkflow> {
  return parseWorkflow(render(await examplePlans()).texts.get(name)!);
}

const runsOf = (job: ParsedJob) => job.steps.filter((s) => s.run !== undefined).map((s) => s.run!);

describe('the example push workflow', () => {
  it('GIVEN the example WHEN rendered THEN each workflow matches its reviewed snapshot', async () => {
    const rendered = render(await examplePlans());
    for (const [name, text] of rendered.texts) {
      await expect(text).toMatchFileSnapshot(`__snapshots__/${name}`);
    }
  });

  it('GIVEN ac-rest-api WHEN rendered THEN the jobs follow the plan: the build in parallel, then per environment deploy and acceptance tests, then the rollback jobs', async () => {
    const workflow = await exampleWorkflow('ac-rest-api.yml');

    expect(workflow.on).toEqual({ push: { branches: ['main'] } });
    expect(Object.keys(workflow.jobs)).toEqual([
      'lint',
      'unit-tests',
      'integration-tests',
      'package',
      'deploy-dev',
      'acceptance-tests-dev',
      'deploy-staging',
      'acceptance-tests-staging',
      'deploy-prod',
      'acceptance-tests-prod',
      'rollback-prod',
      'rollback-verification-prod',
    ]);
    const needs = Object.fromEntries(Object.entries(workflow.jobs).map(([id, job]) => [id, job.needs ?? []]));
    expect(needs).toEqual({
      lint: [],
      'unit-tests': [],
      'integration-tests': [],
      package: [],
      'deploy-dev': ['lint', 'unit-tests', 'integration-tests', 'package'],
      'acceptance-tests-dev': ['deploy-dev'],
      'deploy-staging': ['acceptance-tests-dev', 'package'],
      'acceptance-tests-staging': ['deploy-staging'],
      'deploy-prod': ['acceptance-tests-staging', 'package'],
      'acceptance-tests-prod': ['deploy-prod', 'package'],
      'rollback-prod': ['deploy-prod', 'acceptance-tests-prod'],
      'rollback-verification-prod': ['rollback-prod'],
    });
  });

  it('GIVEN ac-rest-api WHEN rendered THEN only deploy jobs run in an environment (their own), and the rollback in prod-rollback', async () => {
    const workflow = await exampleWorkflow('ac-rest-api.yml');

    const environments = Object.fromEntries(Object.entries(workflow.jobs).filter(([, job]) => job.environment).map(([id, job]) => [id, job.environment]));
    expect(environments).toEqual({ 'deploy-dev': 'dev', 'deploy-staging': 'staging', 'deploy-prod': 'prod', 'rollback-prod': 'prod-rollback' });
  });

  it('GIVEN ac-rest-api WHEN rendered THEN contents: read is the default, id-token: write only on the jobs that assume a deployer, and actions: read only for the rollback', async () => {
    const workflow = await exampleWorkflow('ac-rest-api.yml');

    expect(workflow.permissions).toEqual({ contents: 'read' });
    const permissions = Object.fromEntries(Object.entries(workflow.jobs).map(([id, job]) => [id, job.permissions]));
    for (const [id, granted] of Object.entries(permissions)) {
      if (id.startsWith('deploy-')) expect(granted, id).toEqual({ contents: 'read', 'id-token': 'write' });
      else if (id === 'rollback-prod') expect(granted, id).toEqual({ contents: 'read', 'id-token': 'write', actions: 'read' });
      else expect(granted, id).toEqual({ contents: 'read' });
    }
    // Acceptance tests run third-party code: never in a job that can mint a token.
    expect(Object.entries(workflow.jobs).filter(([id]) => id.includes('acceptance') || id.includes('verification')).every(([, job]) => job.permissions['id-token'] === undefined)).toBe(true);
  });

  it('GIVEN ac-rest-api WHEN rendered THEN every action is pinned by a full commit SHA from the table, its release beside it', async () => {
    const text = render(await examplePlans()).texts.get('ac-rest-api.yml')!;
    const workflow = parseWorkflow(text);

    const uses = Object.values(workflow.jobs).flatMap((job) => job.steps.flatMap((s) => (s.uses ? [s.uses] : [])));
    const pinned = Object.values(PINNED_ACTIONS).map((a) => `${a.action}@${a.sha}`);
    expect(uses.length).toBeGreaterThan(0);
    for (const use of uses) {
      expect(use).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/);
      expect(pinned).toContain(use);
    }
    for (const action of Object.values(PINNED_ACTIONS)) {
      if (text.includes(action.sha)) expect(text).toContain(`uses: ${action.action}@${action.sha} # ${action.version}`);
    }
  });

  it('GIVEN ac-rest-api WHEN rendered THEN every job runs its action\'s plan lines, as the other engines do', async () => {
    const plans = await examplePlans();
    const plan = plans.pipelines.find((p) => p.pipelineName === 'ac-rest-api')!;
    const workflow = await exampleWorkflow('ac-rest-api.yml');

    const actions = plan.stages.flatMap((s) => s.actions).filter((a): a is CommandsPlanAction => a.kind === 'commands');
    for (const action of actions) {
      const job = Object.values(workflow.jobs).find((j) => j.name.startsWith(`${plan.stages.find((s) => s.actions.includes(action))!.name} / ${action.name}`))!;
      expect(runsOf(job).join('\n'), action.name).toContain(actionCommandLines(action).join('\n').split('\n')[0]!);
      expect(runsOf(job), action.name).toContain(actionCommandLines({ ...action, setup: [] }).join('\n'));
    }
  });

  it('GIVEN ac-rest-api WHEN rendered THEN the package is built once, its digests are job outputs, and every deploy checks them before it runs', async () => {
    const workflow = await exampleWorkflow('ac-rest-api.yml');

    const pack = workflow.jobs['package']!;
    expect(pack.outputs).toEqual({
      'package-sha256': '${{ steps.digests.outputs.package-sha256 }}',
      'package-manifest-sha256': '${{ steps.digests.outputs.package-manifest-sha256 }}',
    });
    const upload = pack.steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'))!;
    expect(upload.with).toMatchObject({ name: 'Package', path: '.pipeline/Package', 'if-no-files-found': 'error' });
    expect(Object.values(workflow.jobs).filter((job) => job.steps.some((s) => s.uses?.startsWith('actions/upload-artifact@') && s.with?.['name'] === 'Package'))).toHaveLength(1);

    for (const id of ['deploy-dev', 'deploy-staging', 'deploy-prod']) {
      const job = workflow.jobs[id]!;
      expect(job.env, id).toMatchObject({
        PACKAGE_SHA256: '${{ needs.package.outputs.package-sha256 }}',
        PACKAGE_MANIFEST_SHA256: '${{ needs.package.outputs.package-manifest-sha256 }}',
      });
      expect(job.env?.['DEPLOYER_ROLE_ARN'], `${id}: the job assumes the deployer; the step must not assume it again`).toBeUndefined();
      const names = job.steps.map((s) => s.name);
      const download = job.steps.find((s) => s.uses?.startsWith('actions/download-artifact@'))!;
      expect(download.with).toEqual({ name: 'Package', path: '.pipeline/Package', 'digest-mismatch': 'error' });
      expect(names.indexOf('Check that the package digests were recorded')).toBeGreaterThan(names.indexOf(download.name));
      expect(names.indexOf('Check that the package digests were recorded')).toBeLessThan(names.indexOf('Deploy'));
      const credentials = job.steps.find((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@'))!;
      expect(credentials.with).toMatchObject({ 'role-to-assume': `arn:aws:iam::${{ dev: '222222222222', staging: '333333333333', prod: '444444444444' }[id.slice(7)]}:role/ac-rest-api-${id.slice(7)}-deployer`, 'aws-region': 'us-east-1' });
      expect(names.indexOf(credentials.name)).toBeGreaterThan(names.indexOf('Set up the workspace'));
    }
  });

  it('GIVEN prod rolls back WHEN rendered THEN its acceptance job carries the package digest, and the rollback redeploys the last good package, digest-checked, then verifies it', async () => {
    const workflow = await exampleWorkflow('ac-rest-api.yml');

    expect(workflow.jobs['acceptance-tests-prod']!.name).toBe('Deploy-prod / AcceptanceTests · package ${{ needs.package.outputs.package-manifest-sha256 }}');
    expect(digestOfTaggedJob(`Deploy-prod / AcceptanceTests · package ${'ab'.repeat(32)}`, 'Deploy-prod')).toBe('ab'.repeat(32));
    expect(workflow.jobs['acceptance-tests-dev']!.name).toBe('Deploy-dev / AcceptanceTests');

    const rollback = workflow.jobs['rollback-prod']!;
    expect(rollback.if).toBe("${{ !cancelled() && contains(needs.*.result, 'failure') && (needs.deploy-prod.outputs.started == 'true') }}");
    expect(workflow.jobs['deploy-prod']!.outputs).toEqual({ started: '${{ steps.started.outputs.started }}' });
    const steps = rollback.steps;
    const lastGood = steps.find((s) => s.id === 'last-good')!;
    expect(lastGood.run).toBe('service-pipelines github last-good --stage Deploy-prod --artifact Package');
    expect(steps.find((s) => s.uses?.startsWith('actions/download-artifact@'))!.with).toEqual({
      name: 'Package',
      path: '.pipeline/Package',
      'run-id': '${{ steps.last-good.outputs.run-id }}',
      'github-token': '${{ github.token }}',
      'digest-mismatch': 'error',
    });
    const redeploy = steps.find((s) => s.name === 'Rollback')!;
    expect(redeploy.run).toBe('service-pipelines step rollback --stage prod --region us-east-1 --package .pipeline/Package');
    expect(redeploy.env).toEqual({ PACKAGE_MANIFEST_SHA256: '${{ steps.last-good.outputs.package-manifest-sha256 }}' });
    expect(steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'))!.with).toMatchObject({ name: 'Outputs_prod_rollback', path: '.pipeline/Outputs_prod' });

    const verification = workflow.jobs['rollback-verification-prod']!;
    expect(verification.if).toBe("${{ !cancelled() && needs.rollback-prod.result == 'success' }}");
    expect(verification.environment).toBeUndefined();
    expect(verification.steps.find((s) => s.uses?.startsWith('actions/download-artifact@'))!.with).toMatchObject({ name: 'Outputs_prod_rollback', path: '.pipeline/Outputs_prod' });
    expect(runsOf(verification)).toContain('service-pipelines step test-acceptance --stage prod --region us-east-1');
  });

  it('GIVEN the example WHEN its workflows are built THEN prod is the environment that needs reviewers, and each rollback environment has none', async () => {
    const built = buildGitHubWorkflows(await examplePlans(), { tool: TEST_TOOL });

    const ofApi = built.environments.filter((e) => e.repository === 'example-org/ac-rest-api').map((e) => [e.name, e.reviewers]);
    expect(ofApi).toEqual([
      ['dev', false],
      ['staging', false],
      ['prod', true],
      ['prod-rollback', false],
    ]);
  });
});

describe('the pull-request workflow', () => {
  it('GIVEN ac-rest-api-pr WHEN rendered THEN it runs lint, unit, integration tests and package on pull_request, with no deploy job and no id-token', async () => {
    const text = render(await examplePlans()).texts.get('ac-rest-api-pr.yml')!;
    const workflow = parseWorkflow(text);

    expect(workflow.on).toEqual({ pull_request: { branches: ['main'] } });
    expect(text).not.toContain('pull_request_target');
    expect(text).not.toContain('id-token');
    expect(Object.keys(workflow.jobs)).toEqual(['lint', 'unit-tests', 'integration-tests', 'package']);
    expect(Object.values(workflow.jobs).every((job) => job.environment === undefined && JSON.stringify(job.permissions) === '{"contents":"read"}')).toBe(true);
    expect(workflow.concurrency).toBeUndefined();
    for (const job of Object.values(workflow.jobs)) {
      expect(job.steps[0]).toMatchObject({ uses: expect.stringMatching(/^actions\/checkout@/), with: { 'persist-credentials': false } });
    }
  });
});

describe('execution modes', () => {
  it('GIVEN each execution mode WHEN mapped THEN SUPERSEDED and QUEUED are one concurrency group (QUEUED queues), PARALLEL none', () => {
    expect(concurrencyOf({ pipelineName: 'svc', executionMode: 'SUPERSEDED' })).toEqual({ group: 'service-pipelines-svc', 'cancel-in-progress': false });
    expect(concurrencyOf({ pipelineName: 'svc', executionMode: 'QUEUED' })).toEqual({ group: 'service-pipelines-svc', 'cancel-in-progress': false, queue: 'max' });
    expect(concurrencyOf({ pipelineName: 'svc', executionMode: 'PARALLEL' })).toBeUndefined();
    expect(parseWorkflow(render(plansOf(everyOptionConfig('QUEUED'))).texts.get('svc.yml')!).concurrency).toEqual({ group: 'service-pipelines-svc', 'cancel-in-progress': false, queue: 'max' });
  });
});

describe('from the plan alone', () => {
  it('GIVEN a plans document read from JSON (no config) with a monorepo folder and trigger paths WHEN rendered THEN the jobs run in the folder and only its changes start them', async () => {
    const plans = await examplePlans();
    const json = JSON.parse(JSON.stringify(plans)) as PlansDocument;
    for (const plan of json.pipelines) {
      plan.source.directory = 'services/api';
      plan.source.triggerPaths = ['services/api/**', 'shared/**'];
    }
    const document = parsePlansDocument(json);

    const push = parseWorkflow(render(document).texts.get('ac-rest-api.yml')!);
    const pr = parseWorkflow(render(document).texts.get('ac-rest-api-pr.yml')!);

    expect(push.on).toEqual({ push: { branches: ['main'], paths: ['services/api/**', 'shared/**'] } });
    expect(pr.on).toEqual({ pull_request: { branches: ['main'], paths: ['services/api/**', 'shared/**'] } });
    const deploy = push.jobs['deploy-prod']! as ParsedJob & { defaults?: { run: Record<string, string> } };
    expect(deploy.defaults).toEqual({ run: { 'working-directory': 'services/api' } });
    expect(deploy.env?.['CODEBUILD_SRC_DIR']).toBe('${{ github.workspace }}/services/api');
    expect(deploy.env?.['CODEBUILD_SRC_DIR_Package']).toBe('${{ github.workspace }}/services/api/.pipeline/Package');
    expect(deploy.steps.find((s) => s.uses?.startsWith('actions/download-artifact@'))!.with).toMatchObject({ path: 'services/api/.pipeline/Package' });
    expect(push.jobs['rollback-prod']!.steps.find((s) => s.name === 'Rollback')!.run).toContain('--package .pipeline/Package');
  });

  it('GIVEN config values holding ${{ WHEN rendered THEN GitHub evaluates only the expressions the engine wrote', () => {
    const text = render(plansOf(everyOptionConfig())).texts.get('svc.yml')!;

    expect(text).toContain("GREETING: it's ${{ '${{' }} github.token }}");
    expect(text).toContain(`--command 'echo "\${{ '\${{' }} not evaluated }}"'`);
    const workflow = parseWorkflow(text);
    for (const job of Object.values(workflow.jobs)) {
      for (const run of runsOf(job)) expect(run.replaceAll("${{ '${{' }}", '')).not.toContain('${{');
    }
  });
});

describe('what GitHub Actions cannot run', () => {
  function firstPlan(mutate: (plan: PipelinePlan) => void, plans: PlansDocument): PlansDocument {
    const copy = JSON.parse(JSON.stringify(plans)) as PlansDocument;
    mutate(copy.pipelines[0]!);
    return copy;
  }

  function problemsOf(plans: PlansDocument): string[] {
    try {
      buildGitHubWorkflows(plans, { tool: TEST_TOOL });
    } catch (error) {
      expect(error).toBeInstanceOf(InputError);
      return (error as InputError).problems.map((p) => `${p.where}: ${p.message}`);
    }
    throw new Error('expected an InputError');
  }

  it('GIVEN a service without source.github WHEN built THEN it is refused, naming the pipeline', async () => {
    const problems = problemsOf(firstPlan((plan) => delete plan.source.github, await examplePlans()));

    expect(problems).toEqual([expect.stringMatching(/^pipelines\[0\] \(ac-rest-api\): source\.github: GitHub Actions runs a pipeline in its service's repository/)]);
  });

  it('GIVEN a webhook on this machine WHEN built THEN it is refused, saying to keep the URL in a secret', async () => {
    const problems = problemsOf(firstPlan((plan) => (plan.notifications.webhook = { url: 'http://127.0.0.1:9000/hook' }), await examplePlans()));

    expect(problems[0]).toMatch(/^notifications\.webhook: http:\/\/127\.0\.0\.1:9000\/hook is on this machine/);
  });

  it('GIVEN an approval no deploy follows WHEN built THEN it is refused (GitHub asks reviewers when a job deploys)', async () => {
    const problems = problemsOf(
      firstPlan((plan) => {
        plan.stages = plan.stages.filter((s) => s.name !== 'Deploy-prod');
      }, await examplePlans()),
    );

    expect(problems).toEqual([expect.stringMatching(/Approve-prod: GitHub asks the reviewers of an environment when a job deploys to it/)]);
  });

  it('GIVEN a pull-request plan with a deploy action WHEN built THEN it is refused', async () => {
    const plans = await examplePlans();
    const problems = problemsOf(
      firstPlan((plan) => {
        const push = plans.pipelines.find((p) => p.pipelineName === 'ac-rest-api')!;
        plan.trigger = 'pull-request';
        plan.stages = push.stages.filter((s) => s.name === 'Build' || s.name === 'Source' || s.name === 'Deploy-dev');
      }, plans),
    );

    expect(problems).toEqual([expect.stringMatching(/Deploy-dev\.Deploy: pull requests run untrusted code/)]);
  });
});
