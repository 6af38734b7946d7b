/**
 * The lint rule that keeps processes behind the one seam (src/runtime/process.ts): static imports,
 * dynamic `import()` and `require()` of child_process, and `process.kill` (liveness with signal 0,
 * or any other signal) are refused everywhere in src/ but the seam itself.
 */
import path from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const eslint = new ESLint({ cwd: root });

async function problems(file: string, text: string): Promise<string[]> {
  const [result] = await eslint.lintText(text, { filePath: path.join(root, file) });
  return (result?.messages ?? []).map((m) => `${m.ruleId ?? 'parse'}: ${m.message}`);
}

describe('the process seam lint rule', () => {
  it('GIVEN a dynamic import() of child_process in src/local WHEN linted THEN it is refused', async () => {
    const found = await problems('src/local/any.ts', "export async function start(): Promise<void> {\n  const cp = await import('node:child_process');\n  cp.spawn('true');\n}\n");
    expect(found).toEqual([expect.stringMatching(/^no-restricted-syntax: processes go through the one seam.*import\(\)/)]);
  });

  it('GIVEN import() of child_process without the node: prefix, and require() of it, in src/steps WHEN linted THEN both are refused', async () => {
    const found = await problems(
      'src/steps/any.ts',
      "import { createRequire } from 'node:module';\nconst require = createRequire(import.meta.url);\nexport const a = import('child_process');\nexport const b = require('node:child_process') as unknown;\n",
    );
    expect(found).toHaveLength(2);
    expect(found.every((p) => p.startsWith('no-restricted-syntax: processes go through the one seam'))).toBe(true);
  });

  it('GIVEN process.kill(pid, 0) outside the seam (in src/steps and in src/cli) WHEN linted THEN it is refused', async () => {
    const text = 'export function alive(pid: number): boolean {\n  try {\n    process.kill(pid, 0);\n    return true;\n  } catch {\n    return false;\n  }\n}\n';
    expect(await problems('src/steps/any.ts', text)).toEqual([expect.stringMatching(/^no-restricted-properties: 'process.kill'.*process seam/)]);
    expect(await problems('src/cli/any.ts', text)).toEqual([expect.stringMatching(/^no-restricted-properties: 'process.kill'/)]);
  });

  it('GIVEN the same code in the process seam WHEN linted THEN it passes; GIVEN a static import elsewhere THEN it is refused', async () => {
    const code = "import { spawn } from 'node:child_process';\nexport const start = () => spawn('true');\nexport const alive = (pid: number) => process.kill(pid, 0);\nexport const later = () => import('node:child_process');\n";
    expect(await problems('src/runtime/process.ts', code)).toEqual([]);
    expect(await problems('src/serve/any.ts', code)).toEqual([
      expect.stringMatching(/^no-restricted-imports: .*processes go through the one seam/),
      expect.stringMatching(/^no-restricted-properties: 'process.kill'/),
      expect.stringMatching(/^no-restricted-syntax: .*import\(\)/),
    ]);
  });
});
