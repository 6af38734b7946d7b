import type { Command } from 'commander';
import type { CliContext } from '../context.js';

interface RunOptions {
  src: string;
  inPlace?: boolean;
  env: string[];
  artifactsOut?: string;
  json?: boolean;
  secretsFile?: string;
  awsSecrets?: boolean;
  keep?: boolean;
}

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function registerBuildspec(program: Command, ctx: CliContext): void {
  const buildspec = program.command('buildspec').description('run or check a CodeBuild buildspec on this machine');

  buildspec
    .command('run')
    .description('run a buildspec the way CodeBuild does (phases in one shell, finally, on-failure, variables, secrets, artifacts), in a copy of the source')
    .argument('<file>', 'the buildspec (YAML), relative to the current folder')
    .option('--src <dir>', 'the source folder (CODEBUILD_SRC_DIR); the build runs in a copy of it', '.')
    .option('--in-place', 'run in the source folder itself instead of a copy')
    .option('--env <name=value>', 'a variable of the build, over the buildspec\'s own (repeatable)', collect, [])
    .option('--artifacts-out <dir>', 'collect the artifacts: the primary one in DIR/primary, each secondary one in DIR/<id>')
    .option('--json', 'print one JSON document on stdout ({status, phases, exportedVariables, artifacts}); the log goes to stderr')
    .option('--secrets-file <file>', 'values of parameter-store and secrets-manager variables: {"parameter-store": {...}, "secrets-manager": {...}}')
    .option('--aws-secrets', 'read parameter-store and secrets-manager variables from AWS (default credentials)')
    .option('--keep', 'keep the build folder (copy of the source and log) even when the build succeeds')
    .addHelpText(
      'after',
      '\nWithout --secrets-file or --aws-secrets, parameters and secrets come from the environment:\n' +
        '  SERVICE_PIPELINES_PARAMETER_<NAME> and SERVICE_PIPELINES_SECRET_<ID> (non-alphanumerics as _, upper case).\n' +
        'Exit codes: 0 the build succeeded, 1 it failed (the phase and command are named, the log is kept), 2 bad input.',
    )
    .action(async (file: string, options: RunOptions) => {
      await runCommand(file, options, ctx);
    });

  buildspec
    .command('check')
    .description('validate a buildspec: every problem, with its line and column')
    .argument('<file>', 'the buildspec (YAML)')
    .action(async (file: string) => {
      const [{ resolve }, { parseBuildspec }] = await Promise.all([import('node:path'), import('../../buildspec/parse.js')]);
      const text = await readBuildspec(resolve(ctx.cwd, file), file);
      const parsed = parseBuildspec(text, file);
      const phases = Object.keys(parsed.phases);
      const secondary = Object.keys(parsed.artifacts?.['secondary-artifacts'] ?? {});
      ctx.stdout.write(
        `${file}: valid buildspec (phases: ${phases.join(', ') || 'none'}; artifacts: ${parsed.artifacts?.files ? 'primary' : 'no primary'}` +
          `${secondary.length ? `, secondary ${secondary.join(', ')}` : ''})\n`,
      );
    });
}

async function runCommand(file: string, options: RunOptions, ctx: CliContext): Promise<void> {
  // Only what this command needs, so that a build starts fast (the artifact collector, the
  // source copy and the AWS SDK load when they are used).
  const [
    { createWriteStream },
    { mkdtemp, rm, stat },
    { tmpdir },
    { join, resolve },
    { InputError },
    { parseBuildspec },
    { runBuildspec },
    { LocalSecretResolver, RememberingSecretResolver },
    { nodeProcesses, runCaptured },
    { SecretMasker },
  ] = await Promise.all([
    import('node:fs'),
    import('node:fs/promises'),
    import('node:os'),
    import('node:path'),
    import('../../model/errors.js'),
    import('../../buildspec/parse.js'),
    import('../../local/executor/run-buildspec.js'),
    import('../../local/executor/secrets.js'),
    import('../../runtime/process.js'),
    import('../../local/executor/log.js'),
  ]);

  // Every input is checked before anything is copied or run.
  const env: Record<string, string> = {};
  const problems = [];
  for (const pair of options.env) {
    const equals = pair.indexOf('=');
    const name = equals === -1 ? pair : pair.slice(0, equals);
    if (equals === -1 || !VARIABLE_NAME.test(name)) {
      problems.push({ where: `--env ${pair}`, message: 'expected NAME=value, NAME made of letters, digits and _' });
    } else {
      env[name] = pair.slice(equals + 1);
    }
  }
  if (options.secretsFile && options.awsSecrets) {
    problems.push({ where: '--secrets-file, --aws-secrets', message: 'give one source of secrets, not both' });
  }
  const src = resolve(ctx.cwd, options.src);
  const srcInfo = await stat(src).catch(() => undefined);
  if (!srcInfo?.isDirectory()) {
    problems.push({ where: `--src ${options.src}`, message: srcInfo ? 'is not a folder' : 'no such folder' });
  }
  if (problems.length) {
    throw new InputError('bad arguments to "buildspec run"', problems);
  }
  // Parsed here, so that a bad buildspec stops the command before the source is copied; the
  // executor gets the parsed document (and validates it again, which costs no YAML parsing).
  const document = parseBuildspec(await readBuildspec(resolve(ctx.cwd, file), file), file);
  // Remembered, so that --json masks what it prints as the log is masked.
  const secrets = new RememberingSecretResolver(
    options.awsSecrets
      ? new (await import('../../local/executor/aws-secret-resolver.js')).AwsSecretResolver()
      : options.secretsFile
        ? LocalSecretResolver.fromFile(resolve(ctx.cwd, options.secretsFile), ctx.env)
        : LocalSecretResolver.fromEnvironment(ctx.env),
  );

  const artifactsOut = options.artifactsOut === undefined ? undefined : resolve(ctx.cwd, options.artifactsOut);
  // CODEBUILD_RESOLVED_SOURCE_VERSION: the commit, when the source is in a git repository (git
  // is only started when there is one, as starting it costs more than the rest of a small build).
  const sourceVersion = (await insideGitRepository(src))
    ? runCaptured(nodeProcesses, 'git', ['rev-parse', 'HEAD'], { cwd: src }).then(
        (run) => (run.code === 0 ? run.stdout.trim() : undefined),
        () => undefined,
      )
    : Promise.resolve(undefined);
  const folder = options.inPlace
    ? { root: await mkdtemp(join(tmpdir(), 'service-pipelines-build-')), srcDir: src }
    : await (await import('../../local/executor/source-copy.js')).copySource(src, { exclude: artifactsOut ? [artifactsOut] : [] });
  const logFile = join(folder.root, 'build.log');
  const logStream = createWriteStream(logFile);
  const out = options.json ? ctx.stderr : ctx.stdout;
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let result;
  try {
    const resolvedSourceVersion = await sourceVersion;
    result = await runBuildspec({
      buildspec: { file, document },
      srcDir: folder.srcDir,
      // A copy is the build's own: its artifacts may hard-link its files. The user's folder is not.
      ownsSrcDir: !options.inPlace,
      env,
      baseEnv: ctx.env,
      ...(artifactsOut !== undefined ? { artifactsOut } : {}),
      ...(resolvedSourceVersion !== undefined ? { resolvedSourceVersion } : {}),
      secrets,
      signal: controller.signal,
      onLog: (line) => {
        out.write(`${line.text}\n`);
        logStream.write(`${line.text}\n`);
      },
    });
  } catch (error) {
    await closeStream(logStream);
    await rm(folder.root, { recursive: true, force: true });
    throw error;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  await closeStream(logStream);

  // The log masks parameter-store and secrets-manager values, and build variables given in their
  // place; what is printed besides it (exported variables, the failure) is masked the same way.
  const masker = new SecretMasker();
  for (const value of secrets.values) masker.add(value);
  for (const name of [...Object.keys(document.env?.['parameter-store'] ?? {}), ...Object.keys(document.env?.['secrets-manager'] ?? {})]) {
    if (env[name] !== undefined) masker.add(env[name]);
  }
  if (options.json) {
    const json = {
      status: result.status,
      phases: result.phases.map((phase) => ({ name: phase.name, status: phase.status, ...(phase.exitCode !== undefined ? { exitCode: phase.exitCode } : {}) })),
      exportedVariables: Object.fromEntries(Object.entries(result.exportedVariables).map(([name, value]) => [name, masker.mask(value)])),
      artifacts: { primary: result.artifacts.primary ?? null, secondary: result.artifacts.secondary },
      ...(result.failure
        ? {
            failure: {
              ...result.failure,
              message: masker.mask(result.failure.message),
              ...(result.failure.command === undefined ? {} : { command: masker.mask(result.failure.command) }),
            },
          }
        : {}),
    };
    ctx.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  }
  if (result.status === 'FAILED') {
    const where = options.inPlace ? '' : `\n  the build's folder is kept at ${folder.srcDir}`;
    ctx.stderr.write(`error: the build failed: ${masker.mask(result.failure?.message ?? 'see the log')}\n  the log is kept at ${logFile}${where}\n`);
    ctx.exitCode = 1;
  } else {
    if (!options.json) {
      const artifacts = [
        ...(result.artifacts.primary ? [`primary: ${result.artifacts.primary}`] : []),
        ...Object.entries(result.artifacts.secondary).map(([id, path]) => `${id}: ${path}`),
      ];
      for (const line of artifacts) {
        ctx.stdout.write(`artifact ${line}\n`);
      }
    }
    if (options.keep) {
      ctx.stderr.write(`the build's folder is kept at ${folder.root}\n`);
    } else {
      await rm(folder.root, { recursive: true, force: true });
    }
  }
}

/** The buildspec's text; one over the size limit is refused before it is read. */
async function readBuildspec(path: string, file: string): Promise<string> {
  const [{ readFile, stat }, { InputError }, { buildspecSizeProblem }] = await Promise.all([
    import('node:fs/promises'),
    import('../../model/errors.js'),
    import('../../buildspec/parse.js'),
  ]);
  try {
    const tooLarge = buildspecSizeProblem((await stat(path)).size, file);
    if (tooLarge) {
      throw new InputError(`${file} is too large`, [tooLarge]);
    }
    return await readFile(path, 'utf8');
  } catch (error) {
    if (error instanceof InputError) {
      throw error;
    }
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputError(`cannot read the buildspec ${file}`, [{ where: file, message: code === 'ENOENT' ? 'no such file' : (error as Error).message }]);
  }
}

/** Whether `folder` or a folder above it holds `.git`. */
async function insideGitRepository(folder: string): Promise<boolean> {
  const [{ access }, { dirname, join }] = await Promise.all([import('node:fs/promises'), import('node:path')]);
  for (let current = folder; ; current = dirname(current)) {
    if (await access(join(current, '.git')).then(() => true, () => false)) {
      return true;
    }
    if (dirname(current) === current) {
      return false;
    }
  }
}

function closeStream(stream: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolvePromise) => stream.end(() => resolvePromise()));
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
