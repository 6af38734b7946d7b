import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildspecForAction, parseBuildspec, renderBuildspec } from '../../src/buildspec/index.js';
import { runBuildspec } from '../../src/local/executor/index.js';

describe('buildspecForAction', () => {
  it('renders an action to a buildspec CodeBuild reads, and the local executor runs it to the same artifacts', async () => {
    // GIVEN a commands action with two outputs, written where steps write them
    const action = {
      setup: [],
      commands: ['mkdir -p .pipeline/Package .pipeline/Reports', 'echo "zip of $SERVICE_NAME" > .pipeline/Package/code.zip', 'echo "<x/>" > .pipeline/Reports/junit.xml'],
      env: { SERVICE_NAME: 'ac-rest-api' },
      outputs: ['Package', 'Reports'],
    };
    const buildspec = buildspecForAction(action, { exportedVariables: ['SERVICE_NAME'] });
    // WHEN it is rendered, read back, and run
    const yaml = renderBuildspec(buildspec);
    expect(parseBuildspec(yaml, 'action.yml')).toEqual(buildspec);
    const src = mkdtempSync(join(tmpdir(), 'sp-from-plan-'));
    const out = mkdtempSync(join(tmpdir(), 'sp-from-plan-out-'));
    try {
      const result = await runBuildspec({ buildspec: { file: 'action.yml', text: yaml }, srcDir: src, artifactsOut: out, baseEnv: { PATH: process.env.PATH } });
      // THEN each output is a secondary artifact holding what the step wrote
      expect(result.status).toBe('SUCCEEDED');
      expect(result.exportedVariables).toEqual({ SERVICE_NAME: 'ac-rest-api' });
      expect(readFileSync(join(result.artifacts.secondary.Package!, 'code.zip'), 'utf8')).toBe('zip of ac-rest-api\n');
      expect(readFileSync(join(result.artifacts.secondary.Reports!, 'junit.xml'), 'utf8')).toBe('<x/>\n');
    } finally {
      rmSync(src, { recursive: true, force: true });
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('makes a single output the primary artifact', () => {
    // GIVEN an action with one output / WHEN its buildspec is made / THEN it is the primary artifact
    const buildspec = buildspecForAction({ setup: [], commands: ['make'], env: {}, outputs: ['Outputs_dev'] });
    expect(buildspec.artifacts).toEqual({ files: ['**/*'], 'base-directory': '.pipeline/Outputs_dev' });
    expect(buildspec.env).toEqual({ shell: 'bash' });
  });
});
