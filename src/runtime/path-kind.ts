/**
 * What is at a path on this machine, for the checks of the config that look at the clone
 * (`validateConfig`'s `pathKind`).
 */
import { statSync } from 'node:fs';
import type { PathKind } from '../model/validate.js';

/** A folder, a file, or nothing (a link is followed). */
export function pathKindOnDisk(absolute: string): PathKind {
  const info = statSync(absolute, { throwIfNoEntry: false });
  return info === undefined ? undefined : info.isDirectory() ? 'folder' : 'file';
}
