/**
 * A thread that validates templates with aws-cdk-lib's CloudFormation validation
 * (`CloudFormationValidatePlugin`, the validation `cdk synth` runs by default). It builds the
 * validation engine as soon as it starts, while the main thread synthesizes, then answers each
 * request on its port and bumps the shared counter, so that the main thread can wait for it
 * synchronously (validation plugins are synchronous).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { workerData, type MessagePort } from 'node:worker_threads';
import { CloudFormationValidatePlugin, type IPolicyValidationContext, type PolicyValidationPluginReport } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { signalAnswer, type ValidationRequest, type ValidationWorkerData, type WorkerAnswer } from './template-validation-protocol.js';

const data = workerData as ValidationWorkerData;
const port = data.port as MessagePort;
const plugin = new CloudFormationValidatePlugin();
const appConstruct = new Construct(undefined as unknown as Construct, 'validation');

function answer(message: WorkerAnswer): void {
  port.postMessage(message);
  signalAnswer(data.signal);
}

function validate(stackTemplates: IPolicyValidationContext['stackTemplates']): PolicyValidationPluginReport {
  return plugin.validate({ templatePaths: stackTemplates.map((s) => s.templatePath), stackTemplates, appConstruct });
}

/**
 * Build the engine now, for the resource types the templates will hold (it is built again,
 * correctly but later, for a template with another type): validate a template of one empty
 * resource of each, whose findings nobody reads.
 */
function warmUp(): void {
  const dir = mkdtempSync(path.join(tmpdir(), 'sp-validation-'));
  try {
    const templatePath = path.join(dir, 'warm-up.template.json');
    const resources = Object.fromEntries(data.resourceTypes.map((type, i) => [`R${i}`, { Type: type, Properties: {} }]));
    writeFileSync(templatePath, JSON.stringify({ Resources: resources }));
    validate([{ stackConstructPath: 'warm-up', templatePath, accountId: '111111111111', region: 'us-east-1' }]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

process.on('uncaughtException', (error) => answer({ kind: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) }));

try {
  warmUp();
  answer({ kind: 'ready', version: plugin.version ?? '' });
} catch (error) {
  answer({ kind: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
}

port.on('message', (request: ValidationRequest) => {
  try {
    answer({ kind: 'report', id: request.id, report: validate(request.stackTemplates) });
  } catch (error) {
    answer({ kind: 'failed', id: request.id, message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  }
});
