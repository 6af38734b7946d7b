/**
 * Invoking a function of a deployed stage, for acceptance tests of services that no HTTP request
 * reaches (a queue consumer, a schedule). Acceptance tests get `SERVICE_INVOKE`, a command line
 * that ends in `invoke`: `$SERVICE_INVOKE worker --data '{"Records":[...]}'` prints the function's
 * response. Locally it goes to serverless-offline's Lambda endpoint; in AWS to Lambda's Invoke API,
 * with the credentials of the invoker role (`INVOKER_ROLE_ARN`, which may invoke the service's
 * functions and nothing else), else the deployer role's (`DEPLOYER_ROLE_ARN`).
 *
 * Where to invoke is written by the deploy next to the stack outputs: `functions.json` in the
 * `Outputs_<env>` artifact.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { artifactOutputDirectory, secondarySourceVariable, STEP_ENV } from '../model/contract.js';
import { FailureError, InputError } from '../model/errors.js';
import { outputsArtifactName, shellQuote } from '../model/plan.js';
import type { AwsSeam, TemporaryCredentials } from './aws.js';
import { sessionNameOf } from './deploy.js';
import { readServer } from './local-server.js';

/** STS's shortest session: an invoke takes seconds. */
const INVOKE_SESSION_SECONDS = 900;

/** The variable acceptance tests get: the command line that invokes a function of the stage under test. */
export const SERVICE_INVOKE_VARIABLE = 'SERVICE_INVOKE';

/** In an `Outputs_<env>` artifact: where the stage's functions can be invoked. */
export const FUNCTIONS_FILE = 'functions.json';

/** The content of `functions.json`. */
export interface StageFunctions {
  /** `local`: serverless-offline's Lambda endpoint; `aws`: Lambda's Invoke API. */
  readonly target: 'local' | 'aws';
  readonly region: string;
  /** The Lambda Invoke API of a local stage when it was deployed, `http://127.0.0.1:<lambdaPort>`. */
  readonly lambdaEndpoint?: string;
  /** A local stage's state folder and service: where its server records the port it serves on now (after `up`). */
  readonly localStage?: { readonly home: string; readonly service: string };
  /** Function key (serverless.yml) → the name it is deployed under. */
  readonly functions: Readonly<Record<string, string>>;
}

/** Where a step run in `serviceDir` writes the functions of an environment. */
function functionsFileToWrite(serviceDir: string, environment: string): string {
  return path.join(serviceDir, artifactOutputDirectory(outputsArtifactName(environment)), FUNCTIONS_FILE);
}

/** Write `functions.json` of an environment (whole, then renamed). */
export async function writeStageFunctions(serviceDir: string, environment: string, functions: StageFunctions): Promise<string> {
  const file = functionsFileToWrite(serviceDir, environment);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(`${file}.tmp`, `${JSON.stringify(functions, null, 2)}\n`);
  await rename(`${file}.tmp`, file);
  return file;
}

/**
 * Read `functions.json` of an environment: from the `Outputs_<env>` input artifact, else from what
 * a deploy in this folder wrote.
 *
 * @throws InputError when there is none, or it is not what a deploy writes
 */
export async function readStageFunctions(serviceDir: string, environment: string, env: NodeJS.ProcessEnv): Promise<{ file: string; functions: StageFunctions }> {
  const variable = secondarySourceVariable(outputsArtifactName(environment));
  const file = env[variable] ? path.join(env[variable], FUNCTIONS_FILE) : functionsFileToWrite(serviceDir, environment);
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) {
    throw new InputError(`no functions recorded for stage ${environment}`, [
      { where: file, message: `deploy the stage first (step deploy --stage ${environment}); a custom deploy must write ${FUNCTIONS_FILE} itself to be invoked` },
    ]);
  }
  let value: Partial<StageFunctions>;
  try {
    value = JSON.parse(text) as Partial<StageFunctions>;
  } catch (error) {
    throw new InputError(`${file} is not JSON`, [{ where: file, message: (error as Error).message }]);
  }
  if ((value.target !== 'local' && value.target !== 'aws') || typeof value.region !== 'string' || !value.functions || typeof value.functions !== 'object') {
    throw new InputError(`${file} is not a functions record`, [{ where: file, message: 'expected { "target": "local"|"aws", "region", "functions": { "<key>": "<name>" } }' }]);
  }
  return { file, functions: value as StageFunctions };
}

/** The command line acceptance tests get as `SERVICE_INVOKE`: this installation's CLI, `invoke --stage <env>`. */
export function serviceInvokeCommand(cliPath: string, environment: string, nodePath = process.execPath): string {
  return [nodePath, cliPath, 'invoke', '--stage', environment].map(shellQuote).join(' ');
}

/** What `invokeStageFunction` is asked. */
export interface InvokeRequest {
  readonly stage: string;
  /** The function's key in serverless.yml (`worker`), or the name it is deployed under. */
  readonly function: string;
  /** The event, as JSON text. */
  readonly payload: string;
}

/** What the function answered. */
export interface InvokeResult {
  /** Its response, as JSON text (empty when it returned nothing). */
  readonly payload: string;
  /** The deployed name that was invoked. */
  readonly functionName: string;
}

/** What `invokeStageFunction` runs with. */
export interface InvokeDependencies {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly aws: AwsSeam;
}

/**
 * Invoke a function of a deployed stage and return its response.
 *
 * @throws InputError when the stage has no functions record, the function is unknown, or the payload is not JSON
 * @throws FailureError when the function failed (its error is quoted) or could not be reached
 */
export async function invokeStageFunction(request: InvokeRequest, deps: InvokeDependencies): Promise<InvokeResult> {
  try {
    JSON.parse(request.payload);
  } catch (error) {
    throw new InputError('the event to invoke the function with is not JSON', [{ where: '--data', message: (error as Error).message }]);
  }
  const { file, functions } = await readStageFunctions(deps.cwd, request.stage, deps.env);
  const functionName = functions.functions[request.function] ?? (Object.values(functions.functions).includes(request.function) ? request.function : undefined);
  if (!functionName) {
    throw new InputError(`the ${request.stage} stage has no function "${request.function}"`, [
      { where: file, message: `its functions: ${Object.keys(functions.functions).join(', ') || 'none'}` },
    ]);
  }
  const answer = functions.target === 'local' ? await invokeLocally(functions, request.stage, functionName, request.payload) : await invokeInAws(functions, functionName, request, deps);
  if (answer.functionError) {
    throw new FailureError(`the function ${functionName} (${request.stage}) failed (${answer.functionError}): ${answer.payload}`);
  }
  return { payload: answer.payload, functionName };
}

interface Answer {
  readonly payload: string;
  readonly functionError?: string;
}

async function invokeLocally(functions: StageFunctions, stage: string, functionName: string, payload: string): Promise<Answer> {
  // The stage may have been served again since (`up`, a rollback): its server says where it is now.
  const server = functions.localStage ? await readServer(functions.localStage.home, functions.localStage.service, stage) : undefined;
  const endpoint = server ? `http://127.0.0.1:${server.lambdaPort}` : functions.lambdaEndpoint;
  if (!endpoint) {
    throw new InputError('the local stage recorded no Lambda endpoint', [{ where: FUNCTIONS_FILE, message: 'deploy the stage again' }]);
  }
  const url = `${endpoint}/2015-03-31/functions/${encodeURIComponent(functionName)}/invocations`;
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', headers: { 'x-amz-invocation-type': 'RequestResponse' }, body: payload });
  } catch (error) {
    throw new FailureError(`could not reach the local stage at ${endpoint} (is it served? \`service-pipelines up\`): ${(error as Error).message}`, { cause: error });
  }
  const text = await response.text();
  const functionError = response.headers.get('x-amz-function-error') ?? response.headers.get('x-amzn-errortype') ?? (response.ok ? undefined : `HTTP ${response.status}`);
  return { payload: text, ...(functionError ? { functionError } : {}) };
}

async function invokeInAws(functions: StageFunctions, functionName: string, request: InvokeRequest, deps: InvokeDependencies): Promise<Answer> {
  // In AWS the acceptance tests may assume only their environment's invoker role, never the deployer.
  const roleArn = deps.env[STEP_ENV.invokerRoleArn] || deps.env[STEP_ENV.deployerRoleArn];
  let credentials: TemporaryCredentials | undefined;
  if (roleArn) {
    credentials = await deps.aws.assumeRole({
      roleArn,
      region: functions.region,
      sessionName: `${sessionNameOf(deps.env[STEP_ENV.serviceName] ?? 'service', request.stage).slice(0, 57)}-invoke`,
      durationSeconds: INVOKE_SESSION_SECONDS,
    });
  }
  const answer = await deps.aws.invokeFunction({ functionName, region: functions.region, payload: request.payload, ...(credentials ? { credentials } : {}) });
  return { payload: answer.payload, ...(answer.functionError ? { functionError: answer.functionError } : {}) };
}
