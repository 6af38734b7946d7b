import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { writeConfigOverlay } from '../../src/steps/serverless-package.js';

function serviceWith(config: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'sp-overlay-'));
  writeFileSync(path.join(dir, 'serverless.yml'), config);
  return path.join(dir, 'serverless.yml');
}

describe('the serverless config overlay of step package', () => {
  it('GIVEN a service without package patterns WHEN packaged THEN the overlay keeps the local state and earlier packages out of the bundle', async () => {
    const overlay = await writeConfigOverlay(serviceWith('service: svc\nprovider:\n  name: aws # kept\n'), {});
    const config = parse(readFileSync(overlay!, 'utf8'));
    expect(config.package.patterns).toEqual(['!.pipeline/**', '!.service-pipelines/**']);
    expect(config.package.artifact).toBeUndefined();
    expect(readFileSync(overlay!, 'utf8')).toContain('# kept');
  });

  it("GIVEN a service's own patterns and the bundle WHEN a stage is packaged THEN its patterns come first, then the exclusions, and the artifact is set", async () => {
    const overlay = await writeConfigOverlay(serviceWith("service: svc\npackage:\n  patterns:\n    - '!**'\n    - 'src/**'\n"), { artifact: '/tmp/bundle.zip' });
    const config = parse(readFileSync(overlay!, 'utf8'));
    expect(config.package).toEqual({ patterns: ['!**', 'src/**', '!.pipeline/**', '!.service-pipelines/**'], artifact: '/tmp/bundle.zip' });
  });
});
