#!/usr/bin/env node
// Writes service-pipelines-<version>.tgz: this checkout, built, with every dependency bundled at
// the versions its lockfile installed (`npm run pack:tarball [-- --out DIR]`). It installs
// without a registry; see README, "Installing".
import { copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { systemClock } from '../dist/runtime/clock.js';
import { packTool } from '../dist/runtime/pack-tool.js';
import { nodeProcesses } from '../dist/runtime/process.js';

const { values } = parseArgs({ options: { out: { type: 'string', default: '.' } } });
const packed = await packTool({ processes: nodeProcesses, clock: systemClock });
const out = path.resolve(values.out);
mkdirSync(out, { recursive: true });
const file = path.join(out, `${packed.name.replace(/^@/, '').replace('/', '-')}-${packed.version}.tgz`);
copyFileSync(packed.file, file);
const shown = path.relative(process.cwd(), file).startsWith('..') ? file : path.relative(process.cwd(), file);
console.log(`${shown}  ${(packed.bytes / 1e6).toFixed(1)} MB  sha256 ${packed.sha256}`);
