/**
 * The local stages the engine uses by default: the steps' implementation (`src/steps/local-stages.ts`).
 */
import type { LocalStagesPort } from './local-stages-port.js';

/** The steps' local stages, loaded when first used. */
export function defaultLocalStages(): LocalStagesPort {
  return {
    async stopStagesStartedBy(home, executionId) {
      const stages = await import('../steps/local-stages.js');
      return stages.stopStagesStartedBy(home, executionId);
    },
  };
}
