/**
 * The example's CDK app: what `npx cdk synth` / `npx cdk deploy` run here (see cdk.json).
 *
 * It builds the same app as `service-pipelines synth --config pipelines.config.ts`, into the
 * folder the CDK CLI asks for (CDK_OUTDIR). Your own CDK app can do the same, or compose
 * `ServiceCicdPipelines`, `ServicePipeline`, `CrossAccountDeploymentRole`... by hand.
 *
 * Plain JavaScript on purpose: the CDK CLI runs it with node, no TypeScript loader in between
 * (the config itself is TypeScript; `loadConfig` compiles it).
 */
import { loadConfig } from 'service-pipelines';
import { createCicdApp, resolveDeployPolicies } from 'service-pipelines/aws';

const { config, baseDir } = await loadConfig('pipelines.config.ts', import.meta.dirname);
const { policies, warnings } = await resolveDeployPolicies(config, { baseDir });
for (const warning of warnings) console.warn(`warning: ${warning}`);
const { app } = createCicdApp(config, { deployPolicies: policies, ...(process.env.CDK_OUTDIR ? { outdir: process.env.CDK_OUTDIR } : {}) });
app.synth();
