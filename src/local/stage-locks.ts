/**
 * How executions of one pipeline share its stages, as CodePipeline V2 does:
 * - SUPERSEDED (the default): one execution at a time in a stage. An execution that finished a
 *   stage waits for the next one to be free; when a newer execution arrives waiting for the same
 *   stage, the older waiting one is superseded (it stops there) and the newer goes on.
 * - QUEUED: one execution at a time in a stage; waiting executions enter in the order they started.
 * - PARALLEL: no locks; executions run independently.
 */
import type { Clock } from '../runtime/clock.js';
import type { StateStore } from './state-store.js';

/** The outcome of waiting for a stage. */
export type StageEntry = { readonly entered: true } | { readonly entered: false; readonly supersededBy: string };

/** Options of `enterStage`. */
export interface EnterStageOptions {
  readonly store: StateStore;
  readonly clock: Clock;
  readonly pipeline: string;
  readonly stage: string;
  readonly executionId: string;
  readonly mode: 'SUPERSEDED' | 'QUEUED' | 'PARALLEL';
  /** How often the lock is tried again. */
  readonly pollMs: number;
  /** Told once, when the stage is found taken, with the execution holding it. */
  readonly onWait?: (holder: string | undefined) => void;
  /** Housekeeping run between tries (finds killed holders, and ends what they left running). */
  readonly recover?: () => Promise<void> | void;
  readonly signal?: AbortSignal;
}

/**
 * Wait until this execution may enter the stage, and lock it. The stage row must already be
 * marked WAITING so that other executions see this one in line.
 */
export async function enterStage(options: EnterStageOptions): Promise<StageEntry> {
  if (options.mode === 'PARALLEL') {
    return { entered: true };
  }
  const me = options.store.execution(options.executionId);
  let told = false;
  for (;;) {
    if (options.signal?.aborted) {
      throw options.signal.reason ?? new Error('stopped');
    }
    let supersededBy: string | undefined;
    const result = options.store.tryLockStage(options.pipeline, options.stage, options.executionId, options.clock.now(), () => {
      const waiting = options.store.waitingFor(options.pipeline, options.stage).filter((e) => e.id !== options.executionId);
      if (options.mode === 'QUEUED') {
        // First come, first served.
        return waiting.every((e) => e.seq > (me?.seq ?? 0));
      }
      const newer = waiting.filter((e) => e.seq > (me?.seq ?? 0));
      supersededBy = newer.at(-1)?.id;
      return supersededBy === undefined;
    });
    if (result.acquired) {
      return { entered: true };
    }
    if (options.mode === 'SUPERSEDED' && supersededBy === undefined) {
      // The stage is taken: a newer execution in line means this one will never get it.
      const newer = options.store.waitingFor(options.pipeline, options.stage).filter((e) => e.seq > (me?.seq ?? 0));
      supersededBy = newer.at(-1)?.id;
    }
    if (supersededBy !== undefined) {
      return { entered: false, supersededBy };
    }
    if (!told) {
      options.onWait?.(result.holder);
      told = true;
    }
    await options.recover?.();
    await options.clock.sleep(options.pollMs, options.signal);
  }
}
