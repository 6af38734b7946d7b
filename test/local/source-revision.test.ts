/**
 * A run for a commit (a webhook's sha, `run --revision`) takes that commit, not the working
 * tree: from the repository of `source.path`, fetched from its remote when absent.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { showExecution } from '../../src/local/history.js';
import { InputError } from '../../src/model/errors.js';
import { customConfig, git, gitRepository, shellRunOptions, tempFolder, writeArtifact, writeFiles, runPlanned, type PlannedRun } from './helpers.js';

let work: { dir: string; cleanup: () => void };
let home: string;

beforeEach(() => {
  work = tempFolder('sp-revision-');
  home = path.join(work.dir, '.service-pipelines');
});
afterEach(() => work.cleanup());

/** The Package artifact carries the source's version.txt, as the run saw it. */
function options(source: string, revision: string): PlannedRun {
  const commands = { 'Build.Package': ['mkdir -p .pipeline/Package && cp version.txt .pipeline/Package/'], 'Deploy-dev.Deploy': [writeArtifact('Outputs_dev', 'stack-outputs.json', '{}')] };
  return shellRunOptions(customConfig(source), commands, { baseDir: work.dir, home }, { until: 'dev', revision });
}

async function packagedVersion(executionId: string): Promise<string> {
  const document = await showExecution({ home, executionId });
  const packaged = document.artifacts.find((a) => a.name === 'Package')!;
  return readFileSync(path.join(packaged.path, 'version.txt'), 'utf8');
}

describe('runPipeline with a revision', () => {
  it('GIVEN a later commit and uncommitted changes in the working tree WHEN a run is given an earlier commit THEN it builds that commit, and the history shows its sha, clean', async () => {
    const source = path.join(work.dir, 'svc');
    const wanted = gitRepository(source, { 'version.txt': 'wanted\n' });
    writeFiles(source, { 'version.txt': 'later\n' });
    git(source, 'commit', '-qam', 'later');
    writeFiles(source, { 'version.txt': 'uncommitted\n' });

    const result = await runPlanned(options(source, wanted));

    expect(result.status).toBe('SUCCEEDED');
    expect(await packagedVersion(result.executionId)).toBe('wanted\n');
    const document = await showExecution({ home, executionId: result.executionId });
    expect(document.source).toMatchObject({ revision: wanted, uncommittedChanges: false });
    expect(document.stages[0]!.actions[0]!.statusReason).toBe(`commit ${wanted.slice(0, 12)}`);
    // The user's working tree is as it was.
    expect(readFileSync(path.join(source, 'version.txt'), 'utf8')).toBe('uncommitted\n');
  });

  it('GIVEN a commit the local clone does not have WHEN a run is given it THEN it is fetched from the remote, and built', async () => {
    const origin = path.join(work.dir, 'origin.git');
    const upstream = path.join(work.dir, 'upstream');
    gitRepository(upstream, { 'version.txt': 'first\n' });
    git(work.dir, 'clone', '-q', '--bare', upstream, origin);
    const clone = path.join(work.dir, 'clone');
    git(work.dir, 'clone', '-q', origin, clone);
    writeFiles(upstream, { 'version.txt': 'pushed later\n' });
    git(upstream, 'commit', '-qam', 'pushed later');
    git(upstream, 'push', '-q', origin, 'HEAD:refs/heads/main');
    const pushed = git(upstream, 'rev-parse', 'HEAD');

    const result = await runPlanned(options(clone, pushed));

    expect(result.status).toBe('SUCCEEDED');
    expect(await packagedVersion(result.executionId)).toBe('pushed later\n');
    const document = await showExecution({ home, executionId: result.executionId });
    expect(document.stages[0]!.actions[0]!.statusReason).toBe(`commit ${pushed.slice(0, 12)}, fetched from origin`);
  });

  it('GIVEN a commit no repository has WHEN a run is given it THEN the run fails in Source, saying which commit and why', async () => {
    const source = path.join(work.dir, 'svc');
    gitRepository(source, { 'version.txt': 'v1\n' });
    const origin = path.join(work.dir, 'origin.git');
    git(work.dir, 'clone', '-q', '--bare', source, origin);
    git(source, 'remote', 'add', 'origin', origin);
    const missing = 'b'.repeat(40);

    const result = await runPlanned(options(source, missing));

    expect(result.status).toBe('FAILED');
    expect(result.reason).toContain(`Source failed: Source: commit ${missing} is not in the repository of ${source}, and fetching it from origin failed`);
    const document = await showExecution({ home, executionId: result.executionId });
    expect(document.source.revision).toBeNull();
  });

  it('GIVEN a service in a folder of a larger repository WHEN a run is given a commit THEN it takes that folder of the commit only', async () => {
    const repository = path.join(work.dir, 'monorepo');
    const wanted = gitRepository(repository, { 'services/svc/version.txt': 'svc at wanted\n', 'services/other/version.txt': 'other\n' });
    writeFiles(repository, { 'services/svc/version.txt': 'later\n' });
    git(repository, 'commit', '-qam', 'later');

    const result = await runPlanned(options(path.join(repository, 'services', 'svc'), wanted));

    expect(result.status).toBe('SUCCEEDED');
    expect(await packagedVersion(result.executionId)).toBe('svc at wanted\n');
    const document = await showExecution({ home, executionId: result.executionId });
    const sourceFiles = document.artifacts.find((a) => a.name === 'Source')!;
    expect(sourceFiles.files).toBe(1);
  });

  it('GIVEN a revision that is not a commit id WHEN a run starts THEN InputError, and nothing is recorded', async () => {
    const source = path.join(work.dir, 'svc');
    gitRepository(source, { 'version.txt': 'v1\n' });

    await expect(runPlanned(options(source, 'main; rm -rf /'))).rejects.toThrow(InputError);
  });
});
