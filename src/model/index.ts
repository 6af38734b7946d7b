export * from './config.js';
export * from './errors.js';
export * from './plan-schema.js';
export * from './plan.js';
export * from './validate.js';
export * from './contract.js';
export * from './json-schema.js';
export * from './step-names.js';
