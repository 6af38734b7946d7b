/**
 * What the attack suite attacks: the synthesized templates of a config, with the roles it must
 * find in them (from the plans the pipelines were built from).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { CicdApp } from '../../../src/aws/cicd-app.js';
import { wildcardStatements } from '../../../src/aws/acknowledge.js';
import type { PolicyDocumentJson } from '../../../src/aws/deploy-permissions.js';
import { resolveDeployPolicies } from '../../../src/aws/resolve-deploy-policies.js';
import type { PipelinesConfig } from '../../../src/model/config.js';
import type { PipelinePlan } from '../../../src/model/plan-schema.js';
import { buildPlans } from '../../../src/model/plan.js';
import { validateConfig, type ValidConfig } from '../../../src/model/validate.js';
import { loadConfig } from '../../../src/runtime/load-config.js';
import { appOf as cicdAppOf } from '../helpers.js';
import { IamModel, type SynthesizedTemplate } from './iam-model.js';

const projectRoot = path.resolve(import.meta.dirname, '../../..');
export const SHARED_SCHEMAS = path.resolve(projectRoot, '../shared/data/cloudformation-schemas');
export const hasSharedSchemas = existsSync(SHARED_SCHEMAS);
export const NEEDS_SCHEMAS = hasSharedSchemas ? '' : ' (skipped: ../shared/data/cloudformation-schemas is absent)';

/** A config's synthesized IAM, and the plans it was built from. */
export interface Subject {
  readonly name: string;
  readonly config: ValidConfig;
  readonly model: IamModel;
  /** The push plans. */
  readonly plans: PipelinePlan[];
  /** The pull-request plans. */
  readonly pullRequestPlans: PipelinePlan[];
}

/**
 * The app of a config, its inferred policies resolved and reviewed (template validation off: the
 * suites read IAM; validation is tested in synthesize.test.ts).
 */
export async function appOf(config: ValidConfig, baseDir: string): Promise<CicdApp> {
  const inferring = config.services.some((s) => s.deployPermissions !== undefined && !Array.isArray(s.deployPermissions));
  const resolved = inferring ? await resolveDeployPolicies(buildPlans(config), { baseDir, schemas: SHARED_SCHEMAS }) : undefined;
  const reviewed = resolved ? acknowledgeInferred(config, resolved.policies) : config;
  return cicdAppOf(reviewed, resolved ? { deployPolicies: resolved.policies } : {});
}

/** Synthesize a config and read its IAM. */
export async function subjectOf(name: string, config: ValidConfig, baseDir: string): Promise<Subject> {
  const { app, plans } = await appOf(config, baseDir);
  const assembly = app.synth();
  const templates: SynthesizedTemplate[] = assembly.stacksRecursively.map((stack) => ({
    stackName: stack.stackName,
    account: stack.environment.account,
    region: stack.environment.region,
    template: stack.template as SynthesizedTemplate['template'],
  }));
  return {
    name,
    config,
    model: new IamModel(templates),
    plans: plans.pipelines.filter((p) => p.trigger === 'push'),
    pullRequestPlans: plans.pipelines.filter((p) => p.trigger === 'pull-request'),
  };
}

/**
 * What a reviewer does with an inferred policy: read each wildcard statement and acknowledge it
 * in the config (here with one reason, for the attack suite; the statements' Sids follow the
 * inference, so they are read rather than written down).
 */
function acknowledgeInferred(config: ValidConfig, policies: ReadonlyMap<string, readonly PolicyDocumentJson[]>): ValidConfig {
  return {
    ...config,
    services: config.services.map((service) => {
      const documents = [...policies].filter(([key]) => key.startsWith(`${service.name}/`)).flatMap(([, docs]) => docs);
      const sids = documents.flatMap((d) => wildcardStatements(d).map((s) => s.sid ?? ''));
      if (sids.length === 0) return service;
      return { ...service, acknowledgeWildcards: { ...Object.fromEntries(sids.map((sid) => [sid, 'Reviewed: the inference scopes it as tightly as IAM allows.'])), ...service.acknowledgeWildcards } };
    }),
  };
}

/** The example config, as `examples/pipelines.config.ts` defines it. */
export async function exampleConfig(): Promise<ValidConfig> {
  return (await loadConfig('pipelines.config.ts', path.join(projectRoot, 'examples'))).config;
}

/** The example config's ac-rest-api service (the service the package fixture was made from), its permissions inferred from its package. */
export async function exampleInferredConfig(packageDir: string): Promise<ValidConfig> {
  const example = await exampleConfig();
  const input: PipelinesConfig = {
    ...example,
    services: example.services.filter((s) => s.name === 'ac-rest-api').map((s) => ({ ...s, deployPermissions: { infer: packageDir } })),
  } as PipelinesConfig;
  return validateConfig(input);
}
