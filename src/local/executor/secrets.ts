/**
 * Resolvers of `env.parameter-store` and `env.secrets-manager` for local runs: a JSON file and the
 * environment. (The AWS one, for production, is in `aws-secret-resolver.ts`.)
 */
import { readFileSync } from 'node:fs';
import { InputError } from '../../model/errors.js';
import type { SecretResolver } from './types.js';

/** A Secrets Manager reference as CodeBuild reads it: `secret-id:json-key:version-stage:version-id`. */
export interface SecretReference {
  /** The secret's name or ARN. */
  readonly secretId: string;
  /** A key of the secret's JSON value. @default - the whole value */
  readonly jsonKey?: string;
  /** @default - AWSCURRENT */
  readonly versionStage?: string;
  /** @default - the version of `versionStage` */
  readonly versionId?: string;
}

/**
 * Split a reference. An ARN secret id has colons of its own (`arn:aws:secretsmanager:region:account:secret:name`),
 * so its first seven fields are the id.
 */
export function parseSecretReference(reference: string): SecretReference {
  const parts = reference.split(':');
  const idLength = reference.startsWith('arn:') ? Math.min(7, parts.length) : 1;
  const secretId = parts.slice(0, idLength).join(':');
  const [jsonKey, versionStage, versionId] = parts.slice(idLength).map((part) => (part === '' ? undefined : part));
  return {
    secretId,
    ...(jsonKey !== undefined ? { jsonKey } : {}),
    ...(versionStage !== undefined ? { versionStage } : {}),
    ...(versionId !== undefined ? { versionId } : {}),
  };
}

/** Pick `jsonKey` out of a secret's value (CodeBuild's `json-key`), or return the value whole. */
export function selectJsonKey(value: string, reference: SecretReference, describe: string): string {
  if (reference.jsonKey === undefined) {
    return value;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new InputError(`${describe}: the secret is not JSON, so json-key "${reference.jsonKey}" cannot be read from it`);
  }
  const selected = parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>)[reference.jsonKey] : undefined;
  if (selected === undefined) {
    throw new InputError(`${describe}: the secret has no key "${reference.jsonKey}"`);
  }
  return typeof selected === 'string' ? selected : JSON.stringify(selected);
}

/** The contents of a local secrets file. */
export interface LocalSecrets {
  /** SSM parameters by name. */
  readonly 'parameter-store'?: Readonly<Record<string, string>>;
  /** Secrets by id: a string, or a JSON object (what `json-key` reads). */
  readonly 'secrets-manager'?: Readonly<Record<string, string | Record<string, unknown>>>;
}

/** The environment variable that holds a parameter's value: `/app/db-password` → `SERVICE_PIPELINES_PARAMETER_APP_DB_PASSWORD`. */
export function parameterVariable(name: string): string {
  return `SERVICE_PIPELINES_PARAMETER_${variableSuffix(name)}`;
}

/** The environment variable that holds a secret's value: `prod/api` → `SERVICE_PIPELINES_SECRET_PROD_API`. */
export function secretVariable(secretId: string): string {
  return `SERVICE_PIPELINES_SECRET_${variableSuffix(secretId)}`;
}

function variableSuffix(name: string): string {
  return name
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .toUpperCase();
}

/**
 * Resolves parameters and secrets on this machine, from a JSON file (`{"parameter-store": {...},
 * "secrets-manager": {...}}`) and then from the environment (`SERVICE_PIPELINES_PARAMETER_<NAME>`,
 * `SERVICE_PIPELINES_SECRET_<ID>`). Versions (version-stage, version-id) do not exist locally: the
 * one value given is used. A name found nowhere is bad input, named with how to provide it.
 */
export class LocalSecretResolver implements SecretResolver {
  /** Read the secrets file. @throws InputError when it is missing or not of the expected shape */
  static fromFile(file: string, env: NodeJS.ProcessEnv = {}): LocalSecretResolver {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new InputError(`cannot read the secrets file ${file}: ${(error as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      // Only the position: JSON.parse's message may quote the file's text, which holds secrets.
      const position = /position (\d+)/.exec((error as Error).message)?.[1];
      throw new InputError(`the secrets file ${file} is not JSON${position === undefined ? '' : ` (at character ${position})`}`);
    }
    return new LocalSecretResolver(checkLocalSecrets(parsed, file), env, file);
  }

  /** A resolver from the environment only. */
  static fromEnvironment(env: NodeJS.ProcessEnv): LocalSecretResolver {
    return new LocalSecretResolver({}, env, undefined);
  }

  constructor(
    private readonly secrets: LocalSecrets,
    private readonly env: NodeJS.ProcessEnv = {},
    private readonly file?: string,
  ) {}

  async parameter(name: string): Promise<string> {
    const value = this.secrets['parameter-store']?.[name] ?? this.env[parameterVariable(name)];
    if (value === undefined) {
      throw new InputError(`parameter "${name}" has no local value: ${this.whereToPut('parameter-store', name, parameterVariable(name))}`);
    }
    return value;
  }

  async secret(reference: string): Promise<string> {
    const parsed = parseSecretReference(reference);
    const local = this.secrets['secrets-manager']?.[parsed.secretId];
    const value = local === undefined ? this.env[secretVariable(parsed.secretId)] : typeof local === 'string' ? local : JSON.stringify(local);
    if (value === undefined) {
      throw new InputError(`secret "${parsed.secretId}" has no local value: ${this.whereToPut('secrets-manager', parsed.secretId, secretVariable(parsed.secretId))}`);
    }
    return selectJsonKey(value, parsed, `secret "${parsed.secretId}"`);
  }

  private whereToPut(section: string, name: string, variable: string): string {
    const file = this.file ? `add it under "${section}" in ${this.file}` : `give a secrets file (--secrets-file) with {"${section}": {"${name}": "..."}}`;
    return `${file}, or set ${variable}`;
  }
}

function checkLocalSecrets(value: unknown, file: string): LocalSecrets {
  const problems: { where: string; message: string }[] = [];
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InputError(`the secrets file ${file} must hold a JSON object: {"parameter-store": {...}, "secrets-manager": {...}}`);
  }
  for (const [key, section] of Object.entries(value)) {
    if (key !== 'parameter-store' && key !== 'secrets-manager') {
      problems.push({ where: `${file}: ${key}`, message: 'unknown section; known: parameter-store, secrets-manager' });
      continue;
    }
    if (section === null || typeof section !== 'object' || Array.isArray(section)) {
      problems.push({ where: `${file}: ${key}`, message: 'must be an object of name → value' });
      continue;
    }
    for (const [name, entry] of Object.entries(section as Record<string, unknown>)) {
      const ok = typeof entry === 'string' || (key === 'secrets-manager' && entry !== null && typeof entry === 'object' && !Array.isArray(entry));
      if (!ok) {
        problems.push({ where: `${file}: ${key}.${name}`, message: key === 'secrets-manager' ? 'must be a string or a JSON object' : 'must be a string' });
      }
    }
  }
  if (problems.length) {
    throw new InputError(`the secrets file ${file} is not valid`, problems);
  }
  return value as LocalSecrets;
}

/**
 * A resolver that remembers every value it handed out, so that what is printed about a build
 * besides its log (`buildspec run --json`) can be masked as the log is.
 */
export class RememberingSecretResolver implements SecretResolver {
  private readonly resolved: string[] = [];

  constructor(private readonly inner: SecretResolver) {}

  /** The values handed out so far. */
  get values(): readonly string[] {
    return this.resolved;
  }

  async parameter(name: string): Promise<string> {
    return this.remember(await this.inner.parameter(name));
  }

  async secret(reference: string): Promise<string> {
    return this.remember(await this.inner.secret(reference));
  }

  private remember(value: string): string {
    this.resolved.push(value);
    return value;
  }
}
