/**
 * The `Outputs_<env>` artifact: the deployed stack's outputs (`stack-outputs.json`), written by
 * deploy and rollback, read by the acceptance tests.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { artifactOutputDirectory, secondarySourceVariable, STACK_OUTPUTS_FILE, STEP_ENV } from '../model/contract.js';
import { InputError } from '../model/errors.js';
import { outputsArtifactName } from '../model/plan.js';

/** Where a step run in `serviceDir` writes the outputs of an environment. */
export function stackOutputsFileToWrite(serviceDir: string, environment: string): string {
  return path.join(serviceDir, artifactOutputDirectory(outputsArtifactName(environment)), STACK_OUTPUTS_FILE);
}

/** Write the outputs of an environment (whole, then renamed). */
export async function writeStackOutputs(serviceDir: string, environment: string, outputs: Readonly<Record<string, string>>): Promise<string> {
  const file = stackOutputsFileToWrite(serviceDir, environment);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(`${file}.tmp`, `${JSON.stringify(outputs, null, 2)}\n`);
  await rename(`${file}.tmp`, file);
  return file;
}

/**
 * Read the outputs of an environment: from the `Outputs_<env>` input artifact
 * (`CODEBUILD_SRC_DIR_Outputs_<env>`), else from what a deploy in this folder wrote.
 *
 * @throws InputError when there are none, or they are not a JSON object of strings
 */
export async function readStackOutputs(serviceDir: string, environment: string, env: NodeJS.ProcessEnv): Promise<{ file: string; outputs: Record<string, string> }> {
  const variable = secondarySourceVariable(outputsArtifactName(environment));
  const fromArtifact = env[variable];
  const file = fromArtifact ? path.join(fromArtifact, STACK_OUTPUTS_FILE) : stackOutputsFileToWrite(serviceDir, environment);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new InputError(`no stack outputs for stage ${environment}`, [
      { where: file, message: `deploy the stage first (step deploy --stage ${environment}), or set ${variable} to the folder of its ${STACK_OUTPUTS_FILE}` },
    ]);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InputError(`${file} is not JSON`, [{ where: file, message: (error as Error).message }]);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Object.values(value).some((v) => typeof v !== 'string')) {
    throw new InputError(`${file} is not a map of stack outputs`, [{ where: file, message: 'expected { "OutputKey": "value", ... }' }]);
  }
  return { file, outputs: value as Record<string, string> };
}

/** What acceptance tests get: every output as a variable, and `SERVICE_URL` (= ServiceEndpoint, else HttpApiUrl). */
export function acceptanceVariables(outputs: Readonly<Record<string, string>>): Record<string, string> {
  const variables: Record<string, string> = {};
  for (const [key, value] of Object.entries(outputs)) {
    if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      variables[key] = value;
    }
  }
  const url = outputs.ServiceEndpoint ?? outputs.HttpApiUrl;
  if (url !== undefined) {
    variables[STEP_ENV.serviceUrl] = url;
  }
  return variables;
}
