/**
 * Resolving `deployPermissions: { infer }` before synthesis: the deploy policy of each service
 * and environment, inferred from the service's packaged template (see `src/permissions/`).
 * Synthesis itself stays synchronous and offline; this step reads files only.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../model/errors.js';
import type { PolicyStatementJson } from '../model/config.js';
import { environmentsOf, partitionOf } from '../model/plan.js';
import type { ValidConfig } from '../model/validate.js';
import { inferDeployPolicy, loadSchemaRegistry, type SchemaRegistry } from '../permissions/index.js';
import { locateSchemas, SCHEMAS_ENV } from '../permissions/schema-cache.js';
import { readTemplateInput, retargetStage } from '../permissions/template-input.js';
import type { PolicyDocumentJson } from './deploy-permissions.js';

export { SCHEMAS_ENV };

/** Options of `resolveDeployPolicies`. */
export interface ResolveDeployPoliciesOptions {
  /** The folder `infer` paths are relative to: the config file's. */
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
 * Infer the deploy policy of every service with `deployPermissions: { infer }`, for each of its
 * environments. `infer` names a template, or a package folder; a package folder holding one
 * sub-folder per environment (`<folder>/<env>/cloudformation-template-update-stack.json`) gives
 * each environment its own template (the stage is baked into Serverless templates).
 * `extra` statements are added as one more document.
 *
 * @throws InputError when a template or the schemas cannot be found or read
 */
export async function resolveDeployPolicies(config: ValidConfig, options: ResolveDeployPoliciesOptions): Promise<ResolvedDeployPolicies> {
  const policies = new Map<string, PolicyDocumentJson[]>();
  const warnings: string[] = [];
  const inferring = config.services.map((service, index) => ({ service, index })).filter(({ service }) => service.deployPermissions && !Array.isArray(service.deployPermissions));
  if (inferring.length === 0) return { policies, warnings };

  const registry = await loadRegistry(config, options);
  for (const { service, index } of inferring) {
    const permissions = service.deployPermissions as { infer: string; extra?: PolicyStatementJson[] };
    const source = path.resolve(options.baseDir, permissions.infer);
    if (!existsSync(source)) {
      throw new InputError(`the template to infer ${service.name}'s deploy permissions from was not found`, [
        { where: `services[${index}].deployPermissions.infer`, message: `no file or folder at ${source}` },
      ]);
    }
    for (const environment of environmentsOf(config, service)) {
      const perEnvironment = path.join(source, environment.name);
      const ownTemplate = statSync(source).isDirectory() && existsSync(perEnvironment);
      const input = await readTemplateInput(ownTemplate ? perEnvironment : source);
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
      warnings.push(...inferred.warnings.map((w) => `${service.name} (${environment.name}): ${w}`));
      const documents: PolicyDocumentJson[] = inferred.documents.map((d) => d as unknown as PolicyDocumentJson);
      if (permissions.extra?.length) documents.push({ Version: '2012-10-17', Statement: permissions.extra });
      policies.set(`${service.name}/${environment.name}`, documents);
    }
  }
  return { policies, warnings };
}

async function loadRegistry(config: ValidConfig, options: ResolveDeployPoliciesOptions): Promise<SchemaRegistry> {
  const source = await locateSchemas({
    ...(options.schemas ? { schemas: options.schemas } : {}),
    cwd: options.cwd ?? process.cwd(),
    env: options.env ?? process.env,
    region: config.cicd.region,
  });
  return loadSchemaRegistry(source);
}
