/**
 * aws-cdk-lib's CloudFormation template validation (`CloudFormationValidatePlugin`, what synthesis
 * runs by default), made cheap enough to keep on:
 *
 * - Each fragment shape is validated once: a template is split into the groups of resources that
 *   refer to one another (`fragmentsOf`: a service's pipeline and its action roles, a deployer
 *   role and its policies...), and fragments that differ only in names and accounts (`shapeOf`)
 *   are validated once. When a fragment has findings, every template holding one of its shape is
 *   validated whole, so that each finding is reported where it is.
 *   What a fragment cannot show: a rule that compares resources which do not refer to one
 *   another (two resources with the same physical name, E3019) sees one fragment at a time, and
 *   the per-template limits (resources, size, outputs) are checked on fragments; synthesis checks
 *   each template against CloudFormation's limits itself (`CLOUDFORMATION_LIMITS`), and the
 *   engine's names are unique by construction (synth refuses services whose names collide).
 * - With threads (`TemplateValidation.start({ threads })`), the validation engine (WebAssembly,
 *   about two seconds of CPU to build, once for every resource type the engine writes) is built
 *   while the main thread synthesizes; one thread is enough: the fragments take milliseconds each.
 *
 * Findings and their severities are the plugin's own, reported through aws-cdk-lib's validation
 * report as the built-in validation reports them.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
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
import { fragmentsOf, shapeOf } from './template-shapes.js';
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

  /** What the last validation did: how many templates it was given, how many fragments and templates it validated, how many of them whole. */
  lastRun?: { readonly templates: number; readonly validated: number; readonly validatedWhole: number };

  private constructor(threads: number) {
    for (let i = 0; i < threads; i++) this.threads.push(new ValidationThread());
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
    const scratch = mkdtempSync(path.join(tmpdir(), 'sp-validation-'));
    try {
      // One fragment of each shape, written where the validation reads templates from.
      const shapes = new Map<string, { stack: PolicyValidationStack; sources: Set<string> }>();
      const whole: PolicyValidationStack[] = [];
      for (const stack of context.stackTemplates) {
        const fragments = fragmentsOf(readFileSync(stack.templatePath, 'utf8'));
        if (!fragments) {
          whole.push(stack);
          continue;
        }
        for (const fragment of fragments) {
          const text = JSON.stringify(fragment.template);
          const key = shapeOf(text, stack.region, { names }, fragment.template);
          const known = shapes.get(key);
          if (known) {
            known.sources.add(stack.templatePath);
            continue;
          }
          const templatePath = path.join(scratch, `${shapes.size + 1}.template.json`);
          writeFileSync(templatePath, text);
          shapes.set(key, { stack: { ...stack, templatePath }, sources: new Set([stack.templatePath]) });
        }
      }
      const first = this.run([...[...shapes.values()].map((s) => s.stack), ...whole], context);
      // A fragment with findings: validate every template holding one of its shape, whole, so that
      // each finding is reported where it is, as it would be without fragments.
      const fragmentFiles = new Map([...shapes.values()].map((s) => [s.stack.templatePath, s.sources]));
      const again = new Set<string>();
      for (const violation of first.violations) {
        for (const resource of violation.violatingResources) for (const source of fragmentFiles.get(resource.templatePath ?? '') ?? []) again.add(source);
      }
      this.lastRun = { templates: context.stackTemplates.length, validated: shapes.size + whole.length, validatedWhole: whole.length + again.size };
      if (again.size === 0) return first;
      const own = { ...first, violations: first.violations.filter((v) => v.violatingResources.every((r) => !fragmentFiles.has(r.templatePath ?? ''))) };
      const rest = this.run(
        context.stackTemplates.filter((s) => again.has(s.templatePath)),
        context,
      );
      return merge([{ ...own, success: own.violations.every((v) => v.severity !== 'error' && v.severity !== 'fatal') }, rest]);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
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
