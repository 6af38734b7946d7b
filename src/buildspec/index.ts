/**
 * CodeBuild buildspec version 0.2: types, parse and validate (with positions), render.
 */
export * from './types.js';
export { parseBuildspec, validateBuildspec, buildspecSizeProblem, BUILDSPEC_MAX_BYTES } from './parse.js';
export { renderBuildspec } from './render.js';
export { buildspecForAction, type BuildspecForActionOptions } from './from-plan.js';
