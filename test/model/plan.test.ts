import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/model/errors.js';
import { pipelinePlanSchema, plansDocumentSchema, type CommandsPlanAction } from '../../src/model/plan-schema.js';
import { actionCommandLines, buildPipelinePlan, buildPlans, deployerRoleArn, parsePlansDocument, shellQuote, stepCommandLine } from '../../src/model/plan.js';
import { validateConfig } from '../../src/model/validate.js';
import { articleConfig } from '../fixtures/configs.js';

const config = () => validateConfig(articleConfig());

describe('buildPipelinePlan (push)', () => {
  const plan = buildPipelinePlan(config(), 'ac-rest-api', 'push');

  it('GIVEN the article config WHEN planned THEN stages go source, build, dev, staging, approval, prod', () => {
    expect(plan.stages.map((s) => s.name)).toEqual(['Source', 'Build', 'Deploy-dev', 'Deploy-staging', 'Approve-prod', 'Deploy-prod']);
  });

  it('THEN the build runs lint, unit tests, integration tests and packages once, in parallel', () => {
    const build = plan.stages[1]!;
    expect(build.actions.map((a) => [a.name, a.runOrder])).toEqual([
      ['Lint', 1],
      ['UnitTests', 1],
      ['IntegrationTests', 1],
      ['Package', 1],
    ]);
    const packageAction = build.actions[3] as CommandsPlanAction;
    expect(packageAction.outputs).toEqual(['Package']);
    expect(packageAction.privilege).toBe('write-package');
    expect(build.actions.slice(0, 3).map((a) => (a as CommandsPlanAction).privilege)).toEqual(['read', 'read', 'read']);
    // Setup and step apart: no engine has to find the install line among the commands.
    expect(packageAction.setup).toEqual([{ step: 'install', args: [], flavor: 'serverless', commands: [] }]);
    expect(packageAction.step).toMatchObject({ step: 'package', flavor: 'serverless', commands: [] });
    expect(actionCommandLines(packageAction)).toEqual([
      'service-pipelines step install',
      'service-pipelines step package' +
        ' --stage dev@us-east-1 --permissions-boundary dev=arn:aws:iam::222222222222:policy/ac-rest-api-dev-boundary' +
        ' --stage staging@us-east-1 --permissions-boundary staging=arn:aws:iam::333333333333:policy/ac-rest-api-staging-boundary' +
        ' --stage prod@eu-west-1 --permissions-boundary prod=arn:aws:iam::444444444444:policy/ac-rest-api-prod-boundary',
    ]);
  });

  it('THEN each environment deploys the one package, then runs acceptance tests against its outputs', () => {
    const prod = plan.stages.find((s) => s.name === 'Deploy-prod')!;
    const [deploy, acceptance] = prod.actions as CommandsPlanAction[];
    expect(deploy).toMatchObject({ name: 'Deploy', runOrder: 1, inputs: ['Source', 'Package'], outputs: ['Outputs_prod'], privilege: 'deploy', environment: 'prod' });
    expect(acceptance).toMatchObject({ name: 'AcceptanceTests', runOrder: 2, inputs: ['Source', 'Outputs_prod'], privilege: 'read', environment: 'prod' });
    expect(deploy!.env).toEqual({
      SERVICE_NAME: 'ac-rest-api',
      STAGE: 'prod',
      TARGET_REGION: 'eu-west-1',
      DEPLOYER_ROLE_ARN: 'arn:aws:iam::444444444444:role/ac-rest-api-prod-deployer',
      PERMISSIONS_BOUNDARY_ARN: 'arn:aws:iam::444444444444:policy/ac-rest-api-prod-boundary',
      npm_config_ignore_scripts: 'true',
    });
    expect(acceptance!.env).not.toHaveProperty('PERMISSIONS_BOUNDARY_ARN');
  });

  it('THEN the approval comes before prod and only prod rolls back on failure', () => {
    expect(plan.stages.find((s) => s.name === 'Approve-prod')?.actions[0]).toMatchObject({ kind: 'approval', environment: 'prod' });
    expect(plan.stages.filter((s) => s.onFailure === 'ROLLBACK').map((s) => s.name)).toEqual(['Deploy-prod']);
    expect(plan.stages.filter((s) => s.rollback !== undefined).map((s) => s.name)).toEqual(['Deploy-prod']);
  });

  it('THEN rolling prod back is said in the plan: the last good release deployed again with the deploy\'s rights, then the acceptance tests', () => {
    const prod = plan.stages.find((s) => s.name === 'Deploy-prod')!;
    const [deploy, acceptance] = prod.actions as CommandsPlanAction[];
    const [rollback, verification] = prod.rollback!.actions;
    expect(prod.rollback).toMatchObject({ strategy: 'redeploy-last-good', environment: 'prod' });
    expect(rollback).toMatchObject({ name: 'Rollback', runOrder: 3, privilege: 'deploy', environment: 'prod', inputs: ['Source'], outputs: ['Outputs_prod'], env: deploy!.env });
    expect(stepCommandLine(rollback!.step!)).toBe('service-pipelines step rollback --stage prod --region eu-west-1');
    expect(verification).toEqual({ ...acceptance, name: 'RollbackVerification', runOrder: 4 });
  });

  it('THEN every artifact an action reads is written before it (an earlier stage, or a lower runOrder)', () => {
    const written = new Set<string>();
    for (const stage of plan.stages) {
      const runOrders = [...new Set(stage.actions.map((a) => a.runOrder))].sort((a, b) => a - b);
      for (const runOrder of runOrders) {
        const batch = stage.actions.filter((a) => a.runOrder === runOrder);
        for (const action of batch) {
          for (const input of action.inputs) expect(written, `${stage.name}.${action.name} reads ${input}`).toContain(input);
        }
        batch.forEach((a) => a.outputs.forEach((o) => written.add(o)));
      }
    }
    expect([...written].sort()).toEqual(plan.artifacts.map((a) => a.name).sort());
  });

  it('THEN the plan is plain JSON that its own schema accepts', () => {
    expect(JSON.parse(JSON.stringify(plan))).toEqual(plan);
    expect(pipelinePlanSchema.parse(plan)).toEqual(plan);
  });
});

describe('buildPipelinePlan (pull request)', () => {
  it('GIVEN a pull request WHEN planned THEN it tests and packages, and deploys nothing', () => {
    const plan = buildPipelinePlan(config(), 'ac-rest-api', 'pull-request');
    expect(plan.pipelineName).toBe('ac-rest-api-pr');
    expect(plan.stages.map((s) => s.name)).toEqual(['Source', 'Build']);
    expect(plan.environments).toEqual([]);
    const commands = plan.stages.flatMap((s) => s.actions).flatMap((a) => (a.kind === 'commands' ? actionCommandLines(a) : []));
    expect(commands.some((c) => / step (deploy|test-acceptance|rollback)/.test(c))).toBe(false);
  });
});

describe('service options', () => {
  it('GIVEN command overrides and a custom flavor WHEN planned THEN the step carries them, shell-quoted', () => {
    const raw = articleConfig();
    raw.services[0] = {
      ...raw.services[0]!,
      flavor: 'custom',
      commands: { package: 'make package', deploy: ["./deploy.sh --stage \"$STAGE\" --note 'it''s'"] },
      environments: ['dev', 'prod'],
      variables: { LOG_LEVEL: 'debug' },
    };
    const plan = buildPipelinePlan(validateConfig(raw), 'ac-rest-api', 'push');
    expect(plan.stages.map((s) => s.name)).toEqual(['Source', 'Build', 'Deploy-dev', 'Approve-prod', 'Deploy-prod']);
    const deploy = plan.stages[2]!.actions[0] as CommandsPlanAction;
    expect(stepCommandLine(deploy.step!)).toBe(
      `service-pipelines step deploy --stage dev --region us-east-1 --flavor custom --command './deploy.sh --stage "$STAGE" --note '\\''it'\\'''\\''s'\\'''`,
    );
    expect(deploy.env.LOG_LEVEL).toBe('debug');
  });

  it('GIVEN pullRequests: false WHEN all plans are built THEN there is no PR pipeline', () => {
    const raw = articleConfig();
    raw.services[0]!.pullRequests = false;
    expect(buildPlans(validateConfig(raw)).pipelines.map((p) => p.pipelineName)).toEqual(['ac-rest-api']);
  });

  it('GIVEN an unknown service WHEN planned THEN the error lists the services the config has', () => {
    expect(() => buildPlans(config(), { service: 'nope' })).toThrow(InputError);
    expect(() => buildPlans(config(), { service: 'nope' })).toThrow('unknown service "nope"; the config has: ac-rest-api');
  });
});

describe('naming helpers', () => {
  it('derives deployer role ARNs per partition', () => {
    expect(deployerRoleArn('svc', 'prod', '444444444444')).toBe('arn:aws:iam::444444444444:role/svc-prod-deployer');
  });

  it('quotes only what a shell would misread', () => {
    expect(shellQuote('dev@us-east-1')).toBe('dev@us-east-1');
    expect(shellQuote('a b')).toBe("'a b'");
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
  });
});

describe('plan snapshots', () => {
  it('GIVEN the article config WHEN every plan is built THEN it matches the reviewed snapshot', async () => {
    const document = buildPlans(config());
    expect(plansDocumentSchema.parse(document)).toEqual(document);
    await expect(`${JSON.stringify(document, null, 2)}\n`).toMatchFileSnapshot('__snapshots__/article.plan.json');
  });
});

describe('the names a service deploys under', () => {
  it('GIVEN serverlessService WHEN the plan is built THEN stacks take that name while roles and the pipeline keep the service name', () => {
    const base = articleConfig();
    const renamed = validateConfig({
      ...base,
      services: [{ ...base.services[0]!, name: 'http-dynamodb', serverlessService: 'serverless-http-api-dynamodb-with-a-long-name' }],
    });
    const plan = buildPipelinePlan(renamed, 'http-dynamodb', 'push');
    expect(plan.pipelineName).toBe('http-dynamodb');
    expect(plan.serverlessService).toBe('serverless-http-api-dynamodb-with-a-long-name');
    expect(plan.environments.map((e) => e.stackName)).toEqual(plan.environments.map((e) => `serverless-http-api-dynamodb-with-a-long-name-${e.name}`));
    expect(plan.environments[0]).toMatchObject({
      deployerRoleName: `http-dynamodb-${plan.environments[0]!.name}-deployer`,
      permissionsBoundaryArn: `arn:aws:iam::${plan.environments[0]!.account}:policy/http-dynamodb-${plan.environments[0]!.name}-boundary`,
    });
  });
});

describe('plans documents', () => {
  it('GIVEN a config WHEN its plans are built THEN the document holds what every engine needs besides the pipelines, and reads back', () => {
    const raw = articleConfig();
    raw.services[0] = { ...raw.services[0]!, deployPermissions: { infer: './ac-rest-api/.serverless', extra: [{ Sid: 'Queue', Action: 'sqs:CreateQueue', Resource: '*' }] }, acknowledgeWildcards: { Queue: 'queues are named at deploy time' } };
    const document = buildPlans(validateConfig(raw));
    expect(document).toMatchObject({ schemaVersion: 2, cicd: { account: '111111111111' } });
    expect(document.pipelines[0]).toMatchObject({
      deployPermissions: { kind: 'infer', template: './ac-rest-api/.serverless', extra: [{ Sid: 'Queue', Action: 'sqs:CreateQueue', Resource: '*' }] },
      acknowledgeWildcards: { Queue: 'queues are named at deploy time' },
    });
    expect(parsePlansDocument(JSON.parse(JSON.stringify(document)))).toEqual(document);
  });

  it('GIVEN a plan of schema version 1 WHEN read THEN it is refused, saying how to write it again', () => {
    const error = (() => {
      try {
        return parsePlansDocument({ schemaVersion: 1, pipelines: [] }, 'pipelines.plan.json');
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).message.split('\n')[0]).toBe('pipelines.plan.json is a plan of schema version 1; this service-pipelines reads version 2');
    expect((error as InputError).problems[0]!.message).toMatch(/service-pipelines plan --json > pipelines.plan.json/);
  });

  it('GIVEN an action with both a step and commands, or a ROLLBACK stage without its rollback WHEN read THEN each problem is named by its path', () => {
    const document = JSON.parse(JSON.stringify(buildPlans(config()))) as { pipelines: { stages: { onFailure: string; rollback?: unknown; actions: Record<string, unknown>[] }[] }[] };
    const build = document.pipelines[0]!.stages[1]!;
    build.actions[0]!.commands = ['make lint'];
    delete document.pipelines[0]!.stages.find((s) => s.onFailure === 'ROLLBACK')!.rollback;
    const error = (() => {
      try {
        return parsePlansDocument(document, 'plan.json');
      } catch (e) {
        return e;
      }
    })() as InputError;
    expect(error.problems.map((p) => `${p.where}: ${p.message}`)).toEqual(
      expect.arrayContaining([
        'plan.json: pipelines.0.stages.1.actions.0.step: an action runs either a step or commands, not both and not neither',
        'plan.json: pipelines.0.stages.5.rollback: a stage has a rollback exactly when its onFailure is ROLLBACK',
      ]),
    );
  });
});
