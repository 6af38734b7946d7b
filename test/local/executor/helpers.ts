/**
 * Test helpers: run a buildspec with real shells in a temporary folder and keep its log.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { runBuildspec, type BuildspecRunOptions, type BuildspecRunResult, type LogLine } from '../../../src/local/executor/index.js';

const folders: string[] = [];

/** A fresh temporary folder, removed after the test. */
export function tempFolder(prefix = 'sp-executor-'): string {
  const folder = mkdtempSync(join(tmpdir(), prefix));
  folders.push(folder);
  return folder;
}

afterEach(() => {
  for (const folder of folders.splice(0)) {
    rmSync(folder, { recursive: true, force: true });
  }
});

/** What a run returned, with its log. */
export interface Run {
  readonly result: BuildspecRunResult;
  readonly lines: LogLine[];
  /** The commands' own output lines (stdout and stderr), in order. */
  readonly output: string[];
  /** The whole log as text. */
  readonly log: string;
}

/** Run `yaml` in `srcDir` (a new temporary folder unless given). */
export async function run(yaml: string, options: Partial<BuildspecRunOptions> = {}): Promise<Run> {
  const lines: LogLine[] = [];
  const result = await runBuildspec({
    buildspec: { file: 'buildspec.yml', text: yaml },
    srcDir: options.srcDir ?? tempFolder(),
    baseEnv: { PATH: process.env.PATH, HOME: process.env.HOME },
    ...options,
    onLog: (line) => lines.push(line),
  });
  return {
    result,
    lines,
    output: lines.filter((line) => line.kind === 'output').map((line) => line.text),
    log: lines.map((line) => line.text).join('\n'),
  };
}
