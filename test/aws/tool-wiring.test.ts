/**
 * The tool reaches every action of the example's pipelines as `synth` writes them (issue 10,
 * item 1): by its digest, from the cloud assembly, never by a bare name from a public registry;
 * and an upgrade of the tool changes no pipeline.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { nodeRuntimeLine } from '../../src/aws/node-runtime.js';
import { ToolSource } from '../../src/aws/tool-source.js';
import { systemClock } from '../../src/runtime/clock.js';
import { loadConfig } from '../../src/runtime/load-config.js';
import { packTool, type PackedTool } from '../../src/runtime/pack-tool.js';
import { nodeProcesses } from '../../src/runtime/process.js';
import { runCli } from '../support/cli.js';
import { PACK_TIMEOUT_MS, packingEnv, packRunningTool, writeFixturePackage } from '../support/tool-fixtures.js';
import { fakeAws, resolveValue, runAction, uploadedObjects } from './action-runner.js';
import { appOf } from './helpers.js';

const projectRoot = path.resolve(import.meta.dirname, '../..');
const examples = path.join(projectRoot, 'examples');
const version = (JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version;

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;
interface Template {
  Resources: Resources;
}

const folders: string[] = [];
function tempFolder(prefix: string): string {
  const folder = mkdtempSync(path.join(tmpdir(), prefix));
  folders.push(folder);
  return folder;
}
afterAll(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

/** The templates of a cloud assembly on disk, by stack name. */
function templatesOf(outdir: string): Record<string, Template> {
  const manifest = JSON.parse(readFileSync(path.join(outdir, 'manifest.json'), 'utf8')) as {
    artifacts: Record<string, { type: string; properties?: { templateFile: string; stackName: string } }>;
  };
  return Object.fromEntries(
    Object.values(manifest.artifacts)
      .filter((a) => a.type === 'aws:cloudformation:stack')
      .map((a) => [a.properties!.stackName, JSON.parse(readFileSync(path.join(outdir, a.properties!.templateFile), 'utf8')) as Template]),
  );
}

function resourcesOf(templates: Record<string, Template>, type: string) {
  return Object.values(templates).flatMap((t) => Object.values(t.Resources).filter((r) => r.Type === type));
}

/** Every command line an action of the pipelines or a CodeBuild project runs, with where it runs. */
function commandLines(templates: Record<string, Template>): { where: string; commands: string[] }[] {
  const actions = resourcesOf(templates, 'AWS::CodePipeline::Pipeline').flatMap((pipeline) =>
    (pipeline.Properties['Stages'] as { Name: string; Actions: { Name: string; Commands?: string[] }[] }[]).flatMap((stage) =>
      stage.Actions.filter((a) => a.Commands).map((a) => ({ where: `${String(pipeline.Properties['Name'])} ${stage.Name}.${a.Name}`, commands: a.Commands! })),
    ),
  );
  const projects = resourcesOf(templates, 'AWS::CodeBuild::Project').map((project) => {
    const buildspec = parse((project.Properties['Source'] as { BuildSpec: string }).BuildSpec) as { phases: Record<string, { commands?: string[] }> };
    return { where: `project ${String(project.Properties['Name'])}`, commands: Object.values(buildspec.phases).flatMap((phase) => phase.commands ?? []) };
  });
  return [...actions, ...projects];
}

/**
 * The packages a command line installs by name from a registry: the arguments of `npm install`
 * (`i`, `add`), `pnpm add`, `yarn add` and `npx` (unless `--no-install`) that are neither options
 * nor files.
 */
function bareNameInstalls(line: string): string[] {
  const found: string[] = [];
  for (const segment of line.split(/&&|\|\||[;|]/)) {
    const words = segment.trim().split(/\s+/);
    const at = words.findIndex((w, i) => (['npm', 'pnpm', 'yarn'].includes(w) && ['install', 'i', 'add'].includes(words[i + 1] ?? '')) || w === 'npx');
    if (at < 0) continue;
    const args = words.slice(at + (words[at] === 'npx' ? 1 : 2));
    if (words[at] === 'npx' && args.includes('--no-install')) continue;
    found.push(...args.filter((a) => !a.startsWith('-') && !/^["'$./]/.test(a) && !a.endsWith('.tgz')).slice(0, words[at] === 'npx' ? 1 : undefined));
  }
  return found;
}

describe("the tool in the example's pipelines, as synth writes them", () => {
  let outdir: string;
  let templates: Record<string, Template>;
  let packed: PackedTool;

  beforeAll(async () => {
    outdir = path.join(tempFolder('sp-tool-wiring-'), 'cdk.out');
    const run = await runCli(['synth', '--config', path.join(examples, 'pipelines.config.ts'), '--out', outdir, '--no-validate'], { env: packingEnv() });
    expect(run.exitCode, run.stderr).toBe(0);
    templates = templatesOf(outdir);
    // The tool synth packed: the running service-pipelines, from the tests' cache.
    packed = await packRunningTool();
  }, PACK_TIMEOUT_MS);

  it('GIVEN every command an action or the pull-request build runs WHEN read THEN none installs a package by its bare name, and each starts by selecting Node.js, then installs the packed tool', () => {
    const all = commandLines(templates);
    expect(all.length).toBeGreaterThan(10);
    expect(all.flatMap(({ where, commands }) => commands.flatMap((line) => bareNameInstalls(line).map((name) => `${where}: ${name}`)))).toEqual([]);
    const [parameter] = resourcesOf(templates, 'AWS::SSM::Parameter');
    const install = all[0]!.commands[1]!;
    for (const { where, commands } of all) {
      expect({ where, first: commands.slice(0, 2) }).toEqual({ where, first: [nodeRuntimeLine(), install] });
    }
    // The install line reads the parameter, checks the tarball's sha256 against it and installs nothing else.
    expect(install).toContain(`aws ssm get-parameter --name ${String(parameter!.Properties['Name'])}`);
    expect(install).toMatch(/sha256sum -c/);
    // The guard of the check itself: it finds a bare-name install where there is one.
    expect(bareNameInstalls('npm install --global --no-fund service-pipelines@0.1.0')).toEqual(['service-pipelines@0.1.0']);
    expect(bareNameInstalls('cd x && npx service-pipelines synth')).toEqual(['service-pipelines']);
    expect(bareNameInstalls('npx --no-install service-pipelines synth && npm install ./tool.tgz')).toEqual([]);
  });

  it('GIVEN the tool parameter WHEN read THEN it names the packed tarball by its sha256, where cdk deploy uploads it, and the synthesizing version', () => {
    const [parameter] = resourcesOf(templates, 'AWS::SSM::Parameter');
    const [sha256, location, named, ...rest] = resolveValue(parameter!.Properties['Value']).split(' ');
    expect({ sha256, named, rest }).toEqual({ sha256: packed.sha256, named: version, rest: [] });
    const uploads = uploadedObjects(outdir);
    expect(createHash('sha256').update(readFileSync(uploads[location!]!)).digest('hex')).toBe(packed.sha256);
    expect(location).toMatch(/^s3:\/\/cdk-[a-z0-9]+-assets-111111111111-us-east-1\/service-pipelines\/tool\/[0-9a-f]{64}\.tgz$/);
  });

  it(
    "GIVEN an action's first commands WHEN they run as CodeBuild runs them, against the uploaded assembly THEN they install the tarball by its sha256 and service-pipelines --version prints the synthesizing version",
    async () => {
      const [parameter] = resourcesOf(templates, 'AWS::SSM::Parameter');
      const aws = fakeAws({ [String(parameter!.Properties['Name'])]: resolveValue(parameter!.Properties['Value']) }, uploadedObjects(outdir));
      folders.push(aws.bin);
      const lint = commandLines(templates).find((c) => c.where.endsWith('Build.Lint'))!;
      const run = await runAction([...lint.commands.slice(0, 2), 'service-pipelines --version'], aws);
      folders.push(run.root);
      expect(run.result.status, run.log).toBe('SUCCEEDED');
      expect(run.output.at(-1)).toBe(version);
    },
    PACK_TIMEOUT_MS,
  );

  it(
    'GIVEN the packed tarball in the assembly WHEN npm installs it into an empty folder, offline, with an empty cache THEN service-pipelines --version prints the synthesizing version',
    () => {
      const tarball = Object.values(uploadedObjects(outdir)).find((file) => file.endsWith('.tgz'))!;
      const project = tempFolder('sp-tool-offline-');
      const install = spawnSync('npm', ['install', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel', 'error', tarball], {
        cwd: project,
        env: { ...process.env, NPM_CONFIG_CACHE: path.join(project, '.npm-cache'), npm_config_registry: 'http://127.0.0.1:9/' },
        encoding: 'utf8',
      });
      expect(install.status, install.stderr).toBe(0);
      const run = spawnSync(process.execPath, [path.join(project, 'node_modules', 'service-pipelines', 'bin', 'service-pipelines.js'), '--version'], { encoding: 'utf8' });
      expect(run.stdout.trim()).toBe(version);
    },
    PACK_TIMEOUT_MS,
  );

  it('GIVEN every role an action or the pull-request build runs with WHEN read THEN it may read the tool parameter and the tarballs under the tool prefix of the bootstrap bucket, nothing else of it', () => {
    const actionRoles = resourcesOf(templates, 'AWS::IAM::Role').filter((r) => /-(build|package|deploy|accept)-action$|-pull-request$/.test(String(r.Properties['RoleName'])));
    // Two services: 1 build, 1 package, 3 deploy, 3 acceptance and 1 pull-request role each.
    expect(actionRoles).toHaveLength(18);
    for (const role of actionRoles) {
      const statements = (role.Properties['Policies'] as { PolicyDocument: { Statement: { Sid?: string; Action: unknown; Resource: unknown }[] } }[]).flatMap((p) => p.PolicyDocument.Statement);
      const tool = statements.filter((s) => s.Sid?.startsWith('ReadTool')).map((s) => ({ sid: s.Sid, action: s.Action, resource: resolveValue(s.Resource) }));
      expect({ role: role.Properties['RoleName'], tool }).toEqual({
        role: role.Properties['RoleName'],
        tool: [
          { sid: 'ReadToolParameter', action: 'ssm:GetParameter', resource: 'arn:aws:ssm:us-east-1:111111111111:parameter/service-pipelines/tool' },
          { sid: 'ReadToolTarball', action: 's3:GetObject', resource: expect.stringMatching(/^arn:aws:s3:::cdk-[a-z0-9]+-assets-111111111111-us-east-1\/service-pipelines\/tool\/\*\.tgz$/) },
        ],
      });
    }
  });
});

describe('upgrading the tool', () => {
  /** A small package shaped as service-pipelines, packed (in a second). */
  function fixtureTool(version: string): Promise<PackedTool> {
    return packTool({ processes: nodeProcesses, clock: systemClock, root: writeFixturePackage(tempFolder('sp-fixture-tool-'), { version }), cacheDir: tempFolder('sp-fixture-cache-') });
  }

  async function exampleWith(tool: PackedTool) {
    const { config } = await loadConfig('pipelines.config.ts', examples);
    const outdir = tempFolder('sp-upgrade-');
    appOf(config, { tool: ToolSource.fromPackedTool(tool), outdir }).app.synth();
    return templatesOf(outdir);
  }

  it('GIVEN the example synthesized with two tool versions WHEN compared THEN the pipelines and deployer stacks are the same, byte for byte, and only the value of the tool parameter changes', async () => {
    const older = await exampleWith(await fixtureTool('1.0.0'));
    const newer = await exampleWith(await fixtureTool('1.1.0'));
    expect(Object.keys(newer).sort()).toEqual(Object.keys(older).sort());
    for (const name of Object.keys(older).filter((n) => n !== 'service-pipelines-shared')) {
      expect({ name, template: newer[name] }).toEqual({ name, template: older[name] });
    }
    // CodePipeline can still roll a stage back to executions from before the upgrade: no pipeline changed.
    expect(resourcesOf(newer, 'AWS::CodePipeline::Pipeline')).toEqual(resourcesOf(older, 'AWS::CodePipeline::Pipeline'));
    const changed = Object.keys(older['service-pipelines-shared']!.Resources).filter(
      (id) => JSON.stringify(older['service-pipelines-shared']!.Resources[id]) !== JSON.stringify(newer['service-pipelines-shared']!.Resources[id]),
    );
    expect(changed.map((id) => older['service-pipelines-shared']!.Resources[id]!.Type)).toEqual(['AWS::SSM::Parameter']);
    const value = (templates: Record<string, Template>) => resolveValue(resourcesOf(templates, 'AWS::SSM::Parameter')[0]!.Properties['Value']).split(' ')[2];
    expect([value(older), value(newer)]).toEqual(['1.0.0', '1.1.0']);
  });

  it('GIVEN two prefixes WHEN synthesized THEN each has a tool parameter and an asset prefix of its own, so two installations in one account do not collide', async () => {
    const { config } = await loadConfig('pipelines.config.ts', examples);
    const built = appOf(config, { prefix: 'team-a' });
    const shared = built.app.synth().getStackByName('team-a-shared').template as Template;
    const [parameter] = Object.values(shared.Resources).filter((r) => r.Type === 'AWS::SSM::Parameter');
    expect(parameter!.Properties['Name']).toBe('/team-a/tool');
    expect(built.cicd.tool.installCommands[0]).toContain('--name /team-a/tool');
    const tarballs = built.cicd.sharedStack.resolve(built.cicd.tool.policyStatements[1]!.toStatementJson()) as { Resource: unknown };
    expect(resolveValue(tarballs.Resource)).toMatch(/\/team-a\/tool\/\*\.tgz$/);
  });
});
