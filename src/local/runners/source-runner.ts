/**
 * The Source action: a snapshot of the service's folder (or of the commit a trigger named),
 * stored as the `Source` artifact, its revision recorded.
 */
import path from 'node:path';
import { SOURCE_ARTIFACT } from '../../model/plan.js';
import type { PlanStage, SourcePlanAction } from '../../model/plan-schema.js';
import { removeReadOnly } from '../artifact-store.js';
import type { ActionOutcome } from '../scheduler.js';
import { checkoutRevision } from '../source-revision.js';
import { snapshotSource, type SourceSnapshot } from '../source-snapshot.js';
import { errorText, type ActionRunner, type RunContext } from './run-context.js';

/** Where the source comes from. */
export interface SourceOrigin {
  /** The service's folder, absolute. */
  readonly sourcePath: string;
  /** How errors name it (`services[0].source.path`). */
  readonly sourceWhere: string;
  /** The commit to take instead of the folder as it is. */
  readonly revision?: string;
}

/** Runs Source actions. */
export class SourceRunner implements ActionRunner<SourcePlanAction> {
  constructor(
    private readonly context: RunContext,
    private readonly origin: SourceOrigin,
  ) {}

  async run(stage: PlanStage, action: SourcePlanAction): Promise<ActionOutcome> {
    const { context } = this;
    const startedAt = context.recorder.actionStarted(stage.name, action.name);
    try {
      const snapshot =
        this.origin.revision === undefined
          ? await snapshotSource(this.origin.sourcePath, context.artifactStore, context.processes, this.origin.sourceWhere)
          : await this.snapshotRevision(this.origin.revision);
      context.source.resolvedVersion = snapshot.resolvedVersion;
      context.artifacts.set(SOURCE_ARTIFACT, snapshot.artifact);
      context.store.transaction(() => {
        context.store.setSource(context.executionId, snapshot.commit ?? `sha256:${snapshot.resolvedVersion}`, snapshot.dirty);
        context.store.recordArtifact({
          executionId: context.executionId,
          name: SOURCE_ARTIFACT,
          digest: snapshot.artifact.digest,
          bytes: snapshot.artifact.bytes,
          files: snapshot.artifact.files,
          producedBy: `${stage.name}.${action.name}`,
          createdAt: context.clock.now(),
        });
      });
      context.recorder.emit({
        type: 'source',
        revision: snapshot.resolvedVersion,
        ...(snapshot.commit ? { commit: snapshot.commit } : {}),
        dirty: snapshot.dirty,
        digest: snapshot.artifact.digest,
      });
      const flagged = snapshot.dirty ? ' (with uncommitted changes)' : '';
      const fetched = 'fetchedFrom' in snapshot && snapshot.fetchedFrom ? `, fetched from ${snapshot.fetchedFrom}` : '';
      return context.recorder.actionFinished(stage.name, action.name, startedAt, {
        ok: true,
        reason: snapshot.commit ? `commit ${snapshot.commit.slice(0, 12)}${flagged}${fetched}` : `not in git: snapshot ${snapshot.artifact.digest.slice(7, 19)}`,
      });
    } catch (error) {
      return context.recorder.actionFinished(stage.name, action.name, startedAt, { ok: false, reason: errorText(error) });
    }
  }

  /** The service's folder as it is in the commit the trigger named (not the working tree). */
  private async snapshotRevision(revision: string): Promise<SourceSnapshot & { fetchedFrom?: string }> {
    const { context } = this;
    const into = path.join(context.home, 'runs', context.executionId, 'source', 'tree');
    try {
      const github = context.plan.source.github;
      const checkout = await checkoutRevision({
        sourcePath: this.origin.sourcePath,
        revision,
        into,
        processes: context.processes,
        ...(github ? { githubRepository: `${github.owner}/${github.repo}` } : {}),
      });
      const snapshot = await snapshotSource(checkout.folder, context.artifactStore, context.processes, this.origin.sourceWhere);
      return { ...snapshot, commit: checkout.commit, dirty: false, resolvedVersion: checkout.commit, ...(checkout.fetchedFrom ? { fetchedFrom: checkout.fetchedFrom } : {}) };
    } finally {
      await removeReadOnly(path.dirname(into));
    }
  }
}
