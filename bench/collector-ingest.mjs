// Ingest matching: 1,000,000 indicators compiled into the matcher; (a) matcher throughput —
// item keys + lookups — over a fleet's inventory, (b) the full store path (dedup items, host
// pairs, alerts, one transaction per 2,000-item frame) for a first inventory and a rescan.
// Fleet: 200 hosts × 3,000 items, 90 % shared (software 30 %, files 70 %), ~1 % hitting.
// Store throughput = items through InventoryStore.apply (frame already validated: item ids,
// host pairs, match, alerts, commit) per second of wall time, reported separately for a first
// inventory (every pair new, 62,700 distinct items to insert) and a rescan (every pair known).
// The machine may be shared: the load average before and after is part of the result.
// Temp dir; stops by itself. Needs `npx tsc -b` first.
import { mkdtempSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { report, round } from './lib/common.mjs';

const { CollectorService } = await import('../packages/collector/dist/service.js');
const { compile } = await import('../packages/collector/dist/match/engine.js');
const { normalizeIndicator } = await import('../packages/collector/dist/match/indicator.js');
const { itemKeys } = await import('../packages/collector/dist/match/keys.js');
const { enrollHost } = await import('../packages/collector/dist/store/auth.js');
const pino = (await import('pino')).default;

const IND = Number(process.env.CW_BENCH_INGEST_INDICATORS ?? 1_000_000);
const HOSTS = 200, PER_HOST = 3000, SHARED = 2700, FRAME = 2000;
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
  const c0 = performance.now();
  for (let i = 0; i < IND; i++) {
    // ~1 % of items hit: every 97th shared/unique item number is named by an indicator.
    const raw = i % 10 === 0 ? { id: `I.Sw.${i}`, type: 'software', name: `pkg${i * 97}`, version_range: '>=1.5' }
      : { id: `I.H.${i}`, type: 'sha256', value: i < 20_000 ? hex(`item-${i * 97}`) : hex(`noise-${i}`) };
    svc.matcher.add(compile(normalizeIndicator(raw, 'bench').indicator));
  }
  const compileS = (performance.now() - c0) / 1000;

  const loadBefore = os.loadavg().map((x) => round(x, 2));
  const fleet = Array.from({ length: HOSTS }, (_, h) => hostItems(h));
  const total = HOSTS * PER_HOST;
  const now = Date.now();
  let hits = 0;
  const m0 = performance.now();
  for (const items of fleet) for (const it of items) hits += svc.matcher.match(it, now, itemKeys(it)).length;
  const matchS = (performance.now() - m0) / 1000;

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
  const rescans = [storeRun(2), storeRun(3), storeRun(4)];
  const rescan = [...rescans].sort((a, b) => a.s - b.s)[1];
  const alertRows = svc.db.prepare('SELECT count(*) FROM alerts').pluck().get();
  svc.close();

  const metrics = {
    loadavg_before: loadBefore, loadavg_after: os.loadavg().map((x) => round(x, 2)),
    indicators: svc.matcher.size, compile_s: round(compileS, 1), host_items: total,
    matcher_items_per_s: Math.round(total / matchS), matcher_hits: hits,
    store_first_inventory_items_per_s: Math.round(total / first.s), store_first_inventory_s: round(first.s),
    store_rescan_items_per_s: Math.round(total / rescan.s), store_rescan_s: round(rescan.s),
    store_rescan_runs_items_per_s: rescans.map((r) => Math.round(total / r.s)), store_rescan_alerts: rescan.alerts,
    store_alerts_raised: first.alerts, alert_rows: alertRows,
  };
  const targets = { matcher_items_per_s: '>= 500,000 against 1,000,000 indicators', store_first_inventory_items_per_s: 'as high as the layout allows (reported)', store_rescan_items_per_s: '>= 500,000' };
  report('collector-ingest', metrics, targets, metrics.matcher_items_per_s >= 500_000 && metrics.store_rescan_items_per_s >= 500_000 && hits > 0);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
