import { SecretValue, Validations, type Stage } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as pipelines from 'aws-cdk-lib/pipelines';
import { Construct } from 'constructs';
import { InputError } from '../model/errors.js';
import { shellQuote } from '../model/plan.js';
import { acknowledgeWildcardsBelow } from './acknowledge.js';
import { CODEBUILD_IMAGE, nodeRuntimeLine, RUNTIME_VERSIONS } from './node-runtime.js';

/** The pipelines' own repository. */
export interface SelfUpdateSource {
  /** The repository's owner. */
  readonly owner: string;
  /** The repository's name. */
  readonly repo: string;
  /**
   * The branch whose pushes update the pipelines.
   *
   * @default 'main'
   */
  readonly branch?: string;
  /**
   * A CodeConnections connection to GitHub (recommended).
   *
   * @default - use `githubTokenSecret`
   */
  readonly connectionArn?: string;
  /**
   * A Secrets Manager secret holding a GitHub token (the article's source).
   *
   * @default - use `connectionArn`
   */
  readonly githubTokenSecret?: string;
}

/** Properties of a `SelfUpdatePipeline`. */
export interface SelfUpdatePipelineProps {
  /** The repository holding `pipelines.config.ts`. */
  readonly source: SelfUpdateSource;
  /**
   * The folder of the repository that holds `pipelines.config.ts` and its `package.json`.
   *
   * @default '.'
   */
  readonly directory?: string;
  /**
   * The pipeline's name.
   *
   * @default 'service-pipelines-self-update'
   */
  readonly pipelineName?: string;
  /**
   * The config file, relative to `directory`.
   *
   * @default 'pipelines.config.ts'
   */
  readonly configFile?: string;
  /**
   * The region whose CloudFormation resource schemas the synth step downloads first, for services
   * whose deploy permissions are inferred (`deployPermissions: { infer }`).
   *
   * @default - none downloaded: no service infers its permissions
   */
  readonly schemasRegion?: string;
}

/**
 * The pipeline of the pipelines (the article's "extra meta" wish): on a push to the pipelines'
 * own repository it installs, runs the repository's tests, synthesizes the app with
 * `service-pipelines synth`, updates itself, then deploys the stages added with `addStage`:
 * the pipelines stacks in the CICD account and the deployer-role stacks in each target account.
 *
 * Built on CDK Pipelines (`pipelines.CodePipeline`), which handles self-mutation, cross-account
 * deployment through the bootstrapped roles (`cdk bootstrap --trust <cicd account>` in each
 * target account) and change sets.
 *
 * Its projects run on a CodeBuild standard image with Node.js 22 selected (`runtime-versions`);
 * the synth step checks it first. It runs the repository's own service-pipelines, installed by
 * `npm ci` from its lockfile (`npx --no-install`: never a package fetched by name), which packs
 * itself into the cloud assembly for the pipelines' actions.
 */
export class SelfUpdatePipeline extends Construct {
  /** The CDK Pipelines pipeline: call `addStage` on it (or on this construct). */
  readonly pipeline: pipelines.CodePipeline;

  constructor(scope: Construct, id: string, props: SelfUpdatePipelineProps) {
    super(scope, id);
    const { source } = props;
    const branch = source.branch ?? 'main';
    const repository = `${source.owner}/${source.repo}`;
    let input: pipelines.CodePipelineSource;
    if (source.connectionArn) {
      input = pipelines.CodePipelineSource.connection(repository, branch, { connectionArn: source.connectionArn });
    } else if (source.githubTokenSecret) {
      input = pipelines.CodePipelineSource.gitHub(repository, branch, { authentication: SecretValue.secretsManager(source.githubTokenSecret) });
    } else {
      throw new InputError('the self-update pipeline needs a source', [
        { where: 'selfUpdate.github', message: 'give connectionArn (recommended) or githubTokenSecret' },
      ]);
    }
    const directory = props.directory ?? '.';
    const configFile = props.configFile ?? 'pipelines.config.ts';
    const inDirectory = directory === '.' ? [] : [`cd ${shellQuote(directory)}`];
    this.pipeline = new pipelines.CodePipeline(this, 'Pipeline', {
      pipelineName: props.pipelineName ?? 'service-pipelines-self-update',
      pipelineType: codepipeline.PipelineType.V2,
      crossAccountKeys: true,
      enableKeyRotation: true,
      synth: new pipelines.ShellStep('Synth', {
        input,
        commands: [
          nodeRuntimeLine(),
          ...inDirectory,
          'npm ci',
          'npm test --if-present',
          // The repository's own service-pipelines (a devDependency its lockfile pins): npx never fetches it by name.
          ...(props.schemasRegion ? [`npx --no-install service-pipelines permissions update --region ${shellQuote(props.schemasRegion)}`] : []),
          `npx --no-install service-pipelines synth --config ${shellQuote(configFile)} --out cdk.out`,
        ],
        primaryOutputDirectory: directory === '.' ? 'cdk.out' : `${directory}/cdk.out`,
      }),
      codeBuildDefaults: {
        buildEnvironment: { buildImage: codebuild.LinuxBuildImage.fromCodeBuildImageId(CODEBUILD_IMAGE) },
        partialBuildSpec: codebuild.BuildSpec.fromObject({ phases: { install: { 'runtime-versions': { ...RUNTIME_VERSIONS } } } }),
      },
    });
  }

  /** Deploy a stage (the CICD stacks and deployer-role stacks) after the pipeline updated itself. */
  addStage(stage: Stage, options?: pipelines.AddStageOpts): pipelines.StageDeployment {
    return this.pipeline.addStage(stage, options);
  }

  /**
   * Build the pipeline now (CDK Pipelines otherwise builds it during synthesis), so that the
   * wildcards of the roles it generates can be reviewed and acknowledged. No stage can be added after.
   */
  build(): void {
    this.pipeline.buildPipeline();
    Validations.of(this.pipeline.pipeline.artifactBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        "CDK Pipelines' own artifact bucket (KMS-encrypted, TLS-only, private) holds only this repository's cloud assemblies and is reached only by this pipeline's roles; access logs would take a second bucket for this one.",
    });
    // Environments in other regions than the pipeline's get CDK Pipelines' replication buckets,
    // one per region, in support stacks of their own.
    for (const { replicationBucket } of Object.values(this.pipeline.pipeline.crossRegionSupport)) {
      Validations.of(replicationBucket).acknowledge({
        id: 'AwsSolutions-S1',
        reason:
          "CDK Pipelines' cross-region replication bucket (KMS-encrypted, private) holds only copies of this pipeline's artifacts for the deployments in its region, reached only by this pipeline's roles.",
      });
    }
    acknowledgeWildcardsBelow(
      this,
      "CDK Pipelines' generated roles: wildcards over its own artifact bucket objects and key, its CodeBuild log streams and report groups, and the bootstrapped cdk-* roles it assumes to deploy and publish.",
    );
  }
}
