/**
 * service-pipelines: CI/CD pipelines for serverless microservices, defined in TypeScript.
 *
 * `defineConfig` declares the pipelines; the plan builder turns a config into the plan every
 * engine runs. The AWS engine's constructs are in `service-pipelines/aws`.
 */
export * from './model/index.js';
export { loadConfig, type LoadedConfig } from './runtime/load-config.js';
