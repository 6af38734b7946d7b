import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as iam from 'aws-cdk-lib/aws-iam';
import { afterEach, describe, expect, it } from 'vitest';
import { ToolDistribution, DEFAULT_TOOL_PARAMETER } from '../../src/aws/tool-distribution.js';
import { ToolSource } from '../../src/aws/tool-source.js';
import { InputError } from '../../src/model/errors.js';
import { systemClock } from '../../src/runtime/clock.js';
import { packTool, type PackedTool } from '../../src/runtime/pack-tool.js';
import { nodeProcesses } from '../../src/runtime/process.js';
import { fakeAws as fakeAwsCli, resolveValue, runAction, uploadedObjects } from './action-runner.js';
import { CICD, CONNECTION } from './helpers.js';
import { PACK_TIMEOUT_MS, packRunningTool, writeFixturePackage } from '../support/tool-fixtures.js';

const folders: string[] = [];
function tempFolder(prefix = 'sp-tool-'): string {
  const folder = mkdtempSync(path.join(tmpdir(), prefix));
  folders.push(folder);
  return folder;
}
const servers: Server[] = [];
afterEach(async () => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

/** A small package shaped as service-pipelines, packed. */
async function packedFixture(version = '1.0.0', name = 'fixture-tool'): Promise<PackedTool> {
  return packTool({ processes: nodeProcesses, clock: systemClock, root: writeFixturePackage(tempFolder(), { version, name }), cacheDir: tempFolder() });
}

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

interface Synthesized {
  readonly outdir: string;
  readonly shared: Resources;
  readonly pipelines: Resources;
  readonly tool: ToolDistribution;
}

/**
 * The shape the pipelines take: the tool in a shared stack, and in another stack a pipeline
 * whose Commands action starts with the install commands, run by a role given the tool's
 * statements in its inline policy.
 */
function synthesize(source: ToolSource): Synthesized {
  const outdir = tempFolder('sp-tool-cdk-');
  const app = new App({ outdir, analyticsReporting: false, builtinCloudFormationValidation: false });
  const sharedStack = new Stack(app, 'Shared', { env: CICD });
  const tool = new ToolDistribution(sharedStack, 'Tool', { source });
  const pipelinesStack = new Stack(app, 'Pipelines', { env: CICD });
  pipelinesStack.addStackDependency(sharedStack);
  const role = new iam.Role(pipelinesStack, 'ActionRole', {
    roleName: 'svc-build-action',
    assumedBy: new iam.AccountPrincipal(CICD.account),
    inlinePolicies: { Build: new iam.PolicyDocument({ statements: [...tool.policyStatements] }) },
  });
  new codepipeline.CfnPipeline(pipelinesStack, 'Pipeline', {
    name: 'svc',
    pipelineType: 'V2',
    roleArn: role.roleArn,
    artifactStore: { type: 'S3', location: 'artifacts' },
    stages: [
      {
        name: 'Source',
        actions: [
          {
            name: 'Source',
            actionTypeId: { category: 'Source', owner: 'AWS', provider: 'CodeStarSourceConnection', version: '1' },
            configuration: { ConnectionArn: CONNECTION, FullRepositoryId: 'example-org/svc', BranchName: 'main' },
            outputArtifacts: [{ name: 'Source' }],
          },
        ],
      },
      {
        name: 'Build',
        actions: [
          {
            name: 'Lint',
            actionTypeId: { category: 'Compute', owner: 'AWS', provider: 'Commands', version: '1' },
            roleArn: role.roleArn,
            commands: [...tool.installCommands, 'service-pipelines step lint --stage dev'],
            inputArtifacts: [{ name: 'Source' }],
          },
        ],
      },
    ],
  });
  const assembly = app.synth();
  const template = (stack: Stack) => (assembly.getStackByName(stack.stackName).template as { Resources: Resources }).Resources;
  return { outdir, shared: template(sharedStack), pipelines: template(pipelinesStack), tool };
}

function ofType(resources: Resources, type: string) {
  return Object.values(resources).filter((r) => r.Type === type);
}

/** Run an action's commands; its folder is removed after the test. */
async function runActionHere(...args: Parameters<typeof runAction>) {
  const run = await runAction(...args);
  folders.push(run.root);
  return run;
}

/** A stand-in AWS CLI, removed after the test. */
function fakeAws(parameters: Record<string, string>, objects: Record<string, string>) {
  const aws = fakeAwsCli(parameters, objects);
  folders.push(aws.bin);
  return aws;
}

/** The parameter's value as CloudFormation writes it. */
function parameterValue(synthesized: Synthesized): string {
  const [parameter] = ofType(synthesized.shared, 'AWS::SSM::Parameter');
  return resolveValue(parameter!.Properties['Value']);
}

describe('ToolDistribution, from the packed tool', () => {
  it('GIVEN a packed tool WHEN synthesized THEN the tarball is an asset of the cloud assembly, uploaded where the parameter says, with the sha256 and version the parameter names', async () => {
    const tool = await packedFixture('1.4.2');
    const synthesized = synthesize(ToolSource.fromPackedTool(tool));
    const [sha256, location, version, ...rest] = parameterValue(synthesized).split(' ');
    expect({ sha256, version, rest }).toEqual({ sha256: tool.sha256, version: '1.4.2', rest: [] });
    const uploads = uploadedObjects(synthesized.outdir);
    expect(Object.keys(uploads).filter((key) => key.endsWith('.tgz'))).toEqual([location]);
    expect(location).toMatch(new RegExp(`^s3://cdk-[a-z0-9]+-assets-${CICD.account}-${CICD.region}/[0-9a-f]{64}\\.tgz$`));
    expect(createHash('sha256').update(readFileSync(uploads[location!]!)).digest('hex')).toBe(tool.sha256);
    const [parameter] = ofType(synthesized.shared, 'AWS::SSM::Parameter');
    expect(parameter!.Properties).toMatchObject({ Name: DEFAULT_TOOL_PARAMETER, Type: 'String', Tier: 'Standard' });
  });

  it('GIVEN a role in another stack with the tool statements WHEN synthesized THEN it may read the parameter and that one object, nothing else of the bucket, and the stacks share no export', async () => {
    const synthesized = synthesize(ToolSource.fromPackedTool(await packedFixture()));
    const [role] = ofType(synthesized.pipelines, 'AWS::IAM::Role');
    const statements = (role!.Properties['Policies'] as { PolicyDocument: { Statement: { Sid: string; Action: string; Resource: unknown }[] } }[])[0]!.PolicyDocument.Statement;
    const location = parameterValue(synthesized).split(' ')[1]!;
    expect(statements.map((s) => ({ sid: s.Sid, action: s.Action, resource: resolveValue(s.Resource) }))).toEqual([
      { sid: 'ReadToolParameter', action: 'ssm:GetParameter', resource: `arn:aws:ssm:${CICD.region}:${CICD.account}:parameter${DEFAULT_TOOL_PARAMETER}` },
      { sid: 'ReadToolTarball', action: 's3:GetObject', resource: `arn:aws:s3:::${location.slice('s3://'.length)}` },
    ]);
    expect(JSON.stringify(synthesized.pipelines)).not.toContain('Fn::ImportValue');
    expect(JSON.stringify(synthesized.shared)).not.toContain('Export');
  });

  it('GIVEN two tool versions WHEN synthesized THEN the pipeline resource is the same, and only the parameter and the read grant change', async () => {
    const older = synthesize(ToolSource.fromPackedTool(await packedFixture('1.0.0')));
    const newer = synthesize(ToolSource.fromPackedTool(await packedFixture('1.1.0')));
    expect(newer.tool.installCommands).toEqual(older.tool.installCommands);
    expect(ofType(newer.pipelines, 'AWS::CodePipeline::Pipeline')).toEqual(ofType(older.pipelines, 'AWS::CodePipeline::Pipeline'));
    expect(parameterValue(newer)).not.toBe(parameterValue(older));
    expect(ofType(newer.pipelines, 'AWS::IAM::Role')).not.toEqual(ofType(older.pipelines, 'AWS::IAM::Role'));
    for (const command of newer.tool.installCommands) {
      expect(command).not.toMatch(/1\.[01]\.0|[0-9a-f]{64}/);
    }
  });

  it('GIVEN the install commands WHEN run as an action runs them, against the uploaded assembly THEN they fetch the tarball with the action role, check it, and put that version of service-pipelines on PATH', async () => {
    const synthesized = synthesize(ToolSource.fromPackedTool(await packedFixture('1.4.2')));
    const aws = fakeAws({ [DEFAULT_TOOL_PARAMETER]: parameterValue(synthesized) }, uploadedObjects(synthesized.outdir));
    const run = await runActionHere([...synthesized.tool.installCommands, 'service-pipelines --version', 'service-pipelines'], aws);
    expect(run.result.status, run.log).toBe('SUCCEEDED');
    expect(run.output).toEqual(expect.arrayContaining([expect.stringMatching(/^service-pipelines 1\.4\.2 from s3:\/\//), '1.4.2', 'tool+a+b']));
    expect(readFileSync(`${aws.state}.calls`, 'utf8').split('\n').filter(Boolean).map((call) => call.split(' ').slice(0, 2).join(' '))).toEqual(['ssm get-parameter', 's3 cp']);
  });

  it('GIVEN a tarball in the bucket that is not the one synthesized WHEN the install commands run THEN they refuse it and install nothing', async () => {
    const synthesized = synthesize(ToolSource.fromPackedTool(await packedFixture('1.4.2')));
    const uploads = uploadedObjects(synthesized.outdir);
    const location = Object.keys(uploads).find((key) => key.endsWith('.tgz'));
    const other = writeFixturePackage(tempFolder(), { version: '1.4.2' });
    writeFileSync(path.join(other, 'dist/index.js'), "module.exports = () => 'impostor';\n");
    const swapped = await packTool({ processes: nodeProcesses, clock: systemClock, root: other, cacheDir: tempFolder() });
    const aws = fakeAws({ [DEFAULT_TOOL_PARAMETER]: parameterValue(synthesized) }, { [location!]: swapped.file });
    const run = await runActionHere([...synthesized.tool.installCommands, 'service-pipelines'], aws);
    expect(run.result.status).toBe('FAILED');
    expect(run.log).toMatch(/does not have the sha256 that \/service-pipelines\/tool names/);
    expect(run.output).not.toContain('impostor');
    expect(existsSync(path.join(run.home, 'service-pipelines-tool/package'))).toBe(false);
  });

  it('GIVEN no parameter (the tool never deployed) WHEN the install commands run THEN the action fails on the first command', async () => {
    const synthesized = synthesize(ToolSource.fromPackedTool(await packedFixture()));
    const run = await runActionHere([...synthesized.tool.installCommands, 'echo never'], fakeAws({}, {}));
    expect(run.result.status).toBe('FAILED');
    expect(run.log).toMatch(/ParameterNotFound/);
    expect(run.output).not.toContain('never');
  });

  it(
    'GIVEN the running service-pipelines packed and installed by the commands WHEN an action runs steps with it, its SQLite binding unloadable THEN the steps run: actions never load the local engine',
    async () => {
      const synthesized = synthesize(ToolSource.fromPackedTool(await packRunningTool()));
      const aws = fakeAws({ [DEFAULT_TOOL_PARAMETER]: parameterValue(synthesized) }, uploadedObjects(synthesized.outdir));
      const installed = '"${TMPDIR}/service-pipelines-tool/package"';
      // CodeBuild's image is not the machine that packed the tool: a native build from here need not load there.
      const breakBinding = `rm -rf ${installed}/node_modules/better-sqlite3/build`;
      const version = (JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string }).version;
      const run = await runActionHere(
        [
          ...synthesized.tool.installCommands,
          breakBinding,
          'echo "{\\"name\\":\\"svc\\",\\"version\\":\\"1.0.0\\"}" > package.json',
          'service-pipelines --version',
          "service-pipelines step install --stage dev --flavor custom --command 'echo installed'",
          "service-pipelines step lint --stage dev --flavor custom --command 'echo linted'",
          "service-pipelines step test-unit --stage dev --flavor custom --command 'echo tested'",
        ],
        aws,
      );
      expect(run.result.status, run.log).toBe('SUCCEEDED');
      expect(run.output).toEqual(expect.arrayContaining([version, 'installed', 'linted', 'tested']));
      // The control: with the binding broken, SQLite cannot be opened.
      const openDatabase = `node -e "const Database = require(process.argv[1]); new Database(':memory:')" ${installed}/node_modules/better-sqlite3`;
      const control = await runActionHere([...synthesized.tool.installCommands, breakBinding, openDatabase], aws);
      expect(control.result.status).toBe('FAILED');
      expect(control.log).toMatch(/better[-_]sqlite3|bindings/i);
    },
    PACK_TIMEOUT_MS,
  );
});

describe('ToolDistribution, from a registry of your own', () => {
  /** A registry on 127.0.0.1 serving one package version (its packument and tarball), as npm's registry API does. */
  async function registryServing(name: string, tool: PackedTool): Promise<string> {
    const tarball = readFileSync(tool.file);
    const integrity = `sha512-${createHash('sha512').update(tarball).digest('base64')}`;
    const server = createServer((request, response) => {
      const url = decodeURIComponent(request.url ?? '');
      if (url.endsWith('.tgz')) {
        response.writeHead(200, { 'content-type': 'application/octet-stream' }).end(tarball);
      } else if (url === `/${name}`) {
        const { port } = server.address() as AddressInfo;
        response.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            name,
            'dist-tags': { latest: tool.version },
            versions: {
              [tool.version]: {
                name,
                version: tool.version,
                bin: { 'service-pipelines': 'bin/service-pipelines.js' },
                dependencies: { 'fixture-dep-a': '1.0.0' },
                bundleDependencies: true,
                dist: { tarball: `http://127.0.0.1:${port}/${name}/-/tool-${tool.version}.tgz`, integrity },
              },
            },
          }),
        );
      } else {
        response.writeHead(404).end('{}');
      }
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  }

  const integrityOf = (file: string) => `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;

  it('GIVEN a package with its integrity WHEN synthesized THEN the parameter names its sha512, the package and its version; there is no asset, and roles only read the parameter', async () => {
    const tool = await packedFixture('1.2.3', '@acme/service-pipelines');
    const synthesized = synthesize(ToolSource.fromRegistry({ package: '@acme/service-pipelines@1.2.3', integrity: integrityOf(tool.file), registry: 'https://npm.acme.example/' }));
    expect(parameterValue(synthesized)).toBe(
      `${createHash('sha512').update(readFileSync(tool.file)).digest('hex')} @acme/service-pipelines@1.2.3 1.2.3 https://npm.acme.example/`,
    );
    expect(synthesized.tool.asset).toBeUndefined();
    expect(Object.keys(uploadedObjects(synthesized.outdir)).filter((key) => !key.endsWith('.json'))).toEqual([]);
    expect(synthesized.tool.policyStatements.map((s) => s.sid)).toEqual(['ReadToolParameter']);
  });

  it('GIVEN the install commands WHEN run against the registry THEN they fetch that version, check its sha512 and install it, scripts off', async () => {
    const name = '@acme/service-pipelines';
    const tool = await packedFixture('1.2.3', name);
    const registry = await registryServing(name, tool);
    const synthesized = synthesize(ToolSource.fromRegistry({ package: `${name}@1.2.3`, integrity: integrityOf(tool.file) }));
    const npmCache = tempFolder('sp-npm-cache-');
    const run = await runActionHere([...synthesized.tool.installCommands, 'service-pipelines --version', 'service-pipelines'], fakeAws({ [DEFAULT_TOOL_PARAMETER]: parameterValue(synthesized) }, {}), {
      NPM_CONFIG_REGISTRY: registry,
      NPM_CONFIG_CACHE: npmCache,
    });
    expect(run.result.status, run.log).toBe('SUCCEEDED');
    expect(run.output).toEqual(expect.arrayContaining(['1.2.3', 'tool+a+b']));
  });

  it('GIVEN the registry serves other bytes than the integrity given at synth WHEN the install commands run THEN they refuse them', async () => {
    const name = '@acme/service-pipelines';
    const served = await packedFixture('1.2.3', name);
    const pinned = writeFixturePackage(tempFolder(), { version: '1.2.3', name });
    writeFileSync(path.join(pinned, 'dist/extra.js'), '// the reviewed build\n');
    const reviewed = await packTool({ processes: nodeProcesses, clock: systemClock, root: pinned, cacheDir: tempFolder() });
    const registry = await registryServing(name, served);
    const synthesized = synthesize(ToolSource.fromRegistry({ package: `${name}@1.2.3`, integrity: integrityOf(reviewed.file) }));
    const run = await runActionHere([...synthesized.tool.installCommands, 'service-pipelines'], fakeAws({ [DEFAULT_TOOL_PARAMETER]: parameterValue(synthesized) }, {}), {
      NPM_CONFIG_REGISTRY: registry,
      NPM_CONFIG_CACHE: tempFolder('sp-npm-cache-'),
    });
    expect(run.result.status).toBe('FAILED');
    expect(run.log).toMatch(/does not have the sha512 that \/service-pipelines\/tool names/);
    expect(run.output).not.toContain('tool+a+b');
  });

  it.each([
    [{ package: 'service-pipelines@^1.2.0', integrity: `sha512-${'A'.repeat(86)}==` }, 'toolSource.package', /exact version/],
    [{ package: 'service-pipelines', integrity: `sha512-${'A'.repeat(86)}==` }, 'toolSource.package', /exact version/],
    [{ package: 'service-pipelines@1.2.3', integrity: 'sha1-abc' }, 'toolSource.integrity', /sha512/],
    [{ package: 'service-pipelines@1.2.3', integrity: `sha512-${'A'.repeat(86)}==`, registry: 'http://npm.example.com/' }, 'toolSource.registry', /https/],
  ])('GIVEN %j WHEN taken as the tool source THEN %s is refused', (options, where, message) => {
    const error = (() => {
      try {
        ToolSource.fromRegistry(options);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(InputError);
    const problem = (error as InputError).problems.find((p) => p.where === where);
    expect(problem?.message).toMatch(message);
  });
});

describe('the toolSource config key', () => {
  const base = {
    cicd: CICD,
    environments: [{ name: 'dev', account: '222222222222', region: 'us-east-1' }],
    services: [{ name: 'svc', source: { github: { owner: 'example-org', repo: 'svc', connectionArn: CONNECTION } } }],
  };

  it('GIVEN a toolSource without its integrity WHEN synth runs THEN it is refused with exit code 2, naming the key and how to get the hash, and nothing is written', async () => {
    const { runCli } = await import('../support/cli.js');
    const dir = tempFolder('sp-tool-config-');
    writeFileSync(path.join(dir, 'pipelines.config.json'), JSON.stringify({ ...base, toolSource: { package: '@acme/service-pipelines@1.2.3' } }));
    const run = await runCli(['synth', '--config', 'pipelines.config.json', '--out', 'cdk.out'], { cwd: dir });
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/toolSource\.integrity: required: the tarball's integrity .*npm view <package> dist\.integrity/);
    expect(existsSync(path.join(dir, 'cdk.out'))).toBe(false);
  });

  it('GIVEN a toolSource with its integrity WHEN the plans are built THEN the tool source is that package, and nothing is packed', async () => {
    const { validateConfig } = await import('../../src/model/validate.js');
    const { buildPlans } = await import('../../src/model/plan.js');
    const integrity = `sha512-${createHash('sha512').update('reviewed').digest('base64')}`;
    const config = validateConfig({ ...base, toolSource: { package: '@acme/service-pipelines@1.2.3', integrity } });
    const source = await ToolSource.fromPlans(buildPlans(config), () => Promise.reject(new Error('packed although the config names a package')));
    expect(source.source).toEqual({ kind: 'registry', package: '@acme/service-pipelines@1.2.3', version: '1.2.3', sha512: createHash('sha512').update('reviewed').digest('hex') });
  });
});
