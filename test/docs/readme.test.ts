import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { configSchema } from '../../src/model/config.js';

const readme = readFileSync(path.resolve(import.meta.dirname, '../../README.md'), 'utf8');

/** Rows that document a whole sub-object whose shape is given elsewhere (e.g. "GitHub source (as above)"). */
const documentedAsAWhole = ['selfUpdate.github', 'services[].deployPermissions[]', 'services[].deployPermissions.extra[]'];

/** Every key path of the config schema, as the README writes them (`services[].source.github.owner`). */
function keyPaths(schema: z.core.$ZodType, prefix: string): string[] {
  const def: z.core.$ZodTypeDef = schema._zod.def;
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
      return keyPaths((def as z.core.$ZodOptionalDef).innerType, prefix);
    case 'pipe':
      return keyPaths((def as z.core.$ZodPipeDef).in, prefix);
    case 'union':
      return (def as z.core.$ZodUnionDef).options.flatMap((o) => keyPaths(o, prefix));
    case 'array': {
      const inner = keyPaths((def as z.core.$ZodArrayDef).element, `${prefix}[]`);
      return inner.length ? [`${prefix}[]`, ...inner] : [];
    }
    case 'object': {
      if (documentedAsAWhole.includes(prefix)) return [prefix];
      const shape = (def as z.core.$ZodObjectDef).shape;
      return Object.entries(shape).flatMap(([key, child]) => {
        const childPath = prefix ? `${prefix}.${key}` : key;
        const below = keyPaths(child, childPath);
        return below.length ? below : [childPath];
      });
    }
    default:
      return [];
  }
}

describe('README config reference', () => {
  const documented = new Set([...readme.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]));
  const leaves = [...new Set(keyPaths(configSchema, ''))].filter((p) => !p.endsWith('[]'));

  it('GIVEN the config schema WHEN the README is read THEN every key is documented', () => {
    const missing = leaves.filter((p) => !documented.has(p) && !documentedAsAWhole.some((whole) => p.startsWith(`${whole}.`)));
    expect(missing).toEqual([]);
  });

  it('GIVEN the README config table WHEN read THEN it documents no key the schema lacks', () => {
    const all = new Set([...keyPaths(configSchema, ''), ...documentedAsAWhole]);
    const prefixes = new Set(
      [...all].flatMap((p) => p.split('.').flatMap((_, i, parts) => {
        const prefix = parts.slice(0, i + 1).join('.');
        return [prefix, prefix.replace(/\[\]$/, '')];
      })),
    );
    const configRows = [...documented].filter((p) => /^(cicd|environments|notifications|services|selfUpdate|executionMode)\b/.test(p!));
    expect(configRows.filter((p) => !prefixes.has(p!))).toEqual([]);
  });

  it('GIVEN the README WHEN read THEN it starts with the two quick-start commands', () => {
    expect(readme).toContain('npm ci && npm run demo');
    expect(readme).toContain('npm test');
  });
});
