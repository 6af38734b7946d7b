// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

/**
 * The layering of DESIGN.md, enforced: imports point down only.
 * Each entry lists what a layer may NOT import (besides the rules that hold everywhere).
 */
const srcLayers = ['model', 'buildspec', 'steps', 'aws', 'github', 'local', 'permissions', 'runtime', 'serve', 'cli'];

/** @param {string[]} forbiddenLayers @param {string[]} forbiddenPackages */
function layerRule(forbiddenLayers, forbiddenPackages) {
  return [
    'error',
    {
      patterns: [
        ...forbiddenLayers.map((layer) => ({
          group: [`**/${layer}/*`, `**/${layer}`, `../${layer}/*`, `../../${layer}/*`],
          message: `this layer may not import src/${layer}/ (see DESIGN.md, "Layers").`,
        })),
        ...(forbiddenPackages.length
          ? [{ group: forbiddenPackages, message: 'this layer may not use this package (see DESIGN.md, "Layers").' }]
          : []),
        {
          group: ['child_process', 'node:child_process'],
          message: 'processes go through the one seam, src/runtime/process.ts.',
        },
      ],
    },
  ];
}

const others = (/** @type {string[]} */ ...allowed) => srcLayers.filter((l) => !allowed.includes(l));

/** child_process reached around `import` declarations: `import('child_process')`, `require('child_process')`. */
const childProcessModule = "/^(node:)?child_process$/";
const processSeamSyntax = [
  'error',
  {
    selector: `ImportExpression[source.value=${childProcessModule}]`,
    message: 'processes go through the one seam, src/runtime/process.ts (a dynamic import() included).',
  },
  {
    selector: `CallExpression[callee.name='require'][arguments.0.value=${childProcessModule}]`,
    message: 'processes go through the one seam, src/runtime/process.ts (require() included).',
  },
];
const processExit = { object: 'process', property: 'exit', message: 'only src/cli/ sets exit codes; throw a typed error instead.' };
const processKill = {
  object: 'process',
  property: 'kill',
  message: 'process liveness and signals go through the process seam (ProcessTable, raiseSignal in src/runtime/process.ts).',
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'cdk.out/**', '**/cdk.out/**', 'examples/*/node_modules/**', 'examples/*/.serverless/**', '.service-pipelines/**', 'coverage/**', 'bench/out/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node }, ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  // Layers: what each may import.
  { files: ['src/model/**/*.ts'], rules: { 'no-restricted-imports': layerRule(others('model'), ['aws-cdk-lib', 'aws-cdk-lib/*', 'constructs', '@aws-sdk/*', 'fs', 'node:fs', 'fs/*', 'node:fs/*', 'better-sqlite3']) } },
  { files: ['src/runtime/**/*.ts'], rules: { 'no-restricted-imports': layerRule(others('runtime', 'model'), ['aws-cdk-lib', 'aws-cdk-lib/*']) } },
  { files: ['src/buildspec/**/*.ts'], rules: { 'no-restricted-imports': layerRule(others('buildspec', 'model', 'runtime'), ['aws-cdk-lib', 'aws-cdk-lib/*', 'better-sqlite3']) } },
  { files: ['src/permissions/**/*.ts'], rules: { 'no-restricted-imports': layerRule(others('permissions', 'model', 'runtime'), ['aws-cdk-lib', 'aws-cdk-lib/*', 'better-sqlite3']) } },
  { files: ['src/steps/**/*.ts'], rules: { 'no-restricted-imports': layerRule(others('steps', 'model', 'runtime', 'buildspec', 'permissions'), ['aws-cdk-lib', 'aws-cdk-lib/*', 'better-sqlite3']) } },
  { files: ['src/aws/**/*.ts'], rules: { 'no-restricted-imports': layerRule(others('aws', 'model', 'runtime', 'buildspec', 'permissions'), ['better-sqlite3']) } },
  { files: ['src/github/**/*.ts'], rules: { 'no-restricted-imports': layerRule(others('github', 'model', 'runtime', 'aws', 'permissions'), ['better-sqlite3']) } },
  { files: ['src/local/**/*.ts'], rules: { 'no-restricted-imports': layerRule(others('local', 'model', 'runtime', 'buildspec', 'steps', 'permissions'), ['aws-cdk-lib', 'aws-cdk-lib/*']) } },
  { files: ['src/serve/**/*.ts'], rules: { 'no-restricted-imports': layerRule(others('serve', 'model', 'runtime', 'local', 'steps', 'buildspec'), ['aws-cdk-lib', 'aws-cdk-lib/*']) } },
  { files: ['src/cli/**/*.ts'], rules: { 'no-restricted-imports': layerRule([], []) } },
  { files: ['src/index.ts'], rules: { 'no-restricted-imports': layerRule(['cli', 'local', 'aws'], []) } },
  // Only the CLI ends the process; only the process seam starts, looks at or signals processes.
  { files: ['src/**/*.ts'], rules: { 'no-restricted-syntax': processSeamSyntax, 'no-restricted-properties': ['error', processExit, processKill] } },
  { files: ['src/cli/**/*.ts'], rules: { 'no-restricted-properties': ['error', processKill] } },
  // The one process seam.
  { files: ['src/runtime/process.ts'], rules: { 'no-restricted-imports': 'off', 'no-restricted-syntax': 'off', 'no-restricted-properties': ['error', processExit] } },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
