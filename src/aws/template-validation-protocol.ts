/**
 * What the main thread and a template validation thread say to each other. Answers go through a
 * `MessagePort` that the main thread reads synchronously (`receiveMessageOnPort`); a counter in
 * shared memory, bumped after every answer, lets it sleep until one comes (`Atomics.wait`).
 */
import type { PolicyValidationPluginReport, PolicyValidationStack } from 'aws-cdk-lib';
import type { MessagePort } from 'node:worker_threads';

/** What a validation thread starts with. */
export interface ValidationWorkerData {
  /** The port it answers on. */
  readonly port: MessagePort;
  /** The counter it bumps after each answer: an `Int32Array` over a `SharedArrayBuffer`, one element. */
  readonly signal: Int32Array;
  /** The resource types to build the engine for before any template arrives. */
  readonly resourceTypes: readonly string[];
}

/** Validate these templates. */
export interface ValidationRequest {
  readonly id: number;
  readonly stackTemplates: PolicyValidationStack[];
}

/** What a validation thread answers. */
export type WorkerAnswer =
  | { readonly kind: 'ready'; readonly version: string }
  | { readonly kind: 'report'; readonly id: number; readonly report: PolicyValidationPluginReport }
  | { readonly kind: 'failed'; readonly id?: number; readonly message: string };

/** Tell the main thread an answer is on the port. */
export function signalAnswer(signal: Int32Array): void {
  Atomics.add(signal, 0, 1);
  Atomics.notify(signal, 0);
}
