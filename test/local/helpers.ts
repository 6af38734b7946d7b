/**
 * Helpers of the local engine tests: real git repositories in temp folders, configs, and plans
 * whose commands are plain shell (the plan is data: the engine runs whatever commands it holds).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, chmodSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openDeploymentRecords } from '../../src/local/deployment-records.js';
import { runPipeline, type RunPipelineOptions, type RunPipelineResult } from '../../src/local/engine.js';
import { buildPipelinePlan } from '../../src/model/plan.js';
import type { CommandsPlanAction, PipelinePlan } from '../../src/model/plan-schema.js';
import { validateConfig, type ValidConfig } from '../../src/model/validate.js';

/** A temp folder, removed (read-only stored artifacts included) by the returned cleanup. */
export function tempFolder(prefix = 'sp-local-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return {
    dir,
    cleanup: () => {
      makeWritable(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function makeWritable(dir: string): void {
  try {
    chmodSync(dir, 0o755);
    for (const name of readdirSync(dir)) {
      const child = path.join(dir, name);
      if (statSync(child, { throwIfNoEntry: false })?.isDirectory()) {
        makeWritable(child);
      }
    }
  } catch {
    // Gone already.
  }
}

/** Write files (relative path → content) below a folder. */
export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
}

/** Run git in a folder, as a test user. */
export function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.com', '-c', 'init.defaultBranch=main', ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1' },
  }).trim();
}

/** A git repository with the files committed; returns the commit. */
export function gitRepository(dir: string, files: Record<string, string>): string {
  mkdirSync(dir, { recursive: true });
  git(dir, 'init', '-q');
  writeFiles(dir, files);
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'initial');
  return git(dir, 'rev-parse', 'HEAD');
}

/** A validated custom-flavor config for one service at `sourcePath`. */
export function customConfig(sourcePath: string, extra: { webhook?: string; executionMode?: 'SUPERSEDED' | 'QUEUED' | 'PARALLEL'; email?: boolean } = {}): ValidConfig {
  return validateConfig({
    cicd: { account: '111111111111', region: 'us-east-1' },
    environments: [
      { name: 'dev', account: '222222222222', region: 'us-east-1' },
      // CodePipeline has no stage rollback in PARALLEL mode, and the config refuses it there.
      { name: 'prod', account: '444444444444', region: 'us-east-1', approval: true, rollbackOnFailure: extra.executionMode !== 'PARALLEL' },
    ],
    ...(extra.webhook || extra.email ? { notifications: { ...(extra.webhook ? { webhook: extra.webhook } : {}), ...(extra.email ? { email: ['ops@example.com'] } : {}) } } : {}),
    ...(extra.executionMode ? { executionMode: extra.executionMode } : {}),
    services: [
      {
        name: 'svc',
        flavor: 'custom',
        source: { path: sourcePath },
        commands: { package: 'true', deploy: 'true' },
      },
    ],
  });
}

/**
 * The service's plan with each commands action's commands replaced by plain shell lines
 * (`Stage.Action` → lines; actions not named get `true`).
 */
/** A commands action that runs plain shell lines instead of its setup and step. */
function asShell(action: CommandsPlanAction, commands: string[]): CommandsPlanAction {
  const { step: _step, ...rest } = action;
  return { ...rest, setup: [], commands };
}

export function shellPlan(config: ValidConfig, commands: Record<string, string[]>, trigger: 'push' | 'pull-request' = 'push'): PipelinePlan {
  const plan = buildPipelinePlan(config, 'svc', trigger);
  return {
    ...plan,
    stages: plan.stages.map((stage) => ({
      ...stage,
      actions: stage.actions.map((action) =>
        action.kind === 'commands' ? asShell(action, commands[`${stage.name}.${action.name}`] ?? ['true']) : action,
      ),
      ...(stage.rollback
        ? {
            // Rolling back runs the plan's own steps unless the test names lines for them.
            rollback: { ...stage.rollback, actions: stage.rollback.actions.map((action) => (commands[`${stage.name}.${action.name}`] ? asShell(action, commands[`${stage.name}.${action.name}`]!) : action)) },
          }
        : {}),
    })),
  };
}

/** Commands that write an output artifact as the contract says (`.pipeline/<name>/`). */
export function writeArtifact(name: string, file: string, content: string): string {
  return `mkdir -p .pipeline/${name} && printf '%s' ${JSON.stringify(content)} > .pipeline/${name}/${file}`;
}

/**
 * The processes (not zombies) whose environment carries an execution's id, as every process of
 * its actions does (`SERVICE_PIPELINES_EXECUTION_ID`). Linux only (/proc).
 */
export function processesCarrying(executionId: string): number[] {
  const marker = Buffer.from(`SERVICE_PIPELINES_EXECUTION_ID=${executionId}\0`);
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      if (readFileSync(`/proc/${name}/environ`).includes(marker)) found.push(Number(name));
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

/** Kill whatever an execution left running (test cleanup). */
export function killProcessesCarrying(executionId: string): void {
  for (const pid of processesCarrying(executionId)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
}

/** A run to start: the plan, and the engine's options. */
export type PlannedRun = RunPipelineOptions & { readonly plan: PipelinePlan };

/** Run a plan with its options (`runPipeline(plan, options)`). */
export function runPlanned({ plan, ...options }: PlannedRun): Promise<RunPipelineResult> {
  return runPipeline(plan, options);
}

/** A run of `config`'s `svc` pipeline with plain shell commands (see `shellPlan`), local stages left alone. */
export function shellRunOptions(
  config: ValidConfig,
  commands: Record<string, string[]>,
  where: { readonly baseDir: string; readonly home: string },
  extra: Partial<PlannedRun> = {},
): PlannedRun {
  return {
    definitionFile: 'pipelines.config.json',
    baseDir: where.baseDir,
    home: where.home,
    plan: shellPlan(config, commands),
    pollMs: 50,
    ...extra,
  };
}

/** What the history in `home` records of a service's local deployment of an environment (current and last good release). */
export async function deploymentRecordOf(home: string, service: string, environment: string) {
  const records = await openDeploymentRecords(home);
  try {
    return await records.get(service, environment);
  } finally {
    records.close();
  }
}
