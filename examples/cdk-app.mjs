/**
 * The example's CDK app: what `npx cdk synth` / `npx cdk deploy` run here (see cdk.json).
 *
 * It builds the same app as `service-pipelines synth --config pipelines.config.ts`, into the
 * folder the CDK CLI asks for (CDK_OUTDIR), from the config's plans. Your own CDK app can do the
 * same (from a `pipelines.plan.json` too), or compose `ServiceCicdPipelines`, `ServicePipeline`,
 * `CrossAccountDeploymentRole`... by hand.
 *
 * Plain JavaScript on purpose: the CDK CLI runs it with node, no TypeScript loader in between
 * (the config itself is TypeScript; `loadConfig` compiles it).
 */
import { buildPlans, loadConfig } from 'service-pipelines';
import { createCicdApp, resolveDeployPolicies, ToolSource } from 'service-pipelines/aws';

const { config, baseDir } = await loadConfig('pipelines.config.ts', import.meta.dirname);
const plans = buildPlans(config);
const { policies, warnings } = await resolveDeployPolicies(plans, { baseDir });
for (const warning of warnings) console.warn(`warning: ${warning}`);
// The tool the actions install: this project's service-pipelines, packed (or the config's toolSource).
const tool = await ToolSource.fromPlans(plans);
const { app } = createCicdApp(plans, { tool, deployPolicies: policies, ...(process.env.CDK_OUTDIR ? { outdir: process.env.CDK_OUTDIR } : {}) });
app.synth();
