/**
 * Render a typed buildspec to YAML, e.g. for a CodeBuild project's inline buildspec.
 */
import { stringify } from 'yaml';
import type { Buildspec } from './types.js';

const FLAG_KEYS = new Set(['discard-paths', 'enable-symlinks', 'git-credential-helper', 'upload-artifacts', 'logs']);

/**
 * The buildspec as YAML text. Keys keep the order they were given in; flags are written
 * `yes`/`no`, the way the AWS documentation writes them; long commands are never folded.
 */
export function renderBuildspec(buildspec: Buildspec): string {
  return stringify(normalize(buildspec, undefined), { lineWidth: 0, minContentWidth: 0, aliasDuplicateObjects: false });
}

function normalize(value: unknown, key: string | undefined): unknown {
  if (typeof value === 'boolean' && key !== undefined && FLAG_KEYS.has(key)) {
    return value ? 'yes' : 'no';
  }
  if (Array.isArray(value)) {
    return value.map((item) => normalize(item, undefined));
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (v !== undefined) {
        out[k] = normalize(v, k);
      }
    }
    return out;
  }
  return value;
}
