/**
 * aws-cdk-lib's CloudFormation template validation (`CloudFormationValidatePlugin`, what synthesis
 * runs by default), made cheap enough to keep on:
 *
 * - Each template shape is validated once (`shapeOf`): the pipelines stacks of a config differ
 *   only in their services' names, its deployer stacks only in names and accounts. When the one
 *   template validated for a shape has findings, every template of that shape is validated, so
 *   that each finding is reported where it is.
 * - With threads (`TemplateValidation.start({ threads })`), the validation engine (WebAssembly,
 *   about a second of CPU to build) is built while the main thread synthesizes, and the shapes are
 *   validated in parallel.
 *
 * Findings and their severities are the plugin's own, reported through aws-cdk-lib's validation
 * report as the built-in validation reports them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import {
  CloudFormationValidatePlugin,
  type IPolicyValidationContext,
  type IPolicyValidationPlugin,
  type PolicyValidationPluginReport,
  type PolicyValidationStack,
} from 'aws-cdk-lib';
import type { PlansDocument } from '../model/plan-schema.js';
import { shapeOf } from './template-shapes.js';
import type { ValidationRequest, ValidationWorkerData, WorkerAnswer } from './template-validation-protocol.js';

/**
 * The resource types the engine's templates hold, which a validation thread builds its engine for
 * before any template arrives (a template with another type makes it build the engine again).
 */
export const ENGINE_RESOURCE_TYPES: readonly string[] = [
  'AWS::Chatbot::SlackChannelConfiguration',
  'AWS::CodeBuild::Project',
  'AWS::CodePipeline::Pipeline',
  'AWS::CodePipeline::Webhook',
  'AWS::Events::ApiDestination',
  'AWS::Events::Connection',
  'AWS::Events::Rule',
  'AWS::IAM::ManagedPolicy',
  'AWS::IAM::Policy',
  'AWS::IAM::Role',
  'AWS::KMS::Alias',
  'AWS::KMS::Key',
  'AWS::S3::Bucket',
  'AWS::S3::BucketPolicy',
  'AWS::SNS::Subscription',
  'AWS::SNS::Topic',
  'AWS::SNS::TopicPolicy',
  'AWS::SSM::Parameter',
];

/** How long the main thread waits for a validation thread's answer before giving up. */
const ANSWER_TIMEOUT_MS = 15 * 60_000;

/** Options of `TemplateValidation.start`. */
export interface TemplateValidationOptions {
  /**
   * Threads to validate in, each with an engine of its own (about 300 MB). They start at once and
   * build their engines while the app is built and synthesized.
   *
   * @default 0 - validate in this thread, when the templates are synthesized
   */
  readonly threads?: number;
}

/**
 * The template validation of an app: add `pluginFor(plans)` to the app
 * (`Validations.of(app).addPlugins(...)`, with `builtinCloudFormationValidation: false`), and
 * `close()` once the app is synthesized.
 */
export class TemplateValidation {
  /** Validation in this thread, when the templates are synthesized. */
  static inProcess(): TemplateValidation {
    return new TemplateValidation(0);
  }

  /** Start validation threads now: they build their engines while the app is built. */
  static start(options: TemplateValidationOptions = {}): TemplateValidation {
    return new TemplateValidation(options.threads ?? 0);
  }

  private readonly threads: ValidationThread[] = [];
  private local?: CloudFormationValidatePlugin;

  /** What the last validation did: how many templates it was given, how many it validated (one per shape, and again those of a shape with findings). */
  lastRun?: { readonly templates: number; readonly validated: number };

  private constructor(threads: number) {
    for (let i = 0; i < threads; i++) this.addThread();
  }

  /** One more validation thread (when the app turns out larger than expected), if it can still help. */
  addThread(): void {
    this.threads.push(new ValidationThread());
  }

  /** How many threads validate. */
  get threadCount(): number {
    return this.threads.length;
  }

  /**
   * The plugin that validates an app built from these plans: the names of their services,
   * stacks and environments are what tells one template of a shape from another.
   */
  pluginFor(plans: Pick<PlansDocument, 'pipelines'>): IPolicyValidationPlugin {
    const names = new Set<string>();
    for (const plan of plans.pipelines) {
      names.add(plan.service).add(plan.serverlessService).add(plan.pipelineName);
      for (const environment of plan.environments) names.add(environment.name).add(environment.stackName);
    }
    return {
      name: CloudFormationValidatePlugin.PLUGIN_NAME,
      validate: (context) => this.validate(context, names),
    };
  }

  /** Stop the threads. */
  async close(): Promise<void> {
    await Promise.all(this.threads.splice(0).map((thread) => thread.terminate()));
  }

  private validate(context: IPolicyValidationContext, names: ReadonlySet<string>): PolicyValidationPluginReport {
    const shapes = new Map<string, PolicyValidationStack[]>();
    for (const stack of context.stackTemplates) {
      const key = shapeOf(readFileSync(stack.templatePath, 'utf8'), stack.region, { names });
      shapes.set(key, [...(shapes.get(key) ?? []), stack]);
    }
    const groups = [...shapes.values()];
    const first = this.run(groups.map((group) => group[0]!), context);
    // A shape whose template has findings: validate the others of that shape too, each reported where it is.
    const withFindings = new Set(first.violations.flatMap((v) => v.violatingResources.map((r) => r.templatePath)));
    const again = groups.filter((group) => group.length > 1 && withFindings.has(group[0]!.templatePath)).flatMap((group) => group.slice(1));
    const rest = again.length > 0 ? this.run(again, context) : undefined;
    this.lastRun = { templates: context.stackTemplates.length, validated: groups.length + again.length };
    return merge([first, ...(rest ? [rest] : [])]);
  }

  /** Validate templates, across the threads or in this one. */
  private run(stackTemplates: PolicyValidationStack[], context: IPolicyValidationContext): PolicyValidationPluginReport {
    if (this.threads.length === 0) {
      this.local ??= new CloudFormationValidatePlugin();
      return this.local.validate({ templatePaths: stackTemplates.map((s) => s.templatePath), stackTemplates, appConstruct: context.appConstruct });
    }
    // Largest templates first, each to the thread with the least work so far.
    const load = this.threads.map(() => 0);
    const assigned: PolicyValidationStack[][] = this.threads.map(() => []);
    const sized = stackTemplates.map((stack) => ({ stack, bytes: readFileSync(stack.templatePath).length })).sort((a, b) => b.bytes - a.bytes);
    for (const { stack, bytes } of sized) {
      const least = load.indexOf(Math.min(...load));
      assigned[least]!.push(stack);
      load[least]! += bytes;
    }
    const pending = assigned.flatMap((stacks, i) => (stacks.length > 0 ? [{ thread: this.threads[i]!, id: this.threads[i]!.send(stacks) }] : []));
    return merge(pending.map(({ thread, id }) => thread.receive(id)));
  }
}

/** The reports of several validations, as one. */
function merge(reports: readonly PolicyValidationPluginReport[]): PolicyValidationPluginReport {
  const version = reports.find((r) => r.pluginVersion)?.pluginVersion;
  return {
    success: reports.every((r) => r.success),
    violations: reports.flatMap((r) => r.violations),
    ...(version ? { pluginVersion: version } : {}),
  };
}

/** One validation thread, waited on synchronously. */
class ValidationThread {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly signal = new Int32Array(new SharedArrayBuffer(4));
  private readonly reports = new Map<number, PolicyValidationPluginReport>();
  private nextId = 1;
  private failure?: string;

  constructor() {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    const compiled = new URL('./template-validation-worker.js', import.meta.url);
    // From the sources (tests), the thread runs the TypeScript through jiti, as configs are loaded.
    const entry = existsSync(fileURLToPath(compiled)) ? compiled : new URL('./template-validation-worker.ts', import.meta.url);
    const data: ValidationWorkerData = { port: port2, signal: this.signal, resourceTypes: ENGINE_RESOURCE_TYPES };
    this.worker = new Worker(entry, {
      workerData: data,
      transferList: [port2],
      ...(entry === compiled ? {} : { execArgv: ['--import', import.meta.resolve('jiti/register')] }),
    });
    // The process may end while a thread still builds its engine (synthesis failed first).
    this.worker.unref();
  }

  /** Ask for a validation; the id to `receive` its report by. */
  send(stackTemplates: PolicyValidationStack[]): number {
    const request: ValidationRequest = { id: this.nextId++, stackTemplates };
    this.port.postMessage(request);
    return request.id;
  }

  /**
   * Wait for the report of a request.
   *
   * @throws Error when the thread failed, or did not answer in time
   */
  receive(id: number): PolicyValidationPluginReport {
    const deadline = Date.now() + ANSWER_TIMEOUT_MS;
    for (;;) {
      const seen = Atomics.load(this.signal, 0);
      for (let message = receiveMessageOnPort(this.port); message; message = receiveMessageOnPort(this.port)) {
        this.take(message.message as WorkerAnswer);
      }
      const report = this.reports.get(id);
      if (report) {
        this.reports.delete(id);
        return report;
      }
      if (this.failure !== undefined) throw new Error(`template validation failed: ${this.failure}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`template validation did not answer within ${ANSWER_TIMEOUT_MS / 60_000} minutes`);
      Atomics.wait(this.signal, 0, seen, Math.min(left, 1_000));
    }
  }

  async terminate(): Promise<void> {
    this.port.close();
    await this.worker.terminate();
  }

  private take(answer: WorkerAnswer): void {
    if (answer.kind === 'report') this.reports.set(answer.id, answer.report);
    else if (answer.kind === 'failed') this.failure = answer.message;
  }
}
