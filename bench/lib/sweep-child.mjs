// chainwatch's side of the hash-indicator sweep (bench/sweep.mjs), one run in a fresh process:
// load the indicators the way the collector does (normalizeIndicator → compile → Matcher), hash
// the listed files with the agent's real files source (hash pool on worker threads, SHA-256 +
// SHA-1 + MD5 in one pass, as `chainwatch-agent scan` does), and match every file item as it
// comes out. The parent times this whole process from outside, exactly as it times clamscan.
// argv[2]: path of a JSON config { root, list (NUL-separated system paths under root),
//   indicators (JSON lines { id, sha256 }), findings (output file), options (ScanOptions) }.
// Writes the matched paths (root-prefixed, one a line) to `findings` and prints one JSON line.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { OwnedFiles } from '../../packages/agent/dist/owned-files.js';
import { createScanContext } from '../../packages/agent/dist/scan-context.js';
import { newFileCounters, scanFiles } from '../../packages/agent/dist/sources/files.js';
import { normalizeIndicator } from '../../packages/collector/dist/match/indicator.js';
import { Matcher, compile } from '../../packages/collector/dist/match/engine.js';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const t0 = performance.now();

const matcher = new Matcher();
let rejected = 0;
for (const line of readFileSync(cfg.indicators, 'utf8').split('\n')) {
  if (!line) continue;
  const { id, sha256 } = JSON.parse(line);
  const r = normalizeIndicator({ id, type: 'sha256', value: sha256 }, 'bench');
  if (!r.ok) { rejected++; continue; }
  matcher.add(compile(r.indicator));
}
const loadS = (performance.now() - t0) / 1000;

const owned = new OwnedFiles();
for (const p of readFileSync(cfg.list, 'utf8').split('\0')) if (p) owned.add(p, 'bench:sweep');
const stats = newFileCounters();
const ctx = createScanContext({ root: cfg.root, log: pino({ level: 'warn' }, process.stderr), owned, stats, options: cfg.options });
const t1 = performance.now();
const now = Date.now();
const found = [];
const errors = [];
const seen = [];
for await (const it of scanFiles(ctx)) {
  seen.push(it.path);
  if (it.kind === 'error') { errors.push(`${it.path ?? ''}: ${it.code ?? ''} ${it.message ?? ''}`); continue; }
  if (it.kind !== 'file') continue;
  const hits = matcher.match(it, now);
  if (hits.length > 0) found.push(path.posix.join(cfg.root, it.path));
}
const sweepS = (performance.now() - t1) / 1000;
// Listed files the source yielded nothing for, neither a file nor an error item (worked out only
// when the counts differ, so a clean run pays nothing for it).
let missing = [];
if (seen.length !== owned.size) {
  const got = new Set(seen);
  missing = [...owned.keys()].filter((p) => !got.has(p)).map((p) => path.posix.join(cfg.root, p));
}
writeFileSync(cfg.findings, found.length ? found.join('\n') + '\n' : '');
console.log(JSON.stringify({
  indicators: matcher.size, rejected, loadS, sweepS, items: seen.length, findings: found.length, missing,
  errors: errors.length, firstErrors: errors.slice(0, 5), ...stats,
}));
