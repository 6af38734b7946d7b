import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRelease, releaseDirectory } from '../../src/steps/local-releases.js';

/** A service folder with a (stand-in) serverless-offline installed at `modulesDir`, and its package. */
function serviceWithModulesAt(root: string, modulesDir: string): { serviceDir: string; bundle: string; deploymentDir: string } {
  const serviceDir = path.join(root, 'service');
  mkdirSync(path.join(modulesDir, 'serverless-offline'), { recursive: true });
  writeFileSync(path.join(modulesDir, 'serverless-offline', 'package.json'), '{"name":"serverless-offline","version":"14.0.0"}');
  mkdirSync(path.join(serviceDir, 'src'), { recursive: true });
  writeFileSync(path.join(serviceDir, 'serverless.yml'), 'service: svc\nprovider:\n  name: aws\n');
  writeFileSync(path.join(serviceDir, 'src', 'handler.js'), 'export const hello = async () => ({ statusCode: 200 });\n');
  if (modulesDir !== path.join(serviceDir, 'node_modules')) symlinkSync(modulesDir, path.join(serviceDir, 'node_modules'), 'dir');
  const bundle = path.join(root, 'svc.zip');
  execFileSync('zip', ['-qr', bundle, 'src'], { cwd: serviceDir });
  const deploymentDir = path.join(root, 'deployment');
  mkdirSync(deploymentDir);
  writeFileSync(path.join(deploymentDir, 'cloudformation-template-update-stack.json'), '{"Resources":{}}');
  return { serviceDir, bundle, deploymentDir };
}

describe('the node_modules of a local release', () => {
  it('GIVEN modules installed in a run workspace (no install cache) WHEN a release is made THEN it holds its own copy, which outlives the workspace', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'sp-release-'));
    const home = path.join(root, 'home');
    const { serviceDir, bundle, deploymentDir } = serviceWithModulesAt(root, path.join(root, 'service', 'node_modules'));
    const info = await createRelease(home, 'svc', 'dev', { bundle, packageSha256: 'x', deploymentDir, serviceDir, region: 'us-east-1' });
    rmSync(path.join(serviceDir, 'node_modules'), { recursive: true });
    const modules = path.join(releaseDirectory(home, 'svc', 'dev', info.release), 'node_modules');
    expect(lstatSync(modules).isSymbolicLink()).toBe(false);
    expect(JSON.parse(readFileSync(path.join(modules, 'serverless-offline', 'package.json'), 'utf8')).name).toBe('serverless-offline');
  });

  it('GIVEN modules from the install cache WHEN a release is made THEN it links the cache entry instead of copying it', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'sp-release-'));
    const home = path.join(root, 'home');
    const entry = path.join(home, 'cache', 'key', 'node_modules');
    const { serviceDir, bundle, deploymentDir } = serviceWithModulesAt(root, entry);
    const info = await createRelease(home, 'svc', 'dev', { bundle, packageSha256: 'x', deploymentDir, serviceDir, region: 'us-east-1' });
    expect(lstatSync(path.join(releaseDirectory(home, 'svc', 'dev', info.release), 'node_modules')).isSymbolicLink()).toBe(true);
  });
});
