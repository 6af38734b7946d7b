/**
 * How much disk the state folder takes, and when to tell: the install cache and the artifact
 * store grow with every run until `service-pipelines gc` prunes them.
 */
import { lstatSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { Clock } from '../runtime/clock.js';
import type { StateStore } from './state-store.js';

/** Past this size, `history` prints the state folder's size, and how to prune it. */
export const STATE_SIZE_NOTICE_BYTES = 1_000_000_000;

/** How long a measured size is used before the folder is measured again. */
export const STATE_SIZE_MAX_AGE_MS = 60 * 60_000;

/** How much disk files take (blocks, as `du` counts), each file once however many hard links it has. */
export class DiskUsage {
  private readonly seen = new Set<string>();
  bytes = 0;

  /** Count a file or a folder and everything below it; what is gone meanwhile counts nothing. */
  add(target: string): void {
    let info;
    try {
      info = lstatSync(target);
    } catch {
      return;
    }
    if (!info.isDirectory()) {
      if (info.nlink > 1) {
        const key = `${info.dev}:${info.ino}`;
        if (this.seen.has(key)) return;
        this.seen.add(key);
      }
      this.bytes += info.blocks * 512;
      return;
    }
    this.bytes += info.blocks * 512;
    let names: string[];
    try {
      names = readdirSync(target);
    } catch {
      return;
    }
    for (const name of names) {
      this.add(path.join(target, name));
    }
  }
}

/** The disk the state folder takes. */
export function stateFolderSize(home: string): number {
  const usage = new DiskUsage();
  usage.add(home);
  return usage.bytes;
}

/**
 * What `history` tells about the state folder's size: nothing below `STATE_SIZE_NOTICE_BYTES`.
 * The size measured within the last hour is reused (walking a large folder takes a while).
 */
export function stateSizeNotice(store: StateStore, clock: Clock, threshold = STATE_SIZE_NOTICE_BYTES): string | undefined {
  const now = clock.now();
  const cached = store.readOnly ? undefined : store.measurement('state-folder-bytes');
  let bytes: number;
  if (cached && now - cached.measuredAt < STATE_SIZE_MAX_AGE_MS) {
    bytes = Number(cached.value);
  } else {
    bytes = stateFolderSize(store.home);
    if (!store.readOnly) store.recordMeasurement('state-folder-bytes', String(bytes), now);
  }
  if (bytes < threshold) {
    return undefined;
  }
  return `the state folder ${store.home} takes ${formatBytes(bytes)}: \`service-pipelines gc\` removes what the last runs of each pipeline and the current and last good releases do not need (--dry-run shows what would go)`;
}

/** `1.5 GB`, `320 MB`, `12 kB`, `512 B` (decimal units). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
