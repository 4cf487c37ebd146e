#!/usr/bin/env node
/**
 * Bundles the agent (its compiled dist/ and @chainwatch/shared) into packages/agent/bundle/,
 * which the bin script runs. Why: as ~1,000 separate ES modules (typebox alone is 709) the
 * agent's module graph cost 20–30 MB of resident memory before it did any work — module
 * records, retained sources and compiled code — a quarter of its 100 MB budget. One bundle per
 * entry point, code split at each lazy import(), so a scan still loads only the sources it runs.
 *
 * better-sqlite3 stays external (a native addon, resolved from node_modules at run time). Run
 * after `tsc -b`; `npm run build`, `npm test` and `prepare` do.
 */
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const AGENT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../packages/agent');
const OUT = path.join(AGENT, 'bundle');

rmSync(OUT, { recursive: true, force: true });
await build({
  entryPoints: { main: path.join(AGENT, 'dist/main.js') },
  outdir: OUT,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['better-sqlite3'],
  // CommonJS dependencies call require() for Node built-ins; an ES module has none of its own.
  banner: { js: "import { createRequire as __cwCreateRequire } from 'node:module'; const require = __cwCreateRequire(import.meta.url);" },
  chunkNames: 'chunk-[hash]',
  legalComments: 'none',
  logLevel: 'warning',
});
