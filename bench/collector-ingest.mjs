// Ingest matching: the matcher's throughput — item keys + lookups over a fleet's inventory —
// against 100,000 indicators and then against 1,000,000 (the same matcher, grown), each pass
// repeated and the median reported; then the full store path (dedup items, host pairs, alerts,
// one transaction per 2,000-item frame) for a first inventory and for rescans, against 1M.
// Fleet: 200 hosts × 3,000 items (quick: 50 hosts), 90 % shared (software 30 %, files 70 %),
// ~1 % hitting. Store throughput = items through InventoryStore.apply (frame already
// validated: item ids, host pairs, match, alerts, commit) per second of wall time.
// No peer tool: the figures stand against the targets (issue 5: >= 500k items/s vs 1M).
// The machine may be shared: the load average before and after is part of the result.
// Temp dir; stops by itself. Needs `npx tsc -b` first.
import { mkdtempSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { REPS, measure, pick, repeat, report, round } from './lib/common.mjs';

const { CollectorService } = await import('../packages/collector/dist/service.js');
const { compile } = await import('../packages/collector/dist/match/engine.js');
const { normalizeIndicator } = await import('../packages/collector/dist/match/indicator.js');
const { enrollHost } = await import('../packages/collector/dist/store/auth.js');
const pino = (await import('pino')).default;

const STEPS = [100_000, Number(process.env.CW_BENCH_INGEST_INDICATORS ?? 1_000_000)];
const HOSTS = pick(200, 50), PER_HOST = 3000, SHARED = 2700, FRAME = 2000;
const hex = (s) => createHash('sha256').update(s).digest('hex');

function item(n) {
  if (n % 10 < 3) return { kind: 'software', key: `software:dpkg:machine:pkg${n}`, source: 'dpkg', name: `pkg${n}`, version: `1.${n % 13}-1` };
  return { kind: 'file', key: `file:/usr/lib/f${n}.so`, path: `/usr/lib/f${n}.so`, size: n, sha256: hex(`item-${n}`) };
}
const hostItems = (h) => {
  const out = [];
  for (let i = 0; i < SHARED; i++) out.push(item(i));
  for (let i = 0; i < PER_HOST - SHARED; i++) out.push(item(100_000 + h * 1000 + i));
  return out;
};

const dir = mkdtempSync(path.join(os.tmpdir(), 'cw-bench-ingest-'));
try {
  const svc = CollectorService.open(path.join(dir, 'c.db'), pino({ level: 'warn' }), { bundled: false });
  let added = 0, compileS = 0;
  /** Grows the matcher to n indicators. ~1 % of items hit: every 97th item number is named. */
  const growTo = (n) => {
    const c0 = performance.now();
    for (let i = added; i < n; i++) {
      const raw = i % 10 === 0 ? { id: `I.Sw.${i}`, type: 'software', name: `pkg${i * 97}`, version_range: '>=1.5' }
        : { id: `I.H.${i}`, type: 'sha256', value: i < 20_000 ? hex(`item-${i * 97}`) : hex(`noise-${i}`) };
      svc.matcher.add(compile(normalizeIndicator(raw, 'bench').indicator));
    }
    added = n;
    compileS += (performance.now() - c0) / 1000;
  };

  const loadBefore = os.loadavg().map((x) => round(x, 2));
  const fleet = Array.from({ length: HOSTS }, (_, h) => hostItems(h));
  const total = HOSTS * PER_HOST;
  const now = Date.now();
  let hits = 0;
  /** Items per second of one matcher pass over the whole fleet. */
  const matchPass = () => {
    hits = 0;
    const m0 = performance.now();
    for (const items of fleet) for (const it of items) hits += svc.matcher.match(it, now).length;
    return total / ((performance.now() - m0) / 1000);
  };
  const matcher = {};
  for (const n of STEPS) {
    growTo(n);
    matcher[n] = { runs: await repeat(REPS, matchPass), hits };
  }

  for (let h = 0; h < HOSTS; h++) enrollHost(svc.db, `host-${h}`, `host-${h}`, 'bench');
  const storeRun = (scan) => {
    let seq = scan * 100, alerts = 0;
    const t0 = performance.now();
    fleet.forEach((items, h) => {
      for (let p = 0, s = seq; p * FRAME < items.length; p++) {
        const part = items.slice(p * FRAME, (p + 1) * FRAME);
        alerts += svc.ingest(`host-${h}`, { v: 1, type: 'inventory', seq: ++s, scan_id: `s${scan}`, mode: 'full', part: p, final: (p + 1) * FRAME >= items.length, items: part }).alerts;
      }
    });
    return { s: (performance.now() - t0) / 1000, alerts };
  };
  const first = storeRun(1);
  // Three rescans, the median reported: one run on a shared machine swings by ±30 %.
  const rescans = await repeat(Math.max(REPS, 3), (i) => storeRun(2 + i));
  const rescan = [...rescans].sort((a, b) => a.s - b.s)[rescans.length >> 1];
  const alertRows = svc.db.prepare('SELECT count(*) FROM alerts').pluck().get();
  svc.close();

  const [small, big] = STEPS;
  const measures = [
    measure({ what: `matcher at ingest, ${small.toLocaleString('en')} indicators`, unit: 'items/s', better: 'higher', ours: matcher[small].runs, d: 0 }),
    measure({ what: `matcher at ingest, ${big.toLocaleString('en')} indicators`, unit: 'items/s', better: 'higher', ours: matcher[big].runs, d: 0,
      target: '>= 500,000', check: (v) => v >= 500_000 }),
    measure({ what: `store path, rescan of ${HOSTS} hosts × ${PER_HOST} items`, unit: 'items/s', better: 'higher', ours: rescans.map((r) => total / r.s), d: 0,
      target: '>= 500,000', check: (v) => v >= 500_000 }),
    measure({ what: `store path, first inventory of ${HOSTS} hosts`, unit: 'items/s', better: 'higher', ours: [total / first.s], d: 0 }),
  ];
  const metrics = {
    loadavg_before: loadBefore, loadavg_after: os.loadavg().map((x) => round(x, 2)),
    indicators: svc.matcher.size, compile_s: round(compileS, 1), host_items: total, repetitions: REPS,
    matcher_100k_items_per_s: measures[0].ours.median, matcher_100k_runs: measures[0].ours.runs, matcher_100k_hits: matcher[small].hits,
    matcher_items_per_s: measures[1].ours.median, matcher_runs: measures[1].ours.runs, matcher_hits: matcher[big].hits,
    store_first_inventory_items_per_s: Math.round(total / first.s), store_first_inventory_s: round(first.s),
    store_rescan_items_per_s: Math.round(total / rescan.s), store_rescan_s: round(rescan.s),
    store_rescan_runs_items_per_s: rescans.map((r) => Math.round(total / r.s)), store_rescan_alerts: rescan.alerts,
    store_alerts_raised: first.alerts, alert_rows: alertRows,
  };
  const targets = { matcher_items_per_s: `>= 500,000 against ${big.toLocaleString('en')} indicators`, store_first_inventory_items_per_s: 'as high as the layout allows (reported)', store_rescan_items_per_s: '>= 500,000' };
  report('collector-ingest', metrics, targets, metrics.matcher_items_per_s >= 500_000 && metrics.store_rescan_items_per_s >= 500_000 && hits > 0, { measures });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
