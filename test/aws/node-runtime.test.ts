/**
 * The Node.js the AWS actions run on (issue 10, item 2): selected explicitly everywhere (the
 * Commands actions by their first command, the CodeBuild projects by `runtime-versions` on an
 * image that holds it), and an action fails at once, naming the version it found, when it is too old.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CODEBUILD_IMAGE, minimumNodeVersion, NODE_MAJOR, nodeRuntimeLine } from '../../src/aws/node-runtime.js';
import { fakeAws, runAction } from './action-runner.js';
import { appOf, config, service } from './helpers.js';

const folders: string[] = [];
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

/**
 * A build image's bin folder, as CodeBuild's standard images have it: `node` of an old default
 * version, and `n`, which makes another installed version the `node` of the folder.
 */
function image(defaultVersion: string): string {
  const bin = mkdtempSync(path.join(tmpdir(), 'sp-image-'));
  folders.push(bin);
  // An old Node.js, as far as a program can tell: its --version and process.versions.
  writeFileSync(path.join(bin, 'old-node.cjs'), `Object.defineProperty(process.versions, 'node', { value: '${defaultVersion}' }); Object.defineProperty(process, 'version', { value: 'v${defaultVersion}' });\n`);
  const oldNode = `#!/bin/sh\nif [ "$1" = "--version" ]; then echo v${defaultVersion}; exit 0; fi\nexec "${process.execPath}" -r "${path.join(bin, 'old-node.cjs')}" "$@"\n`;
  writeFileSync(path.join(bin, 'node'), oldNode, { mode: 0o755 });
  writeFileSync(path.join(bin, 'n'), `#!/bin/sh\necho "n: activating $1" >> "${path.join(bin, 'n.log')}"\nln -sf "${process.execPath}" "${path.join(bin, 'node')}"\n`, { mode: 0o755 });
  chmodSync(path.join(bin, 'n'), 0o755);
  return bin;
}

async function runFirstCommand(bin: string, env: Record<string, string> = {}) {
  const aws = fakeAws({}, {});
  folders.push(aws.bin);
  const run = await runAction([nodeRuntimeLine(), 'echo "after: $(node --version)"'], aws, { PATH: bin, ...env });
  folders.push(run.root);
  return run;
}

describe("an action's first command", () => {
  it(`GIVEN an image whose default Node.js is 18 and which holds Node.js ${NODE_MAJOR} WHEN an action starts THEN it selects ${NODE_MAJOR}, as runtime-versions does, and goes on`, async () => {
    const bin = image('18.20.8');
    const run = await runFirstCommand(bin, { [`NODE_${NODE_MAJOR}_VERSION`]: `${NODE_MAJOR}.1.0` });
    expect(run.result.status, run.log).toBe('SUCCEEDED');
    expect(run.output).toContain(`after: ${process.version}`);
  });

  it('GIVEN an image with only Node.js 18 WHEN an action starts THEN its first command fails, naming the version it found and what service-pipelines needs, and nothing else runs', async () => {
    const run = await runFirstCommand(image('18.20.8'));
    expect(run.result.status).toBe('FAILED');
    const minimum = minimumNodeVersion();
    expect(run.log).toContain(`error: service-pipelines needs Node.js ${minimum.major}.${minimum.minor} or later; this action runs Node.js v18.20.8`);
    expect(run.log).toContain(`the image's NODE_${NODE_MAJOR}_VERSION: not set`);
    expect(run.output.join('\n')).not.toContain('after:');
  });

  it('GIVEN Node.js 20 older than the minimum minor version WHEN an action starts THEN it fails, naming that version', async () => {
    const run = await runFirstCommand(image('20.11.1'));
    expect(run.result.status).toBe('FAILED');
    expect(run.log).toContain('this action runs Node.js v20.11.1');
  });

  it('GIVEN the Node.js service-pipelines runs on here WHEN an action starts THEN the check passes', async () => {
    const aws = fakeAws({}, {});
    folders.push(aws.bin);
    const run = await runAction([nodeRuntimeLine(), 'echo ok'], aws);
    folders.push(run.root);
    expect(run.result.status, run.log).toBe('SUCCEEDED');
    expect(run.output).toContain('ok');
  });
});

describe('the Node.js every AWS build selects', () => {
  it(`GIVEN the pipelines, their pull-request builds and the self-update pipeline WHEN synthesized THEN every CodeBuild project runs on ${CODEBUILD_IMAGE} with Node.js ${NODE_MAJOR} selected by runtime-versions, and every Commands action and build starts with the check`, () => {
    const built = appOf(
      config([service('orders')], {
        selfUpdate: { github: { owner: 'example-org', repo: 'pipelines', connectionArn: 'arn:aws:codeconnections:us-east-1:111111111111:connection/abc' } },
      }),
    );
    const assembly = built.app.synth();
    const projects = assembly.stacksRecursively.flatMap((stack) =>
      Object.values((stack.template as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> }).Resources)
        .filter((r) => r.Type === 'AWS::CodeBuild::Project')
        .map((r) => ({ stack: stack.stackName, properties: r.Properties })),
    );
    // The pull-request build, and CDK Pipelines' synth, self-mutation and asset publishing.
    expect(projects.length).toBeGreaterThanOrEqual(3);
    for (const { stack, properties } of projects) {
      const buildspec = parse((properties['Source'] as { BuildSpec: string }).BuildSpec) as { phases: { install?: { 'runtime-versions'?: Record<string, unknown> } } };
      const nodejs = buildspec.phases.install?.['runtime-versions']?.['nodejs'];
      expect({ stack, image: (properties['Environment'] as { Image: string }).Image, nodejs: String(nodejs) }).toEqual({ stack, image: CODEBUILD_IMAGE, nodejs: String(NODE_MAJOR) });
    }
    const synth = projects.find((p) => JSON.stringify(p.properties).includes('service-pipelines synth'))!;
    const synthCommands = Object.values((parse((synth.properties['Source'] as { BuildSpec: string }).BuildSpec) as { phases: Record<string, { commands?: string[] }> }).phases).flatMap((p) => p.commands ?? []);
    expect(synthCommands[0]).toBe(nodeRuntimeLine());
    const pullRequest = projects.find((p) => p.properties['Name'] === 'orders-pr')!;
    expect((parse((pullRequest.properties['Source'] as { BuildSpec: string }).BuildSpec) as { phases: { install: { commands: string[] } } }).phases.install.commands[0]).toBe(nodeRuntimeLine());
  });
});
