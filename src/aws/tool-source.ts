import type { z } from 'zod';
import { toolSourceSchema } from '../model/config.js';
import { InputError } from '../model/errors.js';
import type { PlansDocument } from '../model/plan-schema.js';
import { formatPath } from '../model/validate.js';
import { systemClock } from '../runtime/clock.js';
import { packTool, type PackedTool } from '../runtime/pack-tool.js';
import { nodeProcesses } from '../runtime/process.js';

/** The tool packed into the cloud assembly. */
export interface PackedToolSource {
  readonly kind: 'packed';
  /** The tarball `packTool` wrote, with its sha256 and version. */
  readonly tool: Pick<PackedTool, 'file' | 'sha256' | 'version'>;
}

/** A package of a registry, pinned by its integrity. */
export interface RegistryToolSource {
  readonly kind: 'registry';
  /** The package with its exact version (`@my-org/service-pipelines@1.2.3`). */
  readonly package: string;
  /** Its version, as `service-pipelines --version` prints it once installed. */
  readonly version: string;
  /** The sha512 of its tarball, in hex (what `sha512sum -c` checks). */
  readonly sha512: string;
  /** @default - the npm configuration of the actions' environment */
  readonly registry?: string;
}

/** Options of `ToolSource.fromRegistry`: the config's `toolSource`. */
export type RegistryToolOptions = z.input<typeof toolSourceSchema>;

/**
 * Where the AWS actions get service-pipelines: the tarball `synth` packs from the running tool
 * (the default), or a package of a registry of your own pinned by its integrity. Never a bare
 * name from a public registry: whoever published that name would run every deploy.
 */
export abstract class ToolSource {
  /** The tarball `packTool` wrote: a file asset in the cloud assembly, uploaded by `cdk deploy`. */
  static fromPackedTool(tool: Pick<PackedTool, 'file' | 'sha256' | 'version'>): ToolSource {
    if (!/^[0-9a-f]{64}$/.test(tool.sha256)) {
      throw new Error(`ToolSource.fromPackedTool: "${tool.sha256}" is not a sha256 in hex`);
    }
    return new FixedToolSource({ kind: 'packed', tool });
  }

  /**
   * A package of a registry, by exact version and integrity (the config's `toolSource`).
   *
   * @throws InputError naming `toolSource.<key>` when the package has no exact version, the integrity is missing or not sha512, or the registry is not https
   */
  static fromRegistry(options: RegistryToolOptions): ToolSource {
    const parsed = toolSourceSchema.safeParse(options);
    if (!parsed.success) {
      throw new InputError(
        'the tool cannot be installed from this source safely',
        parsed.error.issues.map((issue) => ({ where: formatPath(['toolSource', ...issue.path]), message: issue.message })),
      );
    }
    const { package: spec, integrity, registry } = parsed.data;
    return new FixedToolSource({
      kind: 'registry',
      package: spec,
      version: spec.slice(spec.lastIndexOf('@') + 1),
      sha512: Buffer.from(integrity.slice('sha512-'.length), 'base64').toString('hex'),
      ...(registry ? { registry } : {}),
    });
  }

  /**
   * The plans' `toolSource` (the config's) when they name one, else the tool packed by `synth`.
   *
   * @param pack - packs the running tool; called only when the plans name no registry package
   * @default pack - `packTool` of the running service-pipelines, from the user's cache when it packed the same files before
   */
  static async fromPlans(
    plans: Pick<PlansDocument, 'toolSource'>,
    pack: () => Promise<Pick<PackedTool, 'file' | 'sha256' | 'version'>> = () => packTool({ processes: nodeProcesses, clock: systemClock }),
  ): Promise<ToolSource> {
    return plans.toolSource ? ToolSource.fromRegistry(plans.toolSource) : ToolSource.fromPackedTool(await pack());
  }

  /** What the source is. */
  abstract readonly source: PackedToolSource | RegistryToolSource;

  /** The version the actions install. */
  get version(): string {
    return this.source.kind === 'packed' ? this.source.tool.version : this.source.version;
  }
}

class FixedToolSource extends ToolSource {
  constructor(readonly source: PackedToolSource | RegistryToolSource) {
    super();
  }
}
