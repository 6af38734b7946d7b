import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { shellQuote } from '../model/plan.js';
import type { ToolSource } from './tool-source.js';

/** What an action needs to install the tool: the commands it runs first, and the statements its role needs to run them. */
export interface ToolInstall {
  /** The shell lines an action runs first: they install the tool and put `service-pipelines` on PATH. The same for every version. */
  readonly installCommands: readonly string[];
  /** What a role needs to run `installCommands`. */
  readonly policyStatements: readonly iam.PolicyStatement[];
}

/** Properties of a `ToolDistribution`. */
export interface ToolDistributionProps {
  /** Where the actions get the tool: `ToolSource.fromPackedTool(await packTool(...))` or `ToolSource.fromRegistry(...)`. */
  readonly source: ToolSource;
  /**
   * The SSM parameter that tells the actions which tool to install (its digest, where it is, its
   * version). Its name never changes, so neither do the actions' commands.
   *
   * @default '/service-pipelines/tool'
   */
  readonly parameterName?: string;
}

/** The parameter a `ToolDistribution` writes, unless told otherwise. */
export const DEFAULT_TOOL_PARAMETER = '/service-pipelines/tool';

/** The folder an action installs the tool into (one per build container). */
const INSTALL_DIR = '${TMPDIR:-/tmp}/service-pipelines-tool';

/**
 * Puts service-pipelines where the pipelines' actions fetch it, and tells them how: the first
 * command of every action reads the SSM parameter, downloads what it names with the action's own
 * role, checks its digest, installs it, and checks that `service-pipelines --version` is the
 * version the parameter names.
 *
 * - From the packed tool (the default): the tarball is a file asset of the cloud assembly, which
 *   `cdk deploy` uploads to the CDK bootstrap bucket of the stack's account. The actions check its
 *   sha256 and unpack it: every dependency is bundled, so nothing is fetched from a registry and
 *   no install script runs.
 * - From a registry of your own: `npm pack <package>@<version>`, its sha512 checked against the
 *   integrity given at synth, then `npm install` of that file with install scripts off.
 *
 * The version and digest live in the parameter only, never in the actions' commands: upgrading
 * the tool changes the parameter, not a pipeline's structure, so CodePipeline can still roll a
 * stage back to executions from before the upgrade. When the stack puts its assets under a key
 * prefix (`DefaultStackSynthesizer`'s `bucketPrefix`), the roles may read every tarball under it
 * (`<prefix>*.tgz`): the grant, and so every stack holding such a role, is the same for every
 * version, and no action finds the parameter naming an object its role may not read yet. Without
 * a prefix, the grant names the one object, and changes with it.
 */
export class ToolDistribution extends Construct implements ToolInstall {
  /** The parameter's name. */
  readonly parameterName: string;
  /** The parameter. */
  readonly parameter: ssm.StringParameter;
  /** The packed tarball in the cloud assembly, when the tool comes from it. */
  readonly asset?: Asset;
  /** The version the actions install. */
  readonly version: string;
  /** The shell lines an action runs first: they install the tool and put `service-pipelines` on PATH. The same for every version. */
  readonly installCommands: readonly string[];
  /** What a role needs to run `installCommands`: reading the parameter, and the packed tarball if there is one. */
  readonly policyStatements: readonly iam.PolicyStatement[];

  constructor(scope: Construct, id: string, props: ToolDistributionProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const name = props.parameterName ?? DEFAULT_TOOL_PARAMETER;
    if (!/^\/[A-Za-z0-9_.\-/]{1,1000}$/.test(name) || name.includes('//') || name.endsWith('/')) {
      throw new Error(`ToolDistribution ${this.node.path}: "${name}" is not an SSM parameter path such as ${DEFAULT_TOOL_PARAMETER}`);
    }
    this.parameterName = name;
    const { source } = props.source;
    this.version = props.source.version;
    const parameterArn = stack.formatArn({ service: 'ssm', resource: 'parameter', resourceName: name.slice(1), arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
    const readParameter = new iam.PolicyStatement({ sid: 'ReadToolParameter', actions: ['ssm:GetParameter'], resources: [parameterArn] });

    let value: string;
    if (source.kind === 'packed') {
      this.asset = new Asset(this, 'Tarball', {
        path: source.tool.file,
        // The tarball's own digest names it: the same tool is one object, whichever stack holds it.
        assetHash: source.tool.sha256,
        displayName: `service-pipelines ${source.tool.version}`,
      });
      value = `${source.tool.sha256} ${this.asset.s3ObjectUrl} ${source.tool.version}`;
      const key = this.asset.s3ObjectKey;
      const folder = key.includes('/') ? key.slice(0, key.lastIndexOf('/') + 1) : undefined;
      this.policyStatements = [
        readParameter,
        new iam.PolicyStatement({
          sid: 'ReadToolTarball',
          actions: ['s3:GetObject'],
          resources: [`arn:${stack.partition}:s3:::${this.asset.s3BucketName}/${folder ? `${folder}*.tgz` : key}`],
        }),
      ];
      this.installCommands = [packedInstallLine(name)];
    } else {
      value = [source.sha512, source.package, source.version, ...(source.registry ? [source.registry] : [])].join(' ');
      this.policyStatements = [readParameter];
      this.installCommands = [registryInstallLine(name)];
    }
    this.parameter = new ssm.StringParameter(this, 'Parameter', {
      parameterName: name,
      stringValue: value,
      description: 'service-pipelines: the tool the pipelines install (digest, location, version)',
      tier: ssm.ParameterTier.STANDARD,
    });
  }

  /** Let a principal run `installCommands` (a role with inline policies takes `policyStatements` instead). */
  grantInstall(grantee: iam.IGrantable): void {
    for (const statement of this.policyStatements) {
      grantee.grantPrincipal.addToPrincipalPolicy(statement);
    }
  }
}

/**
 * The start every install line shares: read the parameter (`<digest> <location> <version>
 * [<registry>]`) into $1.. and make an empty folder. One line, so that it works whether or not
 * the shell keeps unexported variables from one command to the next.
 */
function readParameter(parameterName: string): string[] {
  return [
    `SP_TOOL=$(aws ssm get-parameter --name ${shellQuote(parameterName)} --query Parameter.Value --output text)`,
    'set -- $SP_TOOL',
    `SP_DIR="${INSTALL_DIR}"`,
    'rm -rf "$SP_DIR"',
    'mkdir -p "$SP_DIR/bin"',
    'echo "service-pipelines $3 from $2"',
  ];
}

/** Refuse a file whose digest is not the parameter's ($1). */
function checkDigest(tool: string, algorithm: 'sha256' | 'sha512', parameterName: string): string {
  return `if ! echo "$1  ${tool}" | ${algorithm}sum -c --status -; then echo "error: $2 does not have the ${algorithm} that ${parameterName} names ($1): not installing it" >&2; false; fi`;
}

/** Fail unless the installed tool is the version the parameter names ($3). */
const CHECK_VERSION =
  'if [ "$(service-pipelines --version)" != "$3" ]; then echo "error: the installed service-pipelines is $(service-pipelines --version), not $3" >&2; false; fi';

function packedInstallLine(parameterName: string): string {
  return [
    ...readParameter(parameterName),
    'aws s3 cp --only-show-errors "$2" "$SP_DIR/tool.tgz"',
    checkDigest('$SP_DIR/tool.tgz', 'sha256', parameterName),
    // Every dependency is bundled in the tarball: unpacking it is the whole install.
    'tar -xzf "$SP_DIR/tool.tgz" -C "$SP_DIR"',
    // As npm does when it links a package's bin.
    'chmod 755 "$SP_DIR/package/bin/service-pipelines.js"',
    'ln -s "$SP_DIR/package/bin/service-pipelines.js" "$SP_DIR/bin/service-pipelines"',
    'export PATH="$SP_DIR/bin:$PATH"',
    CHECK_VERSION,
  ].join(' && ');
}

function registryInstallLine(parameterName: string): string {
  const npmFlags = '--ignore-scripts --no-audit --no-fund --loglevel error ${4:+--registry "$4"}';
  return [
    ...readParameter(parameterName),
    'mkdir "$SP_DIR/pack"',
    `npm pack "$2" --pack-destination "$SP_DIR/pack" ${npmFlags} >/dev/null`,
    'SP_TGZ=$(ls "$SP_DIR"/pack/*.tgz)',
    checkDigest('$SP_TGZ', 'sha512', parameterName),
    `npm install --global --prefix "$SP_DIR" ${npmFlags} "$SP_TGZ"`,
    'export PATH="$SP_DIR/bin:$PATH"',
    CHECK_VERSION,
  ].join(' && ');
}
