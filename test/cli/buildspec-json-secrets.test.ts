/**
 * `buildspec run --json` masks secrets in what it prints, as the log does: exported variables
 * holding a parameter-store or secrets-manager value, or a value made from one.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

const folders: string[] = [];
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

const BUILDSPEC = `version: 0.2
env:
  parameter-store:
    API_TOKEN: /app/api-token
  secrets-manager:
    DB_PASS: prod/db:password
  exported-variables: [DB_PASS, DB_URL, API_TOKEN, OVERRIDDEN, PLAIN]
phases:
  build:
    commands:
      - export DB_URL="postgres://app:$DB_PASS@db.internal:5432/app"
      - export PLAIN=visible
      - export OVERRIDDEN="$OVERRIDDEN"
      - echo "connecting to $DB_URL"
`;

describe('service-pipelines buildspec run --json', () => {
  it('GIVEN exported variables holding secrets and values made from them WHEN run with --json THEN stdout shows them masked, as the log does', async () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'sp-json-secrets-'));
    folders.push(cwd);
    writeFileSync(path.join(cwd, 'buildspec.yml'), BUILDSPEC.replace('secrets-manager:\n', 'secrets-manager:\n    OVERRIDDEN: prod/other\n'));
    writeFileSync(
      path.join(cwd, 'secrets.json'),
      JSON.stringify({ 'parameter-store': { '/app/api-token': 'tok-9f8e7d6c' }, 'secrets-manager': { 'prod/db': { password: 'S3cr3t-Pa55' } } }),
    );

    const run = await runCli(['buildspec', 'run', 'buildspec.yml', '--json', '--secrets-file', 'secrets.json', '--env', 'OVERRIDDEN=given-on-the-command-line'], {
      cwd,
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
    });

    expect(run.exitCode).toBe(0);
    const document = JSON.parse(run.stdout) as { exportedVariables: Record<string, string> };
    expect(document.exportedVariables).toEqual({
      DB_PASS: '***',
      DB_URL: 'postgres://app:***@db.internal:5432/app',
      API_TOKEN: '***',
      OVERRIDDEN: '***',
      PLAIN: 'visible',
    });
    for (const secret of ['S3cr3t-Pa55', 'tok-9f8e7d6c', 'given-on-the-command-line']) {
      expect(run.stdout).not.toContain(secret);
      expect(run.stderr).not.toContain(secret);
    }
    expect(run.stderr).toContain('connecting to postgres://app:***@db.internal:5432/app');
  });
});
