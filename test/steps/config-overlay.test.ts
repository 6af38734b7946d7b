import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { InputError } from '../../src/model/errors.js';
import { writeConfigOverlay, type OverlayEdits } from '../../src/steps/config-overlay.js';

function serviceWith(config: string, name = 'serverless.yml'): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'sp-overlay-'));
  writeFileSync(path.join(dir, name), config);
  return path.join(dir, name);
}

/** The overlay's config, as osls reads it. */
interface Config {
  frameworkVersion?: string;
  plugins?: unknown;
  package: { patterns: string[]; artifact?: string; excludeDevDependencies?: boolean };
  provider: { iam: { role: unknown } };
}

async function overlay(config: string, edits: OverlayEdits = {}): Promise<{ text: string; config: Config; changes: readonly string[] }> {
  const written = await writeConfigOverlay(serviceWith(config), edits);
  const text = readFileSync(written!.file, 'utf8');
  return { text, config: parse(text) as Config, changes: written!.overlay.changes };
}

describe('the serverless config overlay of the steps', () => {
  it('GIVEN a service without package patterns WHEN packaged THEN its config file, the local state and earlier packages stay out of the bundle', async () => {
    const { text, config } = await overlay('service: svc\nprovider:\n  name: aws # kept\n');
    expect(config.package.patterns).toEqual(['!serverless.yml', '!.pipeline/**', '!.service-pipelines/**']);
    expect(config.package.artifact).toBeUndefined();
    expect(text).toContain('# kept');
  });

  it("GIVEN a service's own patterns and the bundle WHEN a stage is packaged THEN its patterns come after its config file's exclusion, then the exclusions, and the artifact is set", async () => {
    const { config } = await overlay("service: svc\npackage:\n  patterns:\n    - '!**'\n    - 'src/**'\n", { artifact: '/tmp/bundle.zip' });
    expect(config.package).toEqual({ patterns: ['!serverless.yml', '!**', 'src/**', '!.pipeline/**', '!.service-pipelines/**'], artifact: '/tmp/bundle.zip' });
  });

  it('GIVEN the devDependencies to leave out WHEN packaged THEN they are excluded last and osls no longer looks for them itself', async () => {
    const { config } = await overlay("service: svc\npackage:\n  patterns:\n    - 'node_modules/eslint/**'\n", { devDependencyExcludes: ['!node_modules/eslint/**', '!node_modules/.bin/eslint'] });
    expect(config.package.excludeDevDependencies).toBe(false);
    expect(config.package.patterns).toEqual(['!serverless.yml', 'node_modules/eslint/**', '!node_modules/eslint/**', '!node_modules/.bin/eslint', '!.pipeline/**', '!.service-pipelines/**']);
  });

  it.each([
    ["'3'", "3 || 4"],
    ["'^3.38.0'", '^3.38.0 || 4'],
    ["'>=3.0.0 <4'", '>=3.0.0 <4 || 4'],
  ])("GIVEN frameworkVersion %s published for v3 WHEN run with osls 4.3.1 THEN the overlay widens it to osls's numbers", async (declared, widened) => {
    const { config, changes } = await overlay(`service: svc\nframeworkVersion: ${declared}\n`, { oslsVersion: '4.3.1' });
    expect(config.frameworkVersion).toBe(widened);
    expect(changes).toEqual([expect.stringContaining(`frameworkVersion: '${widened}'`)]);
  });

  it.each(["'3 || 4'", "'4'", "'^4.1.0'"])('GIVEN frameworkVersion %s that osls 4.3.1 satisfies WHEN run THEN it is left as it is', async (declared) => {
    const { config, changes } = await overlay(`service: svc\nframeworkVersion: ${declared}\n`, { oslsVersion: '4.3.1' });
    expect(config.frameworkVersion).toBe(declared.slice(1, -1));
    expect(changes).toEqual([]);
  });

  it("GIVEN frameworkVersion '2' WHEN run with osls THEN exit 2 names the user's serverless.yml, its line and the fix", async () => {
    const file = serviceWith("service: svc\n\nframeworkVersion: '2'\n");
    const error = await writeConfigOverlay(file, { oslsVersion: '4.3.1' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).problems).toEqual([{ where: `${file}:3`, message: "set frameworkVersion: '3 || 4' (or remove it)" }]);
  });

  it.each([
    ['no plugins', 'service: svc\n', ['serverless-offline']],
    ['other plugins', 'service: svc\nplugins:\n  - serverless-lift\n', ['serverless-lift', 'serverless-offline']],
    ['it listed already', 'service: svc\nplugins:\n  - serverless-offline\n', ['serverless-offline']],
  ])('GIVEN %s WHEN a local stage is served THEN serverless-offline is a plugin once', async (_case, config, plugins) => {
    const result = await overlay(config, { offlinePlugin: true });
    expect(result.config.plugins).toEqual(plugins);
  });

  it('GIVEN plugins in the object form WHEN a local stage is served THEN serverless-offline is added to its modules', async () => {
    const { config } = await overlay('service: svc\nplugins:\n  localPath: ./plugins\n  modules:\n    - my-plugin\n', { offlinePlugin: true });
    expect(config.plugins).toEqual({ localPath: './plugins', modules: ['my-plugin', 'serverless-offline'] });
  });

  it("GIVEN a permissions boundary WHEN a stage is packaged THEN the service's role carries it, its own statements kept", async () => {
    const arn = 'arn:aws:iam::222222222222:policy/svc-dev-boundary';
    const { config } = await overlay('service: svc\nprovider:\n  name: aws\n  iam:\n    role:\n      statements:\n        - Effect: Allow\n          Action: sqs:SendMessage\n          Resource: "*"\n', { permissionsBoundary: arn });
    expect(config.provider.iam.role).toEqual({ statements: [{ Effect: 'Allow', Action: 'sqs:SendMessage', Resource: '*' }], permissionsBoundary: arn });
  });

  it('GIVEN a service that sets another boundary WHEN a stage is packaged THEN exit 2 says the steps set it', async () => {
    const file = serviceWith('service: svc\nprovider:\n  name: aws\n  rolePermissionsBoundary: arn:aws:iam::222222222222:policy/other\n');
    const error = await writeConfigOverlay(file, { permissionsBoundary: 'arn:aws:iam::222222222222:policy/svc-dev-boundary' }).catch((e: unknown) => e);
    expect((error as InputError).problems[0]).toEqual({ where: `${file}:4`, message: expect.stringContaining("remove the service's own boundary") });
  });

  it('GIVEN a JSON config WHEN overlaid THEN the overlay is JSON too', async () => {
    const written = await writeConfigOverlay(serviceWith('{"service":"svc","frameworkVersion":"3"}', 'serverless.json'), { oslsVersion: '4.3.1' });
    expect(written!.file.endsWith('.json')).toBe(true);
    expect(JSON.parse(readFileSync(written!.file, 'utf8'))).toMatchObject({ frameworkVersion: '3 || 4', package: { patterns: ['!serverless.json', '!.pipeline/**', '!.service-pipelines/**'] } });
  });

  it('GIVEN a JS config WHEN overlaid THEN there is no overlay (osls alone evaluates it)', async () => {
    expect(await writeConfigOverlay(serviceWith('module.exports = {}', 'serverless.js'), { oslsVersion: '4.3.1' })).toBeUndefined();
  });
});
