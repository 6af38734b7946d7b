/**
 * What this example runs in place of a real deploy (a custom-flavor service runs its team's own
 * deploy commands): it loads the handler from the Package the pipeline built, answers one request
 * with it, and records the answer as the environment's outputs, which the acceptance tests read.
 *
 * Usage, in a service's folder: node ../../scripts/stand-in-deploy.mjs <service> '<event JSON>'
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [service, event] = process.argv.slice(2);
const packageDir = process.env.CODEBUILD_SRC_DIR_Package;
const stage = process.env.STAGE;
if (!service || !event || !packageDir || !stage) {
  throw new Error('usage: stand-in-deploy.mjs <service> <event JSON>, with CODEBUILD_SRC_DIR_Package and STAGE set (the pipeline sets them)');
}
const { handler } = await import(pathToFileURL(path.join(packageDir, 'services', service, 'src', 'handler.js')).href);
const response = await handler(JSON.parse(event));
const outputs = path.join('.pipeline', `Outputs_${stage.replace(/-/g, '_')}`);
await mkdir(outputs, { recursive: true });
await writeFile(path.join(outputs, 'stack-outputs.json'), `${JSON.stringify({ ServiceName: service, StatusCode: String(response.statusCode), Body: response.body })}\n`);
console.log(`${service} in ${stage}: the packaged handler answered ${response.statusCode} ${response.body}`);
