// Indicator scale: a 5,000,000-indicator feed pushed through the real pipeline (normalise →
// SQLite upsert → matcher), in 500k-indicator documents like a large feed sync. Reports load
// time, the matcher's heap per million indicators (a fresh matcher loaded from the database,
// measured with forced GC), and match throughput against all 5M. Temp dir; stops by itself.
// No peer tool: the figures stand against the targets. Quick mode: 500,000 indicators and
// 200,000 items. Needs `npx tsc -b` first (imports the built collector).
import { mkdtempSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { measure, pick, report, round } from './lib/common.mjs';

if (!process.execArgv.includes('--expose-gc')) {
  const r = spawnSync(process.execPath, ['--expose-gc', '--max-old-space-size=12000', fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
const { CollectorService } = await import('../packages/collector/dist/service.js');
const pino = (await import('pino')).default;

const N = Number(process.env.CW_BENCH_INDICATORS ?? pick(5_000_000, 500_000));
const CHUNK = 500_000, ITEMS = pick(1_000_000, 200_000);
const hex = (i, alg = 'sha256') => createHash(alg).update(`ind-${i}`).digest('hex');
/** Mostly hashes, as real feeds are; 1 % software ranges, 1 % serials, 0.02 % filename globs. */
function indicator(i) {
  if (i % 100 === 1) return { id: `B.Sw.${i}`, type: 'software', name: `product ${i}`, version_range: `>=1.${i % 7} <2` };
  if (i % 100 === 2) return { id: `B.Ser.${i}`, type: 'cert_serial', value: hex(i, 'md5') };
  if (i % 5000 === 3) return { id: `B.Glob.${i}`, type: 'filename', value: `evil${i}*.dll` };
  return { id: `B.H.${i}`, type: 'sha256', value: hex(i) };
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'cw-bench-ind-'));
try {
  const svc = CollectorService.open(path.join(dir, 'c.db'), pino({ level: 'warn' }));
  const t0 = performance.now();
  for (let i = 0; i < N; i += CHUNK) {
    const batch = [];
    for (let j = i; j < Math.min(N, i + CHUNK); j++) batch.push(indicator(j));
    await svc.pushParsed(batch, [], { feed: 'bench', actor: 'bench', wait: true });
    process.stderr.write(`loaded ${Math.min(N, i + CHUNK)} indicators, ${round((performance.now() - t0) / 1000, 1)} s\n`);
  }
  const loadS = (performance.now() - t0) / 1000;
  svc.matcher = null;
  global.gc(); global.gc();
  const heap0 = process.memoryUsage().heapUsed;
  const r0 = performance.now();
  const matcher = svc.indicators.loadMatcher();
  const reloadS = (performance.now() - r0) / 1000;
  global.gc(); global.gc();
  const matcherMb = (process.memoryUsage().heapUsed - heap0) / 1e6;
  const rssMb = process.memoryUsage().rss / 1e6;

  // ITEMS files, 1 % of them carrying an indicator hash.
  const items = [];
  // Every 100th item carries the hash of indicator number i * 7 + 10: a hit whenever that many were loaded.
  let expectedHits = 0;
  for (let i = 0; i < ITEMS; i++) {
    if (i % 100 === 0 && i * 7 + 10 < N) expectedHits++;
    const h = i % 100 === 0 ? hex(i * 7 + 10) : createHash('sha256').update(`item-${i}`).digest('hex');
    items.push({ kind: 'file', key: `file:/opt/x/f${i}.dll`, path: `/opt/x/f${i}.dll`, size: 1, sha256: h });
  }
  const now = Date.now();
  let hits = 0;
  const m0 = performance.now();
  for (const it of items) hits += matcher.match(it, now).length;
  const matchS = (performance.now() - m0) / 1000;
  svc.close();

  const metrics = {
    indicators: N, matcher_size: matcher.size, load_s: round(loadS, 1), load_s_per_million: round(loadS / (N / 1e6), 2),
    load_indicators_per_s: Math.round(N / loadS), matcher_reload_from_db_s: round(reloadS, 1),
    matcher_heap_mb_per_million: round(matcherMb / (N / 1e6), 1), process_rss_mb: Math.round(rssMb),
    match_items: items.length, match_hits: hits, match_hits_expected: expectedHits, match_items_per_s: Math.round(items.length / matchS),
  };
  const measures = [
    measure({ what: `matcher against ${N.toLocaleString('en')} indicators`, unit: 'items/s', better: 'higher', ours: [items.length / matchS], d: 0, target: '>= 500,000', check: (v) => v >= 500_000 }),
    measure({ what: `indicator load through the feed pipeline`, unit: 's per million', better: 'lower', ours: [loadS / (N / 1e6)] }),
    measure({ what: 'matcher heap', unit: 'MB per million indicators', better: 'lower', ours: [matcherMb / (N / 1e6)], d: 1 }),
  ];
  const targets = { indicators: `= ${N.toLocaleString('en')} loaded and matched`, match_items_per_s: '>= 500,000', load_s_per_million: 'reported', matcher_heap_mb_per_million: 'reported' };
  report('collector-indicators', metrics, targets, matcher.size >= N && hits === expectedHits && metrics.match_items_per_s >= 500_000, { measures });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
