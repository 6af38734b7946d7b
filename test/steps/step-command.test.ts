/**
 * `service-pipelines step` on small services made in temp folders: bad input exits 2 naming the
 * place, a failing command exits 1 naming the step and the command, `--command` replaces a step's
 * default, and the custom flavor packages, deploys and runs acceptance tests with its own commands.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cleanEnv, runCli, tempDir } from './support.js';

describe('service-pipelines step', () => {
  let root: { dir: string; remove: () => Promise<void> };
  const step = (args: string[], extra: Record<string, string> = {}) => runCli(['step', ...args], { cwd: root.dir, env: cleanEnv(extra) });

  beforeEach(async () => {
    root = await tempDir('step');
    await writeFile(
      path.join(root.dir, 'package.json'),
      JSON.stringify({ name: 'svc', private: true, scripts: { lint: 'echo linted', test: 'node -e "process.exit(3)"' } }),
    );
  });
  afterEach(() => root.remove());

  describe('bad input exits 2, naming what is wrong and where', () => {
    it.each([
      [['bogus'], 'unknown step "bogus"', 'valid steps: install, lint, test-unit, test-integration, package, deploy, test-acceptance, rollback'],
      [['deploy'], 'step deploy needs the environment it acts on', '--stage: give --stage <environment>'],
      [['test-acceptance'], 'step test-acceptance needs the environment', '--stage'],
      [['rollback'], 'step rollback needs the environment', '--stage'],
      [['package'], 'step package needs the environments to package for', '--stage: give --stage <name>@<region>'],
      [['package', '--stage', 'dev'], 'no region for stage "dev"', '--stage dev@<region>'],
      [['package', '--stage', 'dev@moon'], '"moon" is not an AWS region', '--stage dev@moon'],
      [['package', '--stage', 'dev@us-east-1', '--stage', 'dev@us-east-1'], 'stage "dev" is given twice', '--stage'],
      [['deploy', '--stage', 'a', '--stage', 'b'], 'step deploy acts on one environment', '--stage'],
      [['deploy', '--stage', 'dev', '--region', 'us-east-1'], 'no package manifest at', 'run `service-pipelines step package` first'],
      [['lint', '--flavor', 'docker'], 'unknown flavor "docker"', '--flavor'],
      [['test-integration'], 'the service has no "test:integration" script', 'package.json:scripts'],
      [['lint', '--flavor', 'custom'], 'the custom flavor has no default lint command', '--command'],
      [['test-acceptance', '--stage', 'dev'], 'no stack outputs for stage dev', 'CODEBUILD_SRC_DIR_Outputs_dev'],
      [['rollback', '--stage', 'dev'], 'nothing to roll dev back to', 'CodePipeline itself'],
    ])('GIVEN `step %j` THEN exit 2: %s', async (args, message, where) => {
      const run = await step(args);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(message);
      expect(run.stderr).toContain(where);
    });

    it('GIVEN no step name THEN commander reports the missing argument, exit 2', async () => {
      const run = await step([]);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain("missing required argument 'name'");
    });

    it('GIVEN a local deploy without SERVICE_PIPELINES_HOME THEN exit 2 naming the variable', async () => {
      const pkg = path.join(root.dir, 'pkg');
      await mkdir(pkg);
      await writeFile(
        path.join(pkg, 'manifest.json'),
        JSON.stringify({
          schemaVersion: 1, service: 'svc', flavor: 'serverless', createdAt: 'now', bundle: null,
          stages: [{ name: 'dev', region: 'us-east-1', directory: 'stages/dev' }], files: {},
        }),
      );
      const run = await step(['deploy', '--stage', 'dev', '--package', pkg], { SERVICE_PIPELINES_TARGET: 'local' });
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('SERVICE_PIPELINES_HOME');
    });

    it('GIVEN a manifest of the wrong shape THEN exit 2 naming the field', async () => {
      const pkg = path.join(root.dir, '.pipeline', 'Package');
      await mkdir(pkg, { recursive: true });
      await writeFile(path.join(pkg, 'manifest.json'), JSON.stringify({ schemaVersion: 1, service: 'svc', flavor: 'serverless', createdAt: 'now', bundle: { file: '../x.zip', sha256: 'nope', bytes: 1 }, stages: [], files: {} }));
      const run = await step(['deploy', '--stage', 'dev', '--region', 'us-east-1']);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('manifest.json:bundle.file: must be a path inside the Package folder');
      expect(run.stderr).toContain('manifest.json:bundle.sha256: must be a sha256 in hex');
    });
  });

  describe('running commands', () => {
    it('GIVEN a failing default command WHEN the step runs THEN exit 1 naming the step and the command', async () => {
      const run = await step(['test-unit']);
      expect(run.code).toBe(1);
      expect(run.stdout).toContain('[step test-unit] $ npm test');
      expect(run.stderr).toContain('error: step test-unit failed: `npm test` exited with code 3');
    });

    it('GIVEN --command WHEN a serverless step runs THEN the commands replace the default, in order, in one folder, with STAGE set', async () => {
      const run = await step(['lint', '--stage', 'dev', '--command', 'echo first > order.txt', '--command', 'echo "second $STAGE" >> order.txt']);
      expect(run.code).toBe(0);
      expect(await readFile(path.join(root.dir, 'order.txt'), 'utf8')).toBe('first\nsecond dev\n');
      expect(run.stdout).not.toContain('npm run lint');
    });

    it('GIVEN a failing --command THEN the later ones do not run and exit 1 names the failing one', async () => {
      const run = await step(['lint', '--command', 'echo out; echo err >&2; exit 7', '--command', 'touch never']);
      expect(run.code).toBe(1);
      expect(run.stdout).toContain('out');
      expect(run.stderr).toContain('err');
      expect(run.stderr).toContain('step lint failed: `echo out; echo err >&2; exit 7` exited with code 7');
      await expect(readFile(path.join(root.dir, 'never'))).rejects.toThrow();
    });

    it('GIVEN the custom flavor without an install command THEN install has nothing to do', async () => {
      const run = await step(['install', '--flavor', 'custom']);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('nothing to install');
    });
  });

  describe('the custom flavor end to end (local target)', () => {
    it('GIVEN custom package, deploy and acceptance commands THEN the package is recorded, verified, and the outputs reach the tests', async () => {
      const local = { SERVICE_PIPELINES_TARGET: 'local', SERVICE_PIPELINES_HOME: path.join(root.dir, 'home') };
      const packaged = await step(['package', '--flavor', 'custom', '--stage', 'dev@us-east-1', '--command', 'mkdir -p .pipeline/Package && echo "code v1" > .pipeline/Package/app.txt']);
      expect(packaged.code).toBe(0);
      const manifest = JSON.parse(await readFile(path.join(root.dir, '.pipeline', 'Package', 'manifest.json'), 'utf8')) as { flavor: string; files: Record<string, string> };
      expect(manifest.flavor).toBe('custom');
      expect(Object.keys(manifest.files)).toEqual(['app.txt']);

      const deployCommand = 'mkdir -p .pipeline/Outputs_dev && printf \'{"ServiceEndpoint":"http://127.0.0.1:9/dev","Extra":"x"}\' > .pipeline/Outputs_dev/stack-outputs.json && cat "$PACKAGE_DIR/app.txt"';
      const deployed = await step(['deploy', '--flavor', 'custom', '--stage', 'dev', '--command', deployCommand], local);
      expect(deployed.code).toBe(0);
      expect(deployed.stdout).toContain('code v1');

      const tested = await step(['test-acceptance', '--flavor', 'custom', '--stage', 'dev', '--command', 'echo "url=$SERVICE_URL extra=$Extra stage=$STAGE"'], local);
      expect(tested.code).toBe(0);
      expect(tested.stdout).toContain('url=http://127.0.0.1:9/dev extra=x stage=dev');

      await writeFile(path.join(root.dir, '.pipeline', 'Package', 'app.txt'), 'code v2\n');
      const refused = await step(['deploy', '--flavor', 'custom', '--stage', 'dev', '--command', 'echo should-not-run'], local);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('refusing to deploy: a package file');
      expect(refused.stdout).not.toContain('should-not-run');
    });

    it("GIVEN a custom package and the digest its Package action recorded WHEN the package is replaced whole THEN the deploy refuses it", async () => {
      const local = { SERVICE_PIPELINES_TARGET: 'local', SERVICE_PIPELINES_HOME: path.join(root.dir, 'home') };
      const pack = (text: string) => step(['package', '--flavor', 'custom', '--stage', 'dev@us-east-1', '--command', `rm -rf .pipeline/Package && mkdir -p .pipeline/Package && echo "${text}" > .pipeline/Package/app.txt`]);
      expect((await pack('code v1')).code).toBe(0);
      // No bundle: the manifest (which holds every file's digest) is what the digest pins.
      const recorded = (await readFile(path.join(root.dir, '.pipeline', 'Package.sha256'), 'utf8')).trim();
      expect(recorded).toBe(createHash('sha256').update(await readFile(path.join(root.dir, '.pipeline', 'Package', 'manifest.json'))).digest('hex'));
      const deploy = (env: Record<string, string>) => step(['deploy', '--flavor', 'custom', '--stage', 'dev', '--command', 'cat "$PACKAGE_DIR/app.txt"'], { ...local, ...env });
      expect((await deploy({ PACKAGE_SHA256: recorded })).code).toBe(0);

      expect((await pack('code nobody tested')).code).toBe(0);
      const refused = await deploy({ PACKAGE_SHA256: recorded });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`refusing to deploy: the package manifest has sha256`);
      expect(refused.stderr).toContain(`but the Package action recorded ${recorded} (PACKAGE_SHA256)`);
      expect(refused.stdout).not.toContain('code nobody tested');
    });

    it('GIVEN outputs from an input artifact THEN test-acceptance reads them from CODEBUILD_SRC_DIR_Outputs_<env>', async () => {
      const outputsDir = path.join(root.dir, 'outputs-artifact');
      await mkdir(outputsDir);
      await writeFile(path.join(outputsDir, 'stack-outputs.json'), JSON.stringify({ HttpApiUrl: 'http://127.0.0.1:9' }));
      const run = await step(['test-acceptance', '--stage', 'pre-prod', '--command', 'echo "url=$SERVICE_URL"'], { CODEBUILD_SRC_DIR_Outputs_pre_prod: outputsDir });
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('url=http://127.0.0.1:9');
    });
  });
});
