/**
 * The CloudFormation registry's resource schemas: per resource type, the IAM actions its
 * handlers call (`handlers.create|update|delete.permissions`, `tagging.permissions`).
 * Read from a folder of schema files or from AWS's `CloudformationSchema.zip` bundle, together
 * with the IAM catalog of the services they name and the ARN templates of resource types.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';
import yauzl from 'yauzl';
import { InputError } from '../model/errors.js';
import { IamCatalog } from './iam-catalog.js';
import { isRecord as isObject } from './template.js';

/** The handlers of a resource schema. Deploys call create, update and delete; read and list serve drift detection, imports and listing. */
export type HandlerOperation = 'create' | 'read' | 'update' | 'delete' | 'list';

/** What the registry says about one resource type. */
export interface ResourceTypeSchema {
  /** `AWS::Lambda::Function`. */
  readonly typeName: string;
  /** The permissions of each handler the schema lists (absent: the schema has no such handler). */
  readonly handlers: Readonly<Partial<Record<HandlerOperation, readonly string[]>>>;
  /** `tagging.permissions`: what tagging the resource needs. */
  readonly taggingPermissions: readonly string[];
  /** Whether the schema lists handlers at all (175 types of the public bundle do not). */
  readonly hasHandlers: boolean;
  /** The property names the schema declares. */
  readonly propertyNames: readonly string[];
  /** The JSON pointers of the properties that identify a resource (`/properties/FunctionName`). */
  readonly primaryIdentifier: readonly string[];
}

/** Options of `loadSchemaRegistry`. */
export interface LoadSchemaRegistryOptions {
  /**
   * Load the ARN templates of resource types from `@aws-cdk/aws-service-spec` (about a second).
   * Without them, resources are scoped by the IAM resource types whose names match theirs.
   *
   * @default true
   */
  readonly arnTemplates?: boolean;
}

/** The schemas, the IAM catalog of the services they name, and ARN templates: what inference reads. */
export class SchemaRegistry {
  /** Build a registry from schemas already parsed (tests, or schemas held elsewhere). */
  static async fromSchemas(source: string, schemas: readonly ResourceTypeSchema[], options: LoadSchemaRegistryOptions = {}): Promise<SchemaRegistry> {
    const services = new Set(['cloudformation', 's3', 'iam', 'sts']);
    for (const schema of schemas) {
      services.add(schema.typeName.split('::')[1]!.toLowerCase());
      for (const action of allPermissions(schema)) {
        const service = action.split(':')[0];
        if (service) services.add(service.toLowerCase());
      }
    }
    const [iam, arnTemplates] = await Promise.all([IamCatalog.load(services), options.arnTemplates === false ? new Map<string, string>() : loadArnTemplates()]);
    return new SchemaRegistry(source, new Map(schemas.map((s) => [s.typeName, s])), iam, arnTemplates);
  }

  private constructor(
    /** Where the schemas were read from. */
    readonly source: string,
    private readonly schemas: ReadonlyMap<string, ResourceTypeSchema>,
    /** The IAM actions and resource types of every service the schemas name. */
    readonly iam: IamCatalog,
    private readonly arnTemplates: ReadonlyMap<string, string>,
  ) {}

  /** How many resource types the registry knows. */
  get size(): number {
    return this.schemas.size;
  }

  /** The schema of a resource type, or `undefined` when the registry does not know it. */
  schema(typeName: string): ResourceTypeSchema | undefined {
    return this.schemas.get(typeName);
  }

  /** The ARN template of a resource type (`arn:${Partition}:lambda:${Region}:${Account}:function:${FunctionName}`), when known. */
  arnTemplate(typeName: string): string | undefined {
    return this.arnTemplates.get(typeName);
  }

  /** Every resource type the registry knows. */
  typeNames(): string[] {
    return [...this.schemas.keys()];
  }
}

/**
 * Load the registry from a folder of schema files or a `CloudformationSchema.zip`.
 *
 * @throws InputError when the path does not exist, is neither, holds a file that is not a
 *   schema, or holds no schema at all.
 */
export async function loadSchemaRegistry(source: string, options: LoadSchemaRegistryOptions = {}): Promise<SchemaRegistry> {
  return SchemaRegistry.fromSchemas(source, await readSchemas(source), options);
}

/**
 * Read the resource schemas of a folder or a zip, without the IAM data and ARN templates.
 *
 * @throws InputError as `loadSchemaRegistry`.
 */
export async function readSchemas(source: string): Promise<ResourceTypeSchema[]> {
  const info = await stat(source).catch(() => undefined);
  if (!info) throw new InputError(`the schemas were not found: ${source}`, [{ where: source, message: 'no such file or folder; give a folder of CloudFormation resource schemas or a CloudformationSchema.zip (`service-pipelines permissions update` downloads it)' }]);
  const files = info.isDirectory() ? await readSchemaFolder(source) : await readSchemaZip(source);
  const schemas: ResourceTypeSchema[] = [];
  const problems: { where: string; message: string }[] = [];
  for (const file of files) {
    try {
      const schema = parseSchema(JSON.parse(file.text));
      if (schema) schemas.push(schema);
      else problems.push({ where: file.name, message: 'not a CloudFormation resource schema (no "typeName")' });
    } catch (error) {
      problems.push({ where: file.name, message: `not JSON: ${(error as Error).message}` });
    }
  }
  if (problems.length) throw new InputError(`${source} holds files that are not CloudFormation resource schemas`, problems);
  if (!schemas.length) throw new InputError(`no CloudFormation resource schema in ${source}`, [{ where: source, message: 'expected *.json resource schemas (such as aws-lambda-function.json)' }]);
  return schemas;
}

/** Read one schema document; `undefined` when it is not a resource schema. */
export function parseSchema(document: unknown): ResourceTypeSchema | undefined {
  if (!isObject(document) || typeof document['typeName'] !== 'string') return undefined;
  const handlersSection = isObject(document['handlers']) ? document['handlers'] : undefined;
  const handlers: Partial<Record<HandlerOperation, readonly string[]>> = {};
  for (const operation of ['create', 'read', 'update', 'delete', 'list'] as const) {
    const handler = handlersSection?.[operation];
    if (isObject(handler)) handlers[operation] = strings(handler['permissions']);
  }
  const tagging = isObject(document['tagging']) ? document['tagging'] : undefined;
  return {
    typeName: document['typeName'],
    handlers,
    taggingPermissions: strings(tagging?.['permissions']),
    hasHandlers: handlersSection !== undefined && Object.keys(handlers).length > 0,
    propertyNames: isObject(document['properties']) ? Object.keys(document['properties']) : [],
    primaryIdentifier: strings(document['primaryIdentifier']),
  };
}

/** Every permission a schema lists. */
export function allPermissions(schema: ResourceTypeSchema): string[] {
  return [...Object.values(schema.handlers).flat(), ...schema.taggingPermissions];
}

interface SchemaFile {
  readonly name: string;
  readonly text: string;
}

async function readSchemaFolder(folder: string): Promise<SchemaFile[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  const paths = entries.filter((e) => e.isFile() && e.name.endsWith('.json')).map((e) => join(e.parentPath, e.name));
  return Promise.all(paths.map(async (path) => ({ name: relative(folder, path), text: await readFile(path, 'utf8') })));
}

async function readSchemaZip(file: string): Promise<SchemaFile[]> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(file, { lazyEntries: true, autoClose: true }, (error, opened) => (error ? reject(error) : resolve(opened))),
  ).catch((error: Error) => {
    throw new InputError(`${file} is neither a folder nor a zip of CloudFormation resource schemas`, [{ where: file, message: error.message }]);
  });
  return new Promise<SchemaFile[]>((resolve, reject) => {
    const files: SchemaFile[] = [];
    zip.on('error', reject);
    zip.on('end', () => resolve(files));
    zip.on('entry', (entry: yauzl.Entry) => {
      if (entry.fileName.endsWith('/') || !entry.fileName.endsWith('.json')) {
        zip.readEntry();
        return;
      }
      zip.openReadStream(entry, (error, stream) => {
        if (error) return reject(error);
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('error', reject);
        stream.on('end', () => {
          files.push({ name: `${file}:${entry.fileName}`, text: Buffer.concat(chunks).toString('utf8') });
          zip.readEntry();
        });
      });
    });
    zip.readEntry();
  });
}

let arnTemplatesLoading: Promise<ReadonlyMap<string, string>> | undefined;

/**
 * The ARN templates of `@aws-cdk/aws-service-spec`, loaded once per process. Its database file
 * is read directly: building the whole queryable database (`loadAwsServiceSpec`) takes twice
 * as long, and only this one field of resources is needed. Should the file's layout change,
 * the package's own loader is used.
 */
function loadArnTemplates(): Promise<ReadonlyMap<string, string>> {
  arnTemplatesLoading ??= (async () => {
    const require = createRequire(import.meta.url);
    const databaseFile = join(dirname(require.resolve('@aws-cdk/aws-service-spec')), '..', 'db.json.gz');
    const database: unknown = JSON.parse(gunzipSync(await readFile(databaseFile)).toString('utf8'));
    const schema = isObject(database) && isObject(database['schema']) ? database['schema'] : undefined;
    const resources = schema && isObject(schema['resource']) && isObject(schema['resource']['entities']) ? Object.values(schema['resource']['entities']) : undefined;
    const entries = resources?.filter(isObject).map((r) => [r['cloudFormationType'], r['arnTemplate']] as const);
    if (entries?.length) {
      return new Map(entries.filter((e): e is readonly [string, string] => typeof e[0] === 'string' && typeof e[1] === 'string'));
    }
    const { loadAwsServiceSpec } = await import('@aws-cdk/aws-service-spec');
    const db = await loadAwsServiceSpec();
    return new Map(db.all('resource').flatMap((r) => (r.arnTemplate ? [[r.cloudFormationType, r.arnTemplate] as const] : [])));
  })();
  return arnTemplatesLoading;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}
