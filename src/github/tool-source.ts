/**
 * How a GitHub Actions runner gets service-pipelines, as pinned as the AWS actions get it: the
 * tarball `synth` packs (the same bytes the AWS engine ships), checked by its sha256, or the
 * config's `toolSource` (a package of your registry) checked by its sha512. Never a bare name.
 */
import { ToolSource, type RegistryToolSource } from '../aws/tool-source.js';
import type { PlansDocument } from '../model/plan-schema.js';
import type { Step } from './workflow-model.js';
import { expr } from './workflow-model.js';

/** The packed tool, attached to a release of the repository the workflow runs in. */
export interface ReleaseAssetToolSource {
  readonly kind: 'release-asset';
  /** The release's tag: one per tool build, so that releases can be immutable. */
  readonly tag: string;
  /** The asset's file name. */
  readonly asset: string;
  /** The tarball's sha256, in hex. */
  readonly sha256: string;
  /** The version `service-pipelines --version` prints. */
  readonly version: string;
}

export type { RegistryToolSource };
export type GitHubToolSource = ReleaseAssetToolSource | RegistryToolSource;

/** The packed tool as a release asset: `service-pipelines-<version>.tgz` under the tag `service-pipelines-<version>-<sha256, 12>`. */
export function releaseAssetToolSource(tool: { readonly sha256: string; readonly version: string }): ReleaseAssetToolSource {
  if (!/^[0-9a-f]{64}$/.test(tool.sha256)) {
    throw new Error(`releaseAssetToolSource: "${tool.sha256}" is not a sha256 in hex`);
  }
  if (!/^[0-9A-Za-z.+-]+$/.test(tool.version)) {
    throw new Error(`releaseAssetToolSource: "${tool.version}" is not a package version`);
  }
  return {
    kind: 'release-asset',
    tag: `service-pipelines-${tool.version}-${tool.sha256.slice(0, 12)}`,
    asset: `service-pipelines-${tool.version}.tgz`,
    sha256: tool.sha256,
    version: tool.version,
  };
}

/**
 * The plans' `toolSource`: the AWS engine's registry source, the same package, version and sha512.
 *
 * @throws InputError when the package has no exact version, the integrity is not sha512, or the registry is not https
 */
export function registryToolSource(toolSource: NonNullable<PlansDocument['toolSource']>): RegistryToolSource {
  return ToolSource.fromRegistry(toolSource).source as RegistryToolSource;
}

/** Where a job installs the tool (one runner per job). */
const INSTALL_DIR = '"$RUNNER_TEMP/service-pipelines"';

/** Fail unless the installed tool is the pinned version, then put it on PATH for the next steps. */
const FINISH = [
  `if [ "$("$SP_DIR/bin/service-pipelines" --version)" != "$TOOL_VERSION" ]; then echo "::error::the installed service-pipelines is $("$SP_DIR/bin/service-pipelines" --version), not $TOOL_VERSION"; exit 1; fi`,
  'echo "$SP_DIR/bin" >> "$GITHUB_PATH"',
];

/**
 * The step that installs the tool. Values reach the script through `env`, never inside it, so
 * that nothing in the script is evaluated by GitHub.
 */
export function toolInstallStep(source: GitHubToolSource): Step {
  if (source.kind === 'release-asset') {
    return {
      name: `Install service-pipelines ${source.version} (sha256 ${source.sha256.slice(0, 12)})`,
      env: {
        GH_TOKEN: expr('github.token'),
        TOOL_TAG: source.tag,
        TOOL_ASSET: source.asset,
        TOOL_SHA256: source.sha256,
        TOOL_VERSION: source.version,
      },
      run: [
        `SP_DIR=${INSTALL_DIR}`,
        'rm -rf "$SP_DIR" && mkdir -p "$SP_DIR/bin"',
        'gh release download "$TOOL_TAG" --repo "$GITHUB_REPOSITORY" --pattern "$TOOL_ASSET" --dir "$SP_DIR"',
        'if ! echo "$TOOL_SHA256  $SP_DIR/$TOOL_ASSET" | sha256sum -c --status -; then echo "::error::$TOOL_ASSET of release $TOOL_TAG does not have the sha256 the workflow pins ($TOOL_SHA256): not installing it"; exit 1; fi',
        // Every dependency is bundled in the tarball: unpacking it is the whole install.
        'tar -xzf "$SP_DIR/$TOOL_ASSET" -C "$SP_DIR"',
        'chmod 755 "$SP_DIR/package/bin/service-pipelines.js"',
        'ln -s "$SP_DIR/package/bin/service-pipelines.js" "$SP_DIR/bin/service-pipelines"',
        ...FINISH,
      ].join('\n'),
    };
  }
  return {
    name: `Install ${source.package} (sha512 ${source.sha512.slice(0, 12)})`,
    env: {
      TOOL_PACKAGE: source.package,
      TOOL_SHA512: source.sha512,
      TOOL_VERSION: source.version,
      ...(source.registry ? { TOOL_REGISTRY: source.registry } : {}),
    },
    run: [
      `SP_DIR=${INSTALL_DIR}`,
      'rm -rf "$SP_DIR" && mkdir -p "$SP_DIR/bin" "$SP_DIR/pack"',
      'NPM_FLAGS=(--ignore-scripts --no-audit --no-fund --loglevel error)',
      'if [ -n "${TOOL_REGISTRY:-}" ]; then NPM_FLAGS+=(--registry "$TOOL_REGISTRY"); fi',
      'npm pack "$TOOL_PACKAGE" --pack-destination "$SP_DIR/pack" "${NPM_FLAGS[@]}" > /dev/null',
      'SP_TGZ=$(ls "$SP_DIR"/pack/*.tgz)',
      'if ! echo "$TOOL_SHA512  $SP_TGZ" | sha512sum -c --status -; then echo "::error::$TOOL_PACKAGE does not have the sha512 the workflow pins: not installing it"; exit 1; fi',
      'npm install --global --prefix "$SP_DIR" "${NPM_FLAGS[@]}" "$SP_TGZ"',
      ...FINISH,
    ].join('\n'),
  };
}

/** What a maintainer runs once per repository (and per tool build) so that the workflows find the tool. */
export function toolPublishCommands(source: GitHubToolSource, repository: string, tarball: string): string[] {
  if (source.kind !== 'release-asset') return [];
  return [
    `cp ${tarball} ${source.asset}`,
    `gh release create ${source.tag} ${source.asset} --repo ${repository} --title "service-pipelines ${source.version}" --notes "sha256 ${source.sha256}"`,
  ];
}

