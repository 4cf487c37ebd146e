// Incremental rescan: 100,000 small package-owned files in a temp tree, scanned once to fill
// the hash cache, then again unchanged (target: <= 3 s, nothing re-read), then again after
// touching 10 files (exactly those 10 re-hashed). Peak RSS of every scan: target <= 100 MB.
// The first scan runs without a CPU ceiling; the rescans use the default options (10 % CPU
// ceiling), which an unchanged rescan hardly meets since it reads no file.
import { mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { report, round, scanChild } from './lib/common.mjs';

const N = 100_000, PER_DIR = 500;
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
const second = scanChild({ root, list, options: { cacheFile } });
const later = new Date(Date.now() + 60_000);
for (let i = 0; i < 10; i++) utimesSync(root + paths[i * 9_973], later, later);
const third = scanChild({ root, list, options: { cacheFile } });
rmSync(root, { recursive: true, force: true });

const m = {
  files: N, first_scan_s: round(first.wallS), first_hashed: first.hashed, first_peak_rss_mb: round(first.peakRssMb, 1),
  rescan_s: round(second.wallS), rescan_cpu_s: round(second.cpuS), rescan_hashed: second.hashed, rescan_cached: second.cached,
  rescan_files_per_s: Math.round(N / second.wallS), rescan_peak_rss_mb: round(second.peakRssMb, 1),
  touched_rescan_s: round(third.wallS), touched_rehashed: third.hashed, touched_peak_rss_mb: round(third.peakRssMb, 1),
};
const peak = Math.max(m.first_peak_rss_mb, m.rescan_peak_rss_mb, m.touched_peak_rss_mb);
const targets = { rescan_s: '<= 3', rescan_hashed: '0', touched_rehashed: '10', peak_rss_mb: '<= 100' };
const pass = m.rescan_s <= 3 && m.rescan_hashed === 0 && m.touched_rehashed === 10 && peak <= 100;
report('rescan', { ...m, peak_rss_mb: peak }, targets, pass, {
  compare: [{ what: 'scan of 100k files, s', ours: m.rescan_s, baseline: m.first_scan_s, label: 'cached rescan vs first scan', lowerIsBetter: true }],
});
