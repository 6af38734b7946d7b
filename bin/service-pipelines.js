#!/usr/bin/env node
// The command line. It runs the compiled code in dist/ (`npm ci` builds it; so does `npm run build`).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('error: service-pipelines is not built: run `npm run build` in its folder (`npm ci` does it too).\n');
  process.exit(2);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv);
