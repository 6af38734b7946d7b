import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/model/errors.js';
import { loadConfig } from '../../src/runtime/load-config.js';

const projectRoot = path.resolve(import.meta.dirname, '../..');

function folderWith(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'sp-config-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

const plainConfig = `{
  cicd: { account: '111111111111', region: 'us-east-1' },
  environments: [{ name: 'dev', account: '222222222222', region: 'us-east-1' }],
  services: [{ name: 'svc', source: { path: './svc' } }],
}`;

describe('loadConfig', () => {
  it('GIVEN the example pipelines.config.ts WHEN loaded THEN the TypeScript compiles on the fly and validates', async () => {
    const loaded = await loadConfig('examples/pipelines.config.ts', projectRoot);
    expect(loaded.config.services.map((s) => s.name)).toEqual(['ac-rest-api', 'order-events']);
    expect(loaded.baseDir).toBe(path.join(projectRoot, 'examples'));
  });

  it('GIVEN a plain default export with TypeScript types WHEN loaded THEN it loads the same as defineConfig', async () => {
    const dir = folderWith({ 'pipelines.config.ts': `const config: { cicd: unknown } & Record<string, unknown> = ${plainConfig};\nexport default config;\n` });
    const loaded = await loadConfig(undefined, dir);
    expect(loaded.file).toBe(path.join(dir, 'pipelines.config.ts'));
    expect(loaded.config.environments[0]?.name).toBe('dev');
  });

  it('GIVEN a JSON config WHEN loaded THEN it is validated like the others', async () => {
    const dir = folderWith({ 'pipelines.config.json': JSON.stringify({ cicd: { account: '1', region: 'us-east-1' } }) });
    const error = await loadConfig('pipelines.config.json', dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).problems.map((p) => p.where)).toEqual(['cicd.account', 'environments', 'services']);
  });

  it('GIVEN no config file WHEN loaded THEN the error names the path and the flag', async () => {
    const error = await loadConfig('missing.config.ts', folderWith({})).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).message).toMatch(/config file not found: .*missing\.config\.ts/);
    expect((error as InputError).problems[0]?.where).toBe('--config');
  });

  it('GIVEN a config with a syntax error WHEN loaded THEN it is an input error naming the file', async () => {
    const dir = folderWith({ 'pipelines.config.ts': 'export default {{ nope' });
    const error = await loadConfig(undefined, dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).message).toContain('could not load the config file');
  });

  it('GIVEN a config without a default export WHEN loaded THEN it says to export one', async () => {
    const dir = folderWith({ 'pipelines.config.ts': 'export const config = 1;\n' });
    const error = await loadConfig(undefined, dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).message).toMatch(/has no default export/);
    expect((error as InputError).problems[0]?.message).toContain('export default defineConfig');
  });

  it('GIVEN a config that calls process.exit while loading WHEN loaded THEN an input error, and process.exit is itself again afterwards', async () => {
    const original = process.exit;
    const dir = folderWith({ 'pipelines.config.ts': `try { process.exit(7); } catch { /* a config may swallow it: still refused */ }\nexport default ${plainConfig};\n` });

    const error = await loadConfig(undefined, dir).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).problems[0]?.message).toMatch(/^it called process\.exit\(7\) while loading/);
    expect(process.exit).toBe(original);
  });

  it('GIVEN a default export that is a function WHEN loaded THEN what it returns is the config', async () => {
    const dir = folderWith({ 'pipelines.config.ts': `export default async () => (${plainConfig});\n` });

    const loaded = await loadConfig(undefined, dir);

    expect(loaded.config.services.map((s) => s.name)).toEqual(['svc']);
  });

  it('GIVEN a config that refers to itself WHEN loaded THEN an input error naming where', async () => {
    const dir = folderWith({ 'pipelines.config.ts': `const config: Record<string, unknown> = ${plainConfig};\n(config.services as Array<Record<string, unknown>>)[0]!.self = config;\nexport default config;\n` });

    const error = await loadConfig(undefined, dir).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).problems).toEqual([{ where: 'services[0].self', message: 'refers to itself (a circular reference)' }]);
  });
});
