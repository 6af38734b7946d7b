/**
 * Helpers of the steps tests: a temp copy of the example service, a local home whose install
 * cache is shared by every test file (so the example is installed once, not once per file),
 * and the CLI run in-process with its output captured.
 */
import { readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.js';
import type { CliContext } from '../../src/cli/context.js';

/** The example service of the repository. */
export const EXAMPLE_DIR = fileURLToPath(new URL('../../examples/ac-rest-api/', import.meta.url));

/** The install cache shared by the test files (and by later runs on the same machine). */
export const SHARED_INSTALL_CACHE = path.join(os.tmpdir(), 'service-pipelines-test-install-cache');

/** A temp folder, removed by the returned function. */
export async function tempDir(prefix: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `sp-${prefix}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Copy the example service's sources (not its node_modules or build output) into a folder. */
export async function copyExample(into: string): Promise<string> {
  const skipped = new Set(['node_modules', '.serverless', '.pipeline']);
  await cp(EXAMPLE_DIR, into, {
    recursive: true,
    filter: (source) => !skipped.has(path.basename(source)) && !path.basename(source).startsWith('serverless.service-pipelines-'),
  });
  return into;
}

/** A local state folder whose `cache/` is the shared install cache. */
export async function makeHome(root: string): Promise<string> {
  const home = path.join(root, '.service-pipelines');
  await mkdir(home, { recursive: true });
  await mkdir(SHARED_INSTALL_CACHE, { recursive: true });
  await symlink(SHARED_INSTALL_CACHE, path.join(home, 'cache'), 'dir');
  return home;
}

/** The environment of a test step: this machine's PATH and HOME, and no AWS credentials of any kind. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const key of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'npm_config_cache']) {
    if (process.env[key] !== undefined) env[key] = process.env[key];
  }
  return { ...env, NO_COLOR: '1', AWS_EC2_METADATA_DISABLED: 'true', ...extra };
}

/** What a CLI run printed, and its exit code. */
export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run `service-pipelines <args>` in this process (the steps still start real processes). */
export async function runCli(args: readonly string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<CliRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: string[] = [];
  const err: string[] = [];
  stdout.on('data', (chunk: Buffer) => out.push(chunk.toString()));
  stderr.on('data', (chunk: Buffer) => err.push(chunk.toString()));
  const ctx: CliContext = { stdout, stderr, stdin: new PassThrough(), cwd: options.cwd, env: options.env, exitCode: 0 };
  const code = await main(['node', 'service-pipelines', ...args], ctx);
  // Let piped child output that is still in flight arrive.
  await new Promise((resolve) => setImmediate(resolve));
  return { code, stdout: out.join(''), stderr: err.join('') };
}

/** Whether a process runs (a zombie, exited but not reaped yet, does not). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true;
  }
}
