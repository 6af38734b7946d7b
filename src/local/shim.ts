/**
 * The `service-pipelines` that actions find on their PATH: a tiny script that runs THIS
 * installation, so the steps a local run executes are the same code as the engine running them.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { shellQuote } from '../model/plan.js';

/** This package's CLI entry point (`bin/service-pipelines.js`), from `src/local/` or `dist/local/`. */
export function packageCliPath(): string {
  return fileURLToPath(new URL('../../bin/service-pipelines.js', import.meta.url));
}

/**
 * Write `<home>/bin/service-pipelines` (once; rewritten when this installation moved) and
 * return the folder to put first on the actions' PATH.
 */
export async function ensureCliShim(home: string, nodePath: string = process.execPath): Promise<string> {
  const bin = path.join(home, 'bin');
  const shim = path.join(bin, 'service-pipelines');
  const text = `#!/bin/sh\n# Written by service-pipelines: runs the installation that runs this pipeline.\nexec ${shellQuote(nodePath)} ${shellQuote(packageCliPath())} "$@"\n`;
  const current = await readFile(shim, 'utf8').catch(() => undefined);
  if (current !== text) {
    await mkdir(bin, { recursive: true });
    const temporary = `${shim}.${randomUUID()}.tmp`;
    await writeFile(temporary, text, { mode: 0o755 });
    await rename(temporary, shim);
  }
  return bin;
}
