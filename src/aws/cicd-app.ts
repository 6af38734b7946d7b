import { App, Stack, Stage, Validations } from 'aws-cdk-lib';
import { InputError } from '../model/errors.js';
import type { PlansDocument } from '../model/plan-schema.js';
import type { PolicyDocumentJson } from './deploy-permissions.js';
import { checkPrefix, DEFAULT_PREFIX } from './names.js';
import { SelfUpdatePipeline } from './self-update-pipeline.js';
import { ServiceCicdPipelines } from './service-cicd-pipelines.js';
import { TemplateValidation } from './template-validation.js';
import { ToolSource } from './tool-source.js';

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
   * Where the actions get service-pipelines: `ToolSource.fromPlans(plans, pack)`.
   *
   * @default - the plans' `toolSource`; required when they name none
   */
  readonly tool?: ToolSource;
  /** @default 'service-pipelines' */
  readonly prefix?: string;
  /**
   * Inferred deploy policies by `<service>/<environment>` (`resolveDeployPolicies`).
   *
   * @default - none
   */
  readonly deployPolicies?: ReadonlyMap<string, readonly PolicyDocumentJson[]>;
  /** @default - as many as fit (see `ServiceCicdPipelines`) */
  readonly servicesPerStack?: number;
  /**
   * Run aws-cdk-lib's CloudFormation template validation during synthesis, its findings as
   * errors: `true` validates each template shape once in this thread; a `TemplateValidation`
   * started earlier (with threads) validates there; `false` does not validate (unit tests of
   * constructs). `CDK_VALIDATION=false` in the environment also turns it off, as for any CDK app.
   *
   * @default true
   */
  readonly validateTemplates?: boolean | TemplateValidation;
}

/** An app holding the pipelines of a plans document. */
export interface CicdApp {
  readonly app: App;
  /** The pipelines and their stacks. */
  readonly cicd: ServiceCicdPipelines;
  /** The self-update pipeline, when the plans have `selfUpdate`. */
  readonly selfUpdate?: SelfUpdatePipeline;
  /** The plans the pipelines were built from. */
  readonly plans: PlansDocument;
}

/**
 * Build the CDK app of a plans document (`buildPlans(config)`, or `pipelines.plan.json` read with
 * `parsePlansDocument`): the plans are all it reads. Without `selfUpdate`, the shared, pipelines
 * and deployer stacks are the app's stacks. With it, they live in a stage named `Cicd` that the
 * `<prefix>-self-update` stack's pipeline deploys (deploy that stack once by hand; it then keeps
 * itself and everything else up to date).
 *
 * @throws InputError when the plans cannot be built in AWS (no GitHub source, a local webhook...)
 */
export function createCicdApp(plans: PlansDocument, options: CicdAppOptions = {}): CicdApp {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  checkPrefix(prefix);
  const tool = toolOf(plans, options.tool);
  const validation = options.validateTemplates ?? true;
  const app = new App({
    ...(options.outdir ? { outdir: options.outdir } : {}),
    context: { ...CICD_APP_CONTEXT },
    // No AWS::CDK::Metadata resource: it would count against each stack's resources and change with every CDK release.
    analyticsReporting: false,
    // The same validation, each template shape once (see TemplateValidation).
    builtinCloudFormationValidation: false,
  });
  if (validation !== false && process.env['CDK_VALIDATION'] !== 'false') {
    Validations.of(app).addPlugins((validation === true ? TemplateValidation.inProcess() : validation).pluginFor(plans));
  }
  const props = {
    plans,
    tool,
    prefix,
    ...(options.deployPolicies ? { deployPolicies: options.deployPolicies } : {}),
    ...(options.servicesPerStack ? { servicesPerStack: options.servicesPerStack } : {}),
  };
  if (!plans.selfUpdate) {
    return { app, cicd: new ServiceCicdPipelines(app, 'Cicd', props), plans };
  }
  const env = { account: plans.cicd.account, region: plans.cicd.region };
  const stack = new Stack(app, 'SelfUpdate', {
    stackName: `${prefix}-self-update`,
    env,
    description: 'service-pipelines: the pipeline of the pipelines',
  });
  const selfUpdate = new SelfUpdatePipeline(stack, 'SelfUpdate', {
    source: plans.selfUpdate.github,
    pipelineName: `${prefix}-self-update`,
    directory: plans.selfUpdate.directory,
    ...(plans.pipelines.some((p) => p.deployPermissions.kind === 'infer') ? { schemasRegion: plans.cicd.region } : {}),
  });
  const stage = new Stage(app, 'Cicd', { env });
  const cicd = new ServiceCicdPipelines(stage, 'Cicd', props);
  selfUpdate.addStage(stage);
  selfUpdate.build();
  return { app, cicd, selfUpdate, plans };
}

/**
 * The tool of an app: the plans' `toolSource`, else the one given (the packed tool).
 *
 * @throws InputError when the plans name a `toolSource` and another tool is given, or neither
 */
function toolOf(plans: PlansDocument, given: ToolSource | undefined): ToolSource {
  if (plans.toolSource) {
    const fromPlans = ToolSource.fromRegistry(plans.toolSource);
    if (given && JSON.stringify(given.source) !== JSON.stringify(fromPlans.source)) {
      throw new InputError('two sources for the tool the actions install', [
        { where: 'toolSource', message: `the plans name ${plans.toolSource.package}; give no other tool (or remove toolSource to install the packed tool)` },
      ]);
    }
    return fromPlans;
  }
  if (!given) {
    throw new InputError('the actions need the tool they install', [
      { where: 'tool', message: 'give the packed tool (ToolSource.fromPlans(plans, () => packTool(...))), or a toolSource in the config' },
    ]);
  }
  return given;
}
