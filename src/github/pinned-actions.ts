/**
 * Every action the workflows use, pinned by the full commit SHA of a release: a tag can be moved
 * to other code, a commit cannot. README ("GitHub Actions") lists them and says how to update them.
 */

/** An action at one commit, with the release that commit is. */
export interface PinnedAction {
  /** `owner/repo`. */
  readonly action: string;
  /** The full commit SHA. */
  readonly sha: string;
  /** The release tag the commit is (written beside the SHA). */
  readonly version: string;
}

export const PINNED_ACTIONS = {
  checkout: { action: 'actions/checkout', sha: '3d3c42e5aac5ba805825da76410c181273ba90b1', version: 'v7.0.1' },
  setupNode: { action: 'actions/setup-node', sha: '249970729cb0ef3589644e2896645e5dc5ba9c38', version: 'v6.5.0' },
  uploadArtifact: { action: 'actions/upload-artifact', sha: '043fb46d1a93c77aae656e7c1c64a875d1fc6a0a', version: 'v7.0.1' },
  downloadArtifact: { action: 'actions/download-artifact', sha: '3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c', version: 'v8.0.1' },
  configureAwsCredentials: { action: 'aws-actions/configure-aws-credentials', sha: 'e6de054238d6b7531b4efff3b6587d9aade6a06c', version: 'v6.2.3' },
} as const satisfies Record<string, PinnedAction>;

/** `owner/repo@<sha>`, as a step's `uses:` names it. */
export function usesOf(action: PinnedAction): string {
  return `${action.action}@${action.sha}`;
}
