import { App, Stack, Stage } from 'aws-cdk-lib';
import type { ValidConfig } from '../model/validate.js';
import type { PlansDocument } from '../model/plan-schema.js';
import { buildPlans } from '../model/plan.js';
import type { PolicyDocumentJson } from './deploy-permissions.js';
import { checkPrefix, DEFAULT_PREFIX } from './names.js';
import { SelfUpdatePipeline } from './self-update-pipeline.js';
import { ServiceCicdPipelines } from './service-cicd-pipelines.js';

/**
 * The context every app of this engine synthesizes with: CloudFormation template validation
 * findings fail synthesis (by default they are only warnings), and construct metadata carries
 * no stack traces (they double the cloud assembly's size and the synthesis time of large apps).
 */
export const CICD_APP_CONTEXT: Readonly<Record<string, unknown>> = {
  '@aws-cdk/core:validateAgainstDefaultRules': true,
  'aws:cdk:disable-stack-trace': true,
};

/** Options of `createCicdApp`. */
export interface CicdAppOptions {
  /**
   * Where the cloud assembly is written.
   *
   * @default - a temporary folder
   */
  readonly outdir?: string;
  /**
   * The plans.
   *
   * @default - `buildPlans(config)`
   */
  readonly plans?: PlansDocument;
  /** @default 'service-pipelines' */
  readonly prefix?: string;
  /**
   * Inferred deploy policies by `<service>/<environment>`.
   *
   * @default - none
   */
  readonly deployPolicies?: ReadonlyMap<string, readonly PolicyDocumentJson[]>;
  /** @default - as many as fit (see `ServiceCicdPipelines`) */
  readonly servicesPerStack?: number;
  /** @default - this package's version */
  readonly toolVersion?: string;
  /**
   * Run aws-cdk-lib's CloudFormation template validation during synthesis, its findings as errors.
   * It costs about 15 s per synthesis; unit tests of constructs may turn it off.
   *
   * @default true
   */
  readonly validateTemplates?: boolean;
}

/** An app holding a config's pipelines. */
export interface CicdApp {
  readonly app: App;
  /** The pipelines and their stacks. */
  readonly cicd: ServiceCicdPipelines;
  /** The self-update pipeline, when the config has `selfUpdate`. */
  readonly selfUpdate?: SelfUpdatePipeline;
  /** The plans the pipelines were built from. */
  readonly plans: PlansDocument;
}

/**
 * Build the CDK app of a config. Without `selfUpdate`, the shared, pipelines and deployer
 * stacks are the app's stacks. With it, they live in a stage named `Cicd` that the
 * `<prefix>-self-update` stack's pipeline deploys (deploy that stack once by hand; it then keeps
 * itself and everything else up to date).
 */
export function createCicdApp(config: ValidConfig, options: CicdAppOptions = {}): CicdApp {
  const plans = options.plans ?? buildPlans(config);
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  checkPrefix(prefix);
  const app = new App({
    ...(options.outdir ? { outdir: options.outdir } : {}),
    context: { ...CICD_APP_CONTEXT },
    // No AWS::CDK::Metadata resource: it would count against each stack's resources and change with every CDK release.
    analyticsReporting: false,
    builtinCloudFormationValidation: options.validateTemplates ?? true,
  });
  const props = {
    config,
    plans,
    prefix,
    ...(options.deployPolicies ? { deployPolicies: options.deployPolicies } : {}),
    ...(options.servicesPerStack ? { servicesPerStack: options.servicesPerStack } : {}),
    ...(options.toolVersion ? { toolVersion: options.toolVersion } : {}),
  };
  if (!config.selfUpdate) {
    return { app, cicd: new ServiceCicdPipelines(app, 'Cicd', props), plans };
  }
  const env = { account: config.cicd.account, region: config.cicd.region };
  const stack = new Stack(app, 'SelfUpdate', {
    stackName: `${prefix}-self-update`,
    env,
    description: 'service-pipelines: the pipeline of the pipelines',
  });
  const selfUpdate = new SelfUpdatePipeline(stack, 'SelfUpdate', {
    source: config.selfUpdate.github,
    pipelineName: `${prefix}-self-update`,
    ...(config.selfUpdate.directory ? { directory: config.selfUpdate.directory } : {}),
    ...(config.services.some((s) => s.deployPermissions && !Array.isArray(s.deployPermissions)) ? { schemasRegion: config.cicd.region } : {}),
  });
  const stage = new Stage(app, 'Cicd', { env });
  const cicd = new ServiceCicdPipelines(stage, 'Cicd', props);
  selfUpdate.addStage(stage);
  selfUpdate.build();
  return { app, cicd, selfUpdate, plans };
}
