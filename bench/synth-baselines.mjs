#!/usr/bin/env node
/**
 * Resources per additional service in the CICD account: this engine against the designs the
 * issue measured (a plain CDK pipeline with three CodeBuild projects, CDK Pipelines, and a V2
 * pipeline of CommandsActions with per-action default roles), each built here with aws-cdk-lib.
 *
 *   npm run build && node bench/synth-baselines.mjs
 *
 * Each design is synthesized for 1 and 2 services; the difference is what one more service costs.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Stack } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as actions from 'aws-cdk-lib/aws-codepipeline-actions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as pipelines from 'aws-cdk-lib/pipelines';
import { Template } from 'aws-cdk-lib/assertions';

const dist = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const env = { account: '111111111111', region: 'us-east-1' };
const connectionArn = 'arn:aws:codeconnections:us-east-1:111111111111:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789';
const count = (stack) => Object.keys(Template.fromStack(stack).toJSON().Resources ?? {}).length;
const newStack = () => new Stack(new App({ analyticsReporting: false, builtinCloudFormationValidation: false }), 'Cicd', { env });

/** The article's design on today's CDK: a pipeline, its own bucket, three CodeBuild projects (build+dev, staging, prod). */
function articlePipeline(stack, name) {
  const source = new codepipeline.Artifact();
  const pipeline = new codepipeline.Pipeline(stack, name, { pipelineName: name, pipelineType: codepipeline.PipelineType.V2 });
  pipeline.addStage({ stageName: 'Source', actions: [new actions.CodeStarConnectionsSourceAction({ actionName: 'Source', owner: 'o', repo: name, connectionArn, output: source })] });
  for (const stage of ['dev', 'staging', 'prod']) {
    const project = new codebuild.PipelineProject(stack, `${name}-${stage}`, { buildSpec: codebuild.BuildSpec.fromObject({ version: '0.2', phases: { build: { commands: ['./build.sh'] } } }) });
    pipeline.addStage({ stageName: stage, actions: [new actions.CodeBuildAction({ actionName: stage, project, input: source })] });
  }
}

/** CDK Pipelines per service: a synth step and three deploy-like steps. */
function cdkPipelinesPipeline(stack, name) {
  const pipeline = new pipelines.CodePipeline(stack, name, {
    pipelineName: name,
    synth: new pipelines.ShellStep('Synth', { input: pipelines.CodePipelineSource.connection(`o/${name}`, 'main', { connectionArn }), commands: ['npm ci', 'npx cdk synth'] }),
  });
  pipeline.addWave('Deploy', { post: ['dev', 'staging', 'prod'].map((stage) => new pipelines.ShellStep(stage, { commands: ['./build.sh'] })) });
  pipeline.buildPipeline();
}

/** The intermediate design: a V2 pipeline of four CommandsActions, default per-action roles, a shared bucket. */
function commandsPipeline(stack, name, bucket) {
  const source = new codepipeline.Artifact();
  const pipeline = new codepipeline.Pipeline(stack, name, { pipelineName: name, pipelineType: codepipeline.PipelineType.V2, artifactBucket: bucket });
  pipeline.addStage({ stageName: 'Source', actions: [new actions.CodeStarConnectionsSourceAction({ actionName: 'Source', owner: 'o', repo: name, connectionArn, output: source })] });
  for (const stage of ['build', 'dev', 'staging', 'prod']) {
    pipeline.addStage({ stageName: stage, actions: [new actions.CommandsAction({ actionName: stage, input: source, commands: ['./build.sh'] })] });
  }
}

function perService(build) {
  const sizes = [1, 2].map((services) => {
    const stack = newStack();
    const shared = new s3.Bucket(stack, 'Shared');
    for (let i = 0; i < services; i++) build(stack, `service-${i}`, shared);
    return count(stack);
  });
  return sizes[1] - sizes[0];
}

async function thisEngine() {
  const { buildPlans, validateConfig } = await import(path.join(dist, 'model/index.js'));
  const { createCicdApp, ToolSource } = await import(path.join(dist, 'aws/index.js'));
  // A stand-in for the packed tool: what the actions install changes no resource count.
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'sp-bench-tool-')), 'tool.tgz');
  writeFileSync(file, 'stand-in');
  const tool = ToolSource.fromPackedTool({ file, sha256: createHash('sha256').update('stand-in').digest('hex'), version: '0.0.0' });
  const sizes = [1, 2].map((services) => {
    const config = validateConfig({
      cicd: env,
      environments: [
        { name: 'dev', account: '222222222222', region: 'us-east-1' },
        { name: 'staging', account: '333333333333', region: 'us-east-1' },
        { name: 'prod', account: '444444444444', region: 'us-east-1', approval: true, rollbackOnFailure: true },
      ],
      services: Array.from({ length: services }, (_, i) => ({ name: `service-${i}`, source: { github: { owner: 'o', repo: `service-${i}`, connectionArn } } })),
    });
    const { cicd } = createCicdApp(buildPlans(config), { tool, validateTemplates: false });
    return [cicd.sharedStack, ...cicd.pipelineStacks].map(count).reduce((a, b) => a + b, 0);
  });
  return sizes[1] - sizes[0];
}

const rows = [
  { design: 'article pipeline, 3 CodeBuild projects (CDK L2 defaults)', pullRequests: 'no', perService: perService(articlePipeline) },
  { design: 'CDK Pipelines CodePipeline (synth + 3 steps)', pullRequests: 'no', perService: perService(cdkPipelinesPipeline) },
  { design: 'V2 pipeline, 4 CommandsActions, default roles, shared bucket', pullRequests: 'no', perService: perService(commandsPipeline) },
  { design: 'service-pipelines (this engine)', pullRequests: 'yes (CodeBuild project reporting to the PR)', perService: await thisEngine() },
];
console.table(rows);
