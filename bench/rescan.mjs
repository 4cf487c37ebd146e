// Incremental rescan: 100,000 small package-owned files in a temp tree (quick: 20,000),
// scanned once to fill the hash cache, then again unchanged, several times (target: <= 3 s at
// 100k files, nothing re-read), then after touching 10 files (exactly those 10 re-hashed).
// Peak RSS of every scan: target <= 100 MB. The first scan runs without a CPU ceiling; the
// rescans use the default options (10 % CPU ceiling), which an unchanged rescan hardly meets
// since it reads no file. No peer tool: the comparison is the cached rescan against our own
// first scan of the same tree.
import { mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { REPS, measure, pick, repeat, report, round, scanChild } from './lib/common.mjs';

const N = pick(100_000, 20_000), PER_DIR = 500;
const WORK = fileURLToPath(new URL('./work/rescan/', import.meta.url));
const root = `${WORK}root`, list = `${WORK}owned.list`, cacheFile = `${WORK}state/hash-cache.sqlite`;
rmSync(WORK, { recursive: true, force: true });
const paths = [];
for (let i = 0; i < N; i++) {
  const dir = `/usr/lib/pkg${Math.floor(i / PER_DIR)}`;
  if (i % PER_DIR === 0) mkdirSync(root + dir, { recursive: true });
  const p = `${dir}/file${i}.so`;
  writeFileSync(root + p, `content of file ${i}\n`.repeat(1 + (i % 50)));
  paths.push(p);
}
writeFileSync(list, paths.join('\0'));

const first = scanChild({ root, list, options: { maxCpuPercent: 0, cacheFile } });
const rescans = await repeat(REPS, () => scanChild({ root, list, options: { cacheFile } }));
const later = new Date(Date.now() + 60_000);
for (let i = 0; i < 10; i++) utimesSync(root + paths[Math.floor((i * N) / 10)], later, later);
const touched = scanChild({ root, list, options: { cacheFile } });
rmSync(root, { recursive: true, force: true });

const peak = Math.max(first.peakRssMb, touched.peakRssMb, ...rescans.map((r) => r.peakRssMb));
const measures = [
  measure({ what: `unchanged rescan of ${N / 1000}k files (peer: our own first scan)`, unit: 's', better: 'lower', peerName: 'first scan, no cache',
    ours: rescans.map((r) => r.wallS), peer: [first.wallS], target: '<= 3 s at 100k files', check: (v) => v <= 3 }),
  measure({ what: 'unchanged rescan CPU seconds', unit: 's', better: 'lower', peerName: 'first scan, no cache', ours: rescans.map((r) => r.cpuS), peer: [first.cpuS] }),
  measure({ what: 'peak RSS of any rescan-bench scan', unit: 'MB', better: 'lower', ours: [peak], d: 1, target: '<= 100', check: (v) => v <= 100 }),
];
const m = {
  files: N, repetitions: REPS, first_scan_s: round(first.wallS), first_hashed: first.hashed, first_peak_rss_mb: round(first.peakRssMb, 1),
  rescan_s: measures[0].ours.median, rescan_runs_s: measures[0].ours.runs, rescan_cpu_s: measures[1].ours.median,
  rescan_hashed: Math.max(...rescans.map((r) => r.hashed)), rescan_cached: rescans[0].cached,
  rescan_files_per_s: Math.round(N / measures[0].ours.median), rescan_peak_rss_mb: round(Math.max(...rescans.map((r) => r.peakRssMb)), 1),
  touched_rescan_s: round(touched.wallS), touched_rehashed: touched.hashed, touched_peak_rss_mb: round(touched.peakRssMb, 1),
  peak_rss_mb: round(peak, 1),
};
const targets = { rescan_s: '<= 3', rescan_hashed: '== 0', touched_rehashed: '== 10', peak_rss_mb: '<= 100' };
const pass = m.rescan_s <= 3 && m.rescan_hashed === 0 && m.touched_rehashed === 10 && peak <= 100;
report('rescan', m, targets, pass, { measures });
