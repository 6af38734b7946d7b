import { Template, Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { spawnSync } from 'node:child_process';
import { PACKAGE_MANIFEST } from '../../src/aws/names.js';
import { PACKAGE_DIGEST_VARIABLE, PACKAGE_MANIFEST_DIGEST_VARIABLE, PACKAGE_MANIFEST_FILE } from '../../src/steps/package-manifest.js';
import { CODEBUILD_IMAGE, nodeRuntimeLine } from '../../src/aws/node-runtime.js';
import { ServicePipeline, timeLimitLines } from '../../src/aws/service-pipeline.js';
import { ToolDistribution } from '../../src/aws/tool-distribution.js';
import { InputError } from '../../src/model/errors.js';
import { buildPipelinePlan } from '../../src/model/plan.js';
import { validateConfig, type ValidConfig } from '../../src/model/validate.js';
import { actionsOf, CICD, cicdStack, config, CONNECTION, service, testTool } from './helpers.js';

const shared = {
  artifactBucketName: 'artifacts-bucket',
  artifactBucketArn: 'arn:aws:s3:::artifacts-bucket',
  artifactKeyArn: 'arn:aws:kms:us-east-1:111111111111:key/artifacts',
  alertsTopicArn: 'arn:aws:sns:us-east-1:111111111111:alerts',
  alertsKeyArn: 'arn:aws:kms:us-east-1:111111111111:key/alerts',
};

interface CfnAction {
  Name: string;
  ActionTypeId: { Category: string; Provider: string };
  RoleArn?: { 'Fn::GetAtt': [string, string] };
  Commands?: string[];
  InputArtifacts?: { Name: string }[];
  OutputArtifacts?: { Name: string; Files?: string[] }[];
  EnvironmentVariables?: { Name: string; Value: string }[];
  Configuration?: Record<string, unknown>;
}
interface CfnStage {
  Name: string;
  Actions: CfnAction[];
  OnFailure?: { Result: string };
}
interface CfnStatement {
  Sid?: string;
  Action: string | string[];
  Resource: unknown;
}

function synth(cfg: ValidConfig, name = 'ac-rest-api', withPullRequests = true) {
  const stack = cicdStack();
  const tool = new ToolDistribution(stack, 'Tool', { source: testTool() });
  const pipeline = new ServicePipeline(stack, 'Service', {
    plan: buildPipelinePlan(cfg, name, 'push'),
    ...(withPullRequests ? { pullRequestPlan: buildPipelinePlan(cfg, name, 'pull-request') } : {}),
    shared,
    tool,
  });
  const template = Template.fromStack(stack);
  const json = template.toJSON() as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
  const pipelineResource = Object.values(json.Resources).find((r) => r.Type === 'AWS::CodePipeline::Pipeline')!;
  const stages = pipelineResource.Properties['Stages'] as CfnStage[];
  const action = (stage: string, name: string) => stages.find((s) => s.Name === stage)!.Actions.find((a) => a.Name === name)!;
  const logicalIdOf = (role: { roleArn: string }) => stack.resolve(role.roleArn)['Fn::GetAtt'][0] as string;
  const statementsOf = (logicalId: string) =>
    (json.Resources[logicalId]!.Properties['Policies'] as { PolicyDocument: { Statement: CfnStatement[] } }[]).flatMap((p) => p.PolicyDocument.Statement);
  return { stack, tool, pipeline, template, json, stages, action, logicalIdOf, statementsOf };
}

describe('ServicePipeline', () => {
  const cfg = config([service('ac-rest-api')]);

  it('GIVEN the article service WHEN synthesized THEN its V2 pipeline has the plan stages in order, prod rolling back on failure', () => {
    const { template, stages } = synth(cfg);
    template.hasResourceProperties('AWS::CodePipeline::Pipeline', Match.objectLike({ Name: 'ac-rest-api', PipelineType: 'V2', ExecutionMode: 'SUPERSEDED' }));
    expect(stages.map((s) => s.Name)).toEqual(['Source', 'Build', 'Deploy-dev', 'Deploy-staging', 'Approve-prod', 'Deploy-prod']);
    expect(stages.find((s) => s.Name === 'Deploy-prod')!.OnFailure).toEqual({ Result: 'ROLLBACK' });
    expect(stages.find((s) => s.Name === 'Deploy-dev')!.OnFailure).toBeUndefined();
    expect(stages.find((s) => s.Name === 'Build')!.Actions.map((a) => a.Name)).toEqual(['Lint', 'UnitTests', 'IntegrationTests', 'Package']);
  });

  it('GIVEN a connection source WHEN synthesized THEN the source is CodeConnections and a V2 push trigger filters the branch', () => {
    const { template, action } = synth(cfg);
    expect(action('Source', 'Source')).toMatchObject({
      ActionTypeId: { Category: 'Source', Provider: 'CodeStarSourceConnection' },
      Configuration: { ConnectionArn: CONNECTION, FullRepositoryId: 'example-org/ac-rest-api', BranchName: 'main' },
    });
    template.hasResourceProperties('AWS::CodePipeline::Pipeline', {
      Triggers: [{ ProviderType: 'CodeStarSourceConnection', GitConfiguration: { SourceActionName: 'Source', Push: [{ Branches: { Includes: ['main'] } }] } }],
    });
  });

  it('GIVEN the plan actions WHEN synthesized THEN each is a Commands action that selects Node.js, installs the tool by its digest, then runs the plan commands with the plan environment', () => {
    const { action, tool } = synth(cfg);
    const deploy = action('Deploy-staging', 'Deploy');
    expect(deploy.ActionTypeId).toMatchObject({ Category: 'Compute', Provider: 'Commands' });
    expect(deploy.Commands!.slice(0, 2)).toEqual([nodeRuntimeLine(), ...tool.installCommands]);
    expect(deploy.Commands!.slice(-2).map((line) => /^sp_limit (.*)$/.exec(line)?.[1])).toEqual([
      'service-pipelines step install',
      'service-pipelines step deploy --stage staging --region us-east-1',
    ]);
    expect(deploy.EnvironmentVariables).toEqual(
      expect.arrayContaining([
        { Name: 'STAGE', Type: 'PLAINTEXT', Value: 'staging' },
        { Name: 'DEPLOYER_ROLE_ARN', Type: 'PLAINTEXT', Value: 'arn:aws:iam::333333333333:role/ac-rest-api-staging-deployer' },
      ]),
    );
  });

  it('GIVEN the package built once WHEN synthesized THEN only Package writes it, from its .pipeline folder, and every deploy reads that same artifact', () => {
    const { stages, action } = synth(cfg);
    const writers = stages.flatMap((s) => s.Actions).filter((a) => a.OutputArtifacts?.some((o) => o.Name === 'Package'));
    expect(writers.map((a) => a.Name)).toEqual(['Package']);
    expect(action('Build', 'Package').OutputArtifacts).toEqual([{ Name: 'Package', Files: ['.pipeline/Package/**/*'] }]);
    for (const env of ['dev', 'staging', 'prod']) {
      const deploy = action(`Deploy-${env}`, 'Deploy');
      expect(deploy.InputArtifacts).toEqual([{ Name: 'Source' }, { Name: 'Package' }]);
      expect(deploy.Commands).toContain('if [ -d "$CODEBUILD_SRC_DIR_Package/.pipeline/Package" ]; then export CODEBUILD_SRC_DIR_Package="$CODEBUILD_SRC_DIR_Package/.pipeline/Package"; fi');
      expect(action(`Deploy-${env}`, 'AcceptanceTests').InputArtifacts).toEqual([{ Name: 'Source' }, { Name: `Outputs_${env}` }]);
    }
  });

  it('GIVEN build and deploy actions WHEN synthesized THEN build and tests hold no deploy rights, each deploy action may assume only its own deployer role, and each acceptance test only its own invoker role', () => {
    const { pipeline, action, logicalIdOf, statementsOf } = synth(cfg);
    const buildRole = logicalIdOf(pipeline.buildRole);
    const packageRole = logicalIdOf(pipeline.packageRole);
    for (const name of ['Lint', 'UnitTests', 'IntegrationTests']) {
      expect(action('Build', name).RoleArn!['Fn::GetAtt'][0]).toBe(buildRole);
    }
    expect(action('Build', 'Package').RoleArn!['Fn::GetAtt'][0]).toBe(packageRole);
    expect(statementsOf(buildRole).flatMap(actionsOf).filter((a) => a.startsWith('sts:'))).toEqual([]);
    expect(statementsOf(packageRole).flatMap(actionsOf).filter((a) => a.startsWith('sts:'))).toEqual([]);

    for (const env of ['dev', 'staging', 'prod']) {
      const deployRole = logicalIdOf(pipeline.deployRole(env));
      expect(action(`Deploy-${env}`, 'Deploy').RoleArn!['Fn::GetAtt'][0]).toBe(deployRole);
      const account = { dev: '222222222222', staging: '333333333333', prod: '444444444444' }[env];
      const assume = statementsOf(deployRole).filter((s) => actionsOf(s).includes('sts:AssumeRole'));
      expect(assume.map((s) => s.Resource)).toEqual([`arn:aws:iam::${account}:role/ac-rest-api-${env}-deployer`]);
      const acceptanceRole = logicalIdOf(pipeline.acceptanceRole(env));
      expect(action(`Deploy-${env}`, 'AcceptanceTests').RoleArn!['Fn::GetAtt'][0]).toBe(acceptanceRole);
      const invoke = statementsOf(acceptanceRole).filter((s) => actionsOf(s).some((a) => a.startsWith('sts:')));
      expect(invoke.map((s) => [actionsOf(s), s.Resource])).toEqual([[['sts:AssumeRole'], `arn:aws:iam::${account}:role/ac-rest-api-${env}-invoker`]]);
      // The invoke command assumes the invoker role, never the deployer.
      expect(action(`Deploy-${env}`, 'AcceptanceTests').EnvironmentVariables).toEqual(
        expect.arrayContaining([{ Name: 'INVOKER_ROLE_ARN', Type: 'PLAINTEXT', Value: `arn:aws:iam::${account}:role/ac-rest-api-${env}-invoker` }]),
      );
    }
  });

  it('GIVEN lint, tests, acceptance tests and pull-request builds (third-party code) WHEN synthesized THEN they can read artifacts but never replace the package a later stage deploys', () => {
    const { pipeline, logicalIdOf, statementsOf } = synth(cfg);
    const writes = (role: string) => statementsOf(role).flatMap(actionsOf).filter((a) => ['s3:PutObject', 'kms:Encrypt', 'kms:GenerateDataKey*'].includes(a));
    expect(writes(logicalIdOf(pipeline.buildRole))).toEqual([]);
    for (const env of ['dev', 'staging', 'prod']) expect(writes(logicalIdOf(pipeline.acceptanceRole(env)))).toEqual([]);
    expect(statementsOf(logicalIdOf(pipeline.buildRole)).flatMap(actionsOf)).toContain('s3:GetObject');
    expect(writes(logicalIdOf(pipeline.packageRole))).toEqual(['s3:PutObject', 'kms:Encrypt', 'kms:GenerateDataKey*']);
  });

  it('GIVEN the action roles WHEN synthesized THEN they reach only the folders of their own artifacts under this pipeline prefix, and its own log group', () => {
    const { pipeline, logicalIdOf, statementsOf } = synth(cfg);
    const statements = statementsOf(logicalIdOf(pipeline.deployRole('dev')));
    // CodePipeline keys objects by the pipeline's first 20 and the artifact's first 10 characters.
    expect(statements.find((s) => s.Sid === 'ReadArtifacts')!.Resource).toEqual(['arn:aws:s3:::artifacts-bucket/ac-rest-api/Source/*', 'arn:aws:s3:::artifacts-bucket/ac-rest-api/Package/*']);
    expect(statements.find((s) => s.Sid === 'WriteArtifacts')!.Resource).toBe('arn:aws:s3:::artifacts-bucket/ac-rest-api/Outputs_de/*');
    expect(statements.find((s) => s.Sid === 'ActionLogs')!.Resource).toEqual([
      'arn:aws:logs:us-east-1:111111111111:log-group:/aws/codepipeline/ac-rest-api',
      'arn:aws:logs:us-east-1:111111111111:log-group:/aws/codepipeline/ac-rest-api:*',
    ]);
  });

  it('GIVEN an environment behind an approval WHEN synthesized THEN a manual approval notifies the alerts topic and the pipeline role may publish to it', () => {
    const { action, pipeline, logicalIdOf, statementsOf } = synth(cfg);
    expect(action('Approve-prod', 'Approve')).toMatchObject({
      ActionTypeId: { Category: 'Approval', Provider: 'Manual' },
      Configuration: { NotificationArn: shared.alertsTopicArn, CustomData: expect.stringContaining('Deploy ac-rest-api to prod') },
    });
    const publish = statementsOf(logicalIdOf(pipeline.pipelineRole)).find((s) => actionsOf(s).includes('sns:Publish'));
    expect(publish!.Resource).toBe(shared.alertsTopicArn);
  });

  it('GIVEN pull requests WHEN synthesized THEN a CodeBuild project runs the PR plan on PR events and reports its status to GitHub', () => {
    const { template, pipeline, tool } = synth(cfg);
    template.hasResourceProperties('AWS::CodeBuild::Project', {
      Name: 'ac-rest-api-pr',
      Source: Match.objectLike({
        Type: 'GITHUB',
        Location: 'https://github.com/example-org/ac-rest-api.git',
        Auth: { Type: 'CODECONNECTIONS', Resource: CONNECTION },
        ReportBuildStatus: true,
        BuildStatusConfig: { Context: 'service-pipelines/ac-rest-api' },
      }),
      Triggers: {
        Webhook: true,
        FilterGroups: [
          [
            { Type: 'EVENT', Pattern: 'PULL_REQUEST_CREATED, PULL_REQUEST_UPDATED, PULL_REQUEST_REOPENED' },
            { Type: 'BASE_REF', Pattern: '^refs/heads/main$' },
          ],
        ],
      },
      Environment: Match.objectLike({ Image: CODEBUILD_IMAGE }),
      ServiceRole: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ServicePullRequestRole'), 'Arn'] },
    });
    // Pull requests of contributors without write access wait for a maintainer's approving comment.
    template.hasResourceProperties('AWS::CodeBuild::Project', {
      Triggers: Match.objectLike({ PullRequestBuildPolicy: { RequiresCommentApproval: 'ALL_PULL_REQUESTS', ApproverRoles: ['GITHUB_WRITE', 'GITHUB_MAINTAIN', 'GITHUB_ADMIN'] } }),
    });
    // Third-party code gets nothing of the pipeline's: no artifact key either.
    expect(JSON.stringify(template.findResources('AWS::CodeBuild::Project'))).not.toContain('EncryptionKey');
    const buildspec = (pipeline.pullRequests!.project.source as { buildSpec: string }).buildSpec;
    const parsed = parse(buildspec) as { phases: { install: { 'runtime-versions': { nodejs: string }; commands: string[] }; build: { commands: string[] } } };
    expect(parsed.phases.install['runtime-versions'].nodejs).toBe('22');
    expect(parsed.phases.install.commands).toEqual([nodeRuntimeLine(), ...tool.installCommands]);
    // The build actions of the pull-request plan, one after the other; dependencies installed once.
    expect(parsed.phases.build.commands).toEqual([
      'service-pipelines step install',
      'service-pipelines step lint',
      'service-pipelines step test-unit',
      'service-pipelines step test-integration',
      'service-pipelines step package' +
        ' --stage dev@us-east-1 --permissions-boundary dev=arn:aws:iam::222222222222:policy/ac-rest-api-dev-boundary' +
        ' --stage staging@us-east-1 --permissions-boundary staging=arn:aws:iam::333333333333:policy/ac-rest-api-staging-boundary' +
        ' --stage prod@us-east-1 --permissions-boundary prod=arn:aws:iam::444444444444:policy/ac-rest-api-prod-boundary',
    ]);
  });

  it('GIVEN pullRequests: false WHEN synthesized THEN there is no pull-request project', () => {
    const { template } = synth(config([service('ac-rest-api', { pullRequests: false })]), 'ac-rest-api', false);
    template.resourceCountIs('AWS::CodeBuild::Project', 0);
  });

  it("GIVEN the article's OAuth-token source WHEN synthesized THEN a GitHub v1 source reads the token from Secrets Manager and a webhook starts the pipeline", () => {
    const oauth = config([{ name: 'legacy', source: { github: { owner: 'o', repo: 'legacy', githubTokenSecret: 'github-token' } }, pullRequests: false }]);
    const { template, action } = synth(oauth, 'legacy', false);
    expect(action('Source', 'Source')).toMatchObject({
      ActionTypeId: { Category: 'Source', Provider: 'GitHub' },
      Configuration: { Owner: 'o', Repo: 'legacy', Branch: 'main', OAuthToken: '{{resolve:secretsmanager:github-token:SecretString}}', PollForSourceChanges: false },
    });
    template.hasResourceProperties('AWS::CodePipeline::Webhook', Match.objectLike({ Authentication: 'GITHUB_HMAC', TargetAction: 'Source', RegisterWithThirdParty: true }));
  });

  it('GIVEN a service without a GitHub source WHEN built for AWS THEN an InputError names source.github', () => {
    const local = config([{ name: 'local-only', source: { path: './local-only' } }]);
    expect(() => synth(local, 'local-only', false)).toThrow(InputError);
    expect(() => synth(local, 'local-only', false)).toThrow(/services\.local-only\.source\.github: required for the AWS engine/);
  });

  it('GIVEN a time limit beyond what a Commands action runs WHEN validated, or built from a plan file THEN an InputError names timeoutMinutes', () => {
    expect(() => config([service('slow', { timeoutMinutes: 90, pullRequests: false })])).toThrow(/services\[0\]\.timeoutMinutes: 90 minutes is more than AWS can honour/);
    // A plan read from a file is checked by the engine itself.
    const plan = buildPipelinePlan(config([service('slow', { timeoutMinutes: 55, pullRequests: false })]), 'slow', 'push');
    const tooSlow = { ...plan, stages: plan.stages.map((st) => ({ ...st, actions: st.actions.map((a) => (a.kind === 'commands' ? { ...a, timeoutMinutes: 90 } : a)) })) };
    const stack = cicdStack();
    const tool = new ToolDistribution(stack, 'Tool', { source: testTool() });
    expect(() => new ServicePipeline(stack, 'Slow', { plan: tooSlow, shared, tool })).toThrow(/services\.slow\.timeoutMinutes: 90 minutes is more than a CodePipeline Commands action may run \(55\)/);
  });

  it('GIVEN timeoutMinutes WHEN synthesized THEN the action sets its deadline before the steps and runs each step under timeout for what is left, naming the limit when it is reached', () => {
    const { action } = synth(config([service('ac-rest-api', { timeoutMinutes: 15 })]));
    const lint = action('Build', 'Lint').Commands!;
    expect(lint[2]).toBe(
      'SP_DEADLINE=$(( $(date +%s) + 900 )); sp_limit() { timeout --kill-after=30 "$(( SP_DEADLINE - $(date +%s) ))" "$@" || { s=$?; if [ "$s" -eq 124 ]; then echo "Lint ran past its time limit of 15 minutes (timeoutMinutes)" >&2; fi; return "$s"; }; }',
    );
    expect(lint.slice(-2)).toEqual(['sp_limit service-pipelines step install', 'sp_limit service-pipelines step lint']);
  });

  it('GIVEN the package WHEN synthesized THEN the Package action records its digests as output variables, and every deploy receives them from outside the artifact', () => {
    const { action } = synth(cfg);
    const pkg = action('Build', 'Package') as CfnAction & { Namespace?: string; OutputVariables?: string[] };
    expect(pkg.Namespace).toBe('PackageDigest');
    expect(PACKAGE_MANIFEST).toBe(PACKAGE_MANIFEST_FILE);
    expect(pkg.OutputVariables).toEqual(['PACKAGE_SHA256', 'PACKAGE_MANIFEST_SHA256']);
    // The names the deploy step compares (src/steps/package-manifest.ts).
    expect([PACKAGE_DIGEST_VARIABLE, PACKAGE_MANIFEST_DIGEST_VARIABLE]).toEqual(pkg.OutputVariables);
    expect(pkg.Commands!.slice(-2)).toEqual([
      `export PACKAGE_MANIFEST_SHA256="$(sha256sum "$CODEBUILD_SRC_DIR/.pipeline/Package/manifest.json" | cut -d ' ' -f 1)"`,
      `export PACKAGE_SHA256="$(node -p 'const m = require(process.argv[1]); (m.bundle && m.bundle.sha256) || ""' "$CODEBUILD_SRC_DIR/.pipeline/Package/manifest.json")"`,
    ]);
    for (const env of ['dev', 'staging', 'prod']) {
      expect(action(`Deploy-${env}`, 'Deploy').EnvironmentVariables).toEqual(
        expect.arrayContaining([
          { Name: 'PACKAGE_SHA256', Type: 'PLAINTEXT', Value: '#{PackageDigest.PACKAGE_SHA256}' },
          { Name: 'PACKAGE_MANIFEST_SHA256', Type: 'PLAINTEXT', Value: '#{PackageDigest.PACKAGE_MANIFEST_SHA256}' },
        ]),
      );
      expect(action(`Deploy-${env}`, 'AcceptanceTests').EnvironmentVariables!.map((v) => v.Name)).not.toContain('PACKAGE_SHA256');
    }
  });

  it('GIVEN environments whose outputs artifacts share their first 10 characters WHEN synthesized THEN the later gets a name of its own, and the acceptance tests still find it as CODEBUILD_SRC_DIR_<plan name>', () => {
    const both = validateConfig({
      cicd: CICD,
      environments: [
        { name: 'preprod', account: '333333333333', region: 'us-east-1' },
        { name: 'prod', account: '444444444444', region: 'us-east-1' },
      ],
      services: [service('ac-rest-api', { pullRequests: false })],
    });
    const { action, pipeline, logicalIdOf, statementsOf } = synth(both, 'ac-rest-api', false);
    expect(action('Deploy-preprod', 'Deploy').OutputArtifacts![0]!.Name).toBe('Outputs_preprod');
    expect(action('Deploy-prod', 'Deploy').OutputArtifacts).toEqual([{ Name: 'A3_Outputs_prod', Files: ['.pipeline/Outputs_prod/**/*'] }]);
    expect(action('Deploy-prod', 'AcceptanceTests').Commands).toContain(
      'export CODEBUILD_SRC_DIR_Outputs_prod="$CODEBUILD_SRC_DIR_A3_Outputs_prod"; if [ -d "$CODEBUILD_SRC_DIR_Outputs_prod/.pipeline/Outputs_prod" ]; then export CODEBUILD_SRC_DIR_Outputs_prod="$CODEBUILD_SRC_DIR_Outputs_prod/.pipeline/Outputs_prod"; fi',
    );
    const writes = (env: string) => statementsOf(logicalIdOf(pipeline.deployRole(env))).find((s) => s.Sid === 'WriteArtifacts')!.Resource;
    expect(writes('preprod')).toBe('arn:aws:s3:::artifacts-bucket/ac-rest-api/Outputs_pr/*');
    expect(writes('prod')).toBe('arn:aws:s3:::artifacts-bucket/ac-rest-api/A3_Outputs/*');
  });

  it("GIVEN a connection source WHEN synthesized THEN the pipeline role writes only Source, with the ACL grants aws-cdk-lib's CodeStarConnectionsSourceAction gives", () => {
    const { pipeline, logicalIdOf, statementsOf } = synth(cfg);
    const write = statementsOf(logicalIdOf(pipeline.pipelineRole)).find((s) => s.Sid === 'WriteArtifacts')!;
    expect(actionsOf(write)).toEqual(['s3:PutObject', 's3:PutObjectAcl', 's3:PutObjectVersionAcl']);
    expect(write.Resource).toBe('arn:aws:s3:::artifacts-bucket/ac-rest-api/Source/*');
  });

  it('GIVEN more variables than a Commands action takes WHEN synthesized THEN the first ten are action variables and the rest are exported before the steps', () => {
    const variables = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`VAR_${i}`, `value ${i}`]));
    const { action } = synth(config([service('many', { variables, pullRequests: false })]), 'many', false);
    const deploy = action('Deploy-dev', 'Deploy');
    expect(deploy.EnvironmentVariables).toHaveLength(10);
    const exported = deploy.Commands!.filter((c) => c.startsWith('export '));
    // PACKAGE_SHA256, PACKAGE_MANIFEST_SHA256 (first: they are pipeline variables), 9 service variables,
    // SERVICE_NAME, STAGE, TARGET_REGION, DEPLOYER_ROLE_ARN, PERMISSIONS_BOUNDARY_ARN, npm_config_ignore_scripts = 17.
    expect(deploy.EnvironmentVariables!.slice(0, 2).map((v) => v.Name)).toEqual(['PACKAGE_SHA256', 'PACKAGE_MANIFEST_SHA256']);
    expect(exported).toHaveLength(7);
    expect(exported).toContain('export DEPLOYER_ROLE_ARN=arn:aws:iam::222222222222:role/many-dev-deployer');
    expect(exported).toContain('export npm_config_ignore_scripts=true');
  });
});

describe('the time limit of a Commands action, run by a real shell', () => {
  // As CodeBuild runs a phase: the commands in one shell, stopping at the first that fails.
  const run = (shell: string, lines: string[]) => spawnSync(shell, ['-c', ['set -e', ...lines].join('\n')], { encoding: 'utf8', timeout: 60_000 });
  const limit = timeLimitLines({ name: 'Lint', timeoutMinutes: 5 });

  for (const shell of ['sh', 'bash']) {
    it(`GIVEN a step that outlives the deadline WHEN run by ${shell} THEN it is stopped with exit 124 and a message naming the limit`, () => {
      // The deadline is moved to one second from now: the limit's arithmetic, not its length, is under test.
      const result = run(shell, [limit.start, 'SP_DEADLINE=$(( $(date +%s) + 1 ))', limit.wrap('sleep 30'), 'echo not reached']);
      expect(result.status).toBe(124);
      expect(result.stderr).toContain('Lint ran past its time limit of 5 minutes (timeoutMinutes)');
      expect(result.stdout).not.toContain('not reached');
    });

    it(`GIVEN steps within the deadline WHEN run by ${shell} THEN their exit codes and arguments pass through`, () => {
      expect(run(shell, [limit.start, limit.wrap("sh -c 'echo \"$1\"' _ 'two words'")]).stdout).toBe('two words\n');
      const failed = run(shell, [limit.start, limit.wrap('sh -c "exit 3"'), 'echo not reached']);
      expect(failed.status).toBe(3);
      expect(failed.stderr).toBe('');
    });
  }
});
