/** What the benchmarks share. */
import { chmodSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/** The median of some numbers (the mean of the two middle ones for an even count). */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Make a tree writable again (the local artifact store keeps its files read-only), so it can be removed. */
export function writable(dir) {
  try {
    chmodSync(dir, 0o755);
    for (const name of readdirSync(dir)) {
      const child = path.join(dir, name);
      if (statSync(child, { throwIfNoEntry: false })?.isDirectory()) writable(child);
    }
  } catch {
    // Gone already.
  }
}
