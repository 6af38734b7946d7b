/**
 * Resolving `deployPermissions: { infer }` before synthesis: the deploy policy of each service
 * and environment, inferred from the service's packaged template (see `src/permissions/`).
 * Synthesis itself stays synchronous and offline; this step reads files only.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../model/errors.js';
import type { PlanDeployPermissions, PlansDocument } from '../model/plan-schema.js';
import { partitionOf } from '../model/plan.js';
import { inferDeployPolicy, loadSchemaRegistry, type SchemaRegistry } from '../permissions/index.js';
import { locateSchemas, SCHEMAS_ENV } from '../permissions/schema-cache.js';
import { readTemplateInput, retargetStage } from '../permissions/template-input.js';
import type { PolicyDocumentJson } from './deploy-permissions.js';

export { SCHEMAS_ENV };

/** Options of `resolveDeployPolicies`. */
export interface ResolveDeployPoliciesOptions {
  /** The folder the plans' paths (`deployPermissions.infer`) are relative to: the config file's. */
  readonly baseDir: string;
  /**
   * A folder of CloudFormation registry schemas or a CloudformationSchema.zip.
   *
   * @default - $SERVICE_PIPELINES_SCHEMAS, else the bundle `service-pipelines permissions update` cached for the CICD region
   */
  readonly schemas?: string;
  /**
   * The folder `schemas` is relative to.
   *
   * @default - the current folder
   */
  readonly cwd?: string;
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

/** Inferred policies by `<service>/<environment>`, and what a reviewer should know. */
export interface ResolvedDeployPolicies {
  readonly policies: ReadonlyMap<string, readonly PolicyDocumentJson[]>;
  readonly warnings: readonly string[];
}

/**
 * Infer the deploy policy of every service whose plan says `deployPermissions: { kind: 'infer' }`,
 * for each of its environments. `template` names a template, or a package folder:
 * - a Package (`service-pipelines step package` output, `.pipeline/Package`): each environment's
 *   template, from its `stages/<env>/`;
 * - a folder holding one sub-folder per environment (`<folder>/<env>/cloudformation-template-update-stack.json`):
 *   each environment's own;
 * - one template (or `osls package` output): renamed for each environment, as the stage is baked
 *   into Serverless templates.
 * `extra` statements are added as one more document.
 *
 * @throws InputError when a template or the schemas cannot be found or read
 */
export async function resolveDeployPolicies(plans: PlansDocument, options: ResolveDeployPoliciesOptions): Promise<ResolvedDeployPolicies> {
  const policies = new Map<string, PolicyDocumentJson[]>();
  const warnings: string[] = [];
  const inferring = plans.pipelines
    .filter((plan) => plan.trigger === 'push')
    .map((plan, index) => ({ plan, index }))
    .filter(({ plan }) => plan.deployPermissions.kind === 'infer');
  if (inferring.length === 0) return { policies, warnings };

  const registry = await loadRegistry(plans.cicd.region, options);
  for (const { plan, index } of inferring) {
    const permissions = plan.deployPermissions as Extract<PlanDeployPermissions, { kind: 'infer' }>;
    const source = path.resolve(options.baseDir, permissions.template);
    if (!existsSync(source)) {
      throw new InputError(`the template to infer ${plan.service}'s deploy permissions from was not found`, [
        { where: `services[${index}].deployPermissions.infer`, message: `no file or folder at ${source}` },
      ]);
    }
    const folder = statSync(source).isDirectory();
    for (const environment of plan.environments) {
      const perEnvironment = path.join(source, environment.name);
      const ownFolder = folder && existsSync(perEnvironment);
      // A Package holds each environment's template (stages/<env>/): readTemplateInput picks it by name.
      const fromPackage = folder && !ownFolder && isPackage(source);
      const input = await readTemplateInput(ownFolder ? perEnvironment : source, fromPackage ? { stage: environment.name } : {});
      const ownTemplate = ownFolder || fromPackage;
      // Serverless bakes the stage into resource names: a template packaged for one stage is
      // renamed for the others, so that staging's policy names staging's resources, not dev's.
      const template =
        !ownTemplate && input.service && input.stage && input.stage !== environment.name
          ? retargetStage(input.template, { service: input.service, from: input.stage, to: environment.name })
          : input.template;
      // Every role the policy lets the deployer create or change must carry this environment's
      // boundary (the deployer's deny guardrails enforce it whatever the inferred statements say).
      const inferred = inferDeployPolicy(template, {
        permissionsBoundaryArn: environment.permissionsBoundaryArn,
        deployerRoleArn: environment.deployerRoleArn,
        // The deployer role carries the same denials as its guardrails (CrossAccountDeploymentRole),
        // around every policy it holds: not repeated in each inferred document.
        guard: false,
        registry,
        stackName: environment.stackName,
        region: environment.region,
        account: environment.account,
        partition: partitionOf(environment.region),
        templateName: input.file,
        ...(input.deploymentBucket ? { deploymentBucket: input.deploymentBucket } : {}),
      });
      warnings.push(...inferred.warnings.map((w) => `${plan.service} (${environment.name}): ${w}`));
      const documents: PolicyDocumentJson[] = inferred.documents.map((d) => d as unknown as PolicyDocumentJson);
      if (permissions.extra.length > 0) documents.push({ Version: '2012-10-17', Statement: permissions.extra as PolicyDocumentJson['Statement'] });
      policies.set(`${plan.service}/${environment.name}`, documents);
    }
  }
  return { policies, warnings };
}

/** Whether a folder is a Package (`step package` output: a manifest listing its environments). */
function isPackage(folder: string): boolean {
  return existsSync(path.join(folder, 'manifest.json')) && existsSync(path.join(folder, 'stages'));
}

async function loadRegistry(region: string, options: ResolveDeployPoliciesOptions): Promise<SchemaRegistry> {
  const source = await locateSchemas({
    ...(options.schemas ? { schemas: options.schemas } : {}),
    cwd: options.cwd ?? process.cwd(),
    env: options.env ?? process.env,
    region,
  });
  return loadSchemaRegistry(source);
}
