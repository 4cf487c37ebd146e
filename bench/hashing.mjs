// Hashing throughput: the agent's files source hashing every regular file under /usr
// (SHA-256 + SHA-1 + MD5, one pass, default thread pool, no CPU ceiling, no cache) against
// coreutils `sha256sum` (one hash) over exactly the same file list, in the same run.
// Page cache: dropping caches is not possible here, so both read warm: every file is read
// once before either is timed. Runs alternate (ours, sha256sum, ours, sha256sum) and the best
// of two counts for each, which evens out noise from other work on the machine.
// Then the light default mode (CPU ceiling 10 % of one core) runs 20 s to show the CPU it
// actually takes against that ceiling.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { measureShell, report, round, scanChild } from './lib/common.mjs';

const WORK = fileURLToPath(new URL('./work/', import.meta.url));
mkdirSync(WORK, { recursive: true });
const abs = execFileSync('find', ['/usr', '-type', 'f', '-print0'], { maxBuffer: 1e9 });
const files = abs.toString('latin1').split('\0').filter(Boolean);
const absList = `${WORK}usr-abs.list`, relList = `${WORK}usr-rel.list`;
writeFileSync(absList, abs);
// Scanned as an offline root at /usr so the source sees these files and nothing else
// (a live scan would also walk /opt and home folders).
writeFileSync(relList, files.map((p) => p.slice(4)).join('\0'), 'latin1');

measureShell(`xargs -0 -a ${absList} cat > /dev/null`); // warm the page cache
const cfg = { root: '/usr', list: relList, options: { maxCpuPercent: 0 } };
const runs = { ours: [], sha: [] };
for (let i = 0; i < 2; i++) {
  runs.ours.push(scanChild(cfg));
  runs.sha.push(measureShell(`xargs -0 -a ${absList} sha256sum > /dev/null`));
}
const best = (a) => a.reduce((x, y) => (y.wallS < x.wallS ? y : x));
const ours = best(runs.ours), sha = best(runs.sha);
const bytes = ours.bytesHashed;
const light = scanChild({ root: '/usr', list: relList, timeoutMs: 20_000, options: {} });
const lightLimit = 10;

const m = {
  files: files.length, bytes_hashed: bytes, files_hashed: ours.hashed, errors: ours.errors,
  ours_wall_s: round(ours.wallS), ours_files_per_s: Math.round(files.length / ours.wallS), ours_mb_per_s: round(bytes / 1e6 / ours.wallS, 1),
  ours_cpu_s: round(ours.cpuS), ours_peak_rss_mb: round(ours.peakRssMb, 1),
  sha256sum_wall_s: round(sha.wallS), sha256sum_files_per_s: Math.round(files.length / sha.wallS), sha256sum_mb_per_s: round(bytes / 1e6 / sha.wallS, 1),
  sha256sum_cpu_s: round(sha.cpuS), sha256sum_peak_rss_mb: round(sha.peakRssMb, 1),
  speedup_vs_sha256sum: round(sha.wallS / ours.wallS),
  all_runs_wall_s: { ours: runs.ours.map((r) => round(r.wallS)), sha256sum: runs.sha.map((r) => round(r.wallS)) },
  light_cpu_percent: round((light.cpuS / light.wallS) * 100, 1), light_cpu_limit_percent: lightLimit,
  light_mb_per_s: round(light.bytesHashed / 1e6 / light.wallS, 1), light_peak_rss_mb: round(light.peakRssMb, 1),
};
const targets = { speedup_vs_sha256sum: '>= 1.5', ours_peak_rss_mb: '<= 100', light_cpu_percent: `<= ${lightLimit} (+10 % tolerance)` };
const pass = m.speedup_vs_sha256sum >= 1.5 && m.ours_peak_rss_mb <= 100 && m.light_cpu_percent <= lightLimit * 1.1;
report('hashing', m, targets, pass, {
  compare: [
    { what: 'wall s', ours: m.ours_wall_s, baseline: m.sha256sum_wall_s, lowerIsBetter: true },
    { what: 'files/s', ours: m.ours_files_per_s, baseline: m.sha256sum_files_per_s },
    { what: 'MB/s', ours: m.ours_mb_per_s, baseline: m.sha256sum_mb_per_s },
    { what: 'CPU s', ours: m.ours_cpu_s, baseline: m.sha256sum_cpu_s, lowerIsBetter: true },
    { what: 'peak RSS MB', ours: m.ours_peak_rss_mb, baseline: m.sha256sum_peak_rss_mb, lowerIsBetter: true },
  ],
  notes: 'ours = SHA-256+SHA-1+MD5 per file on 2 hash threads; baseline = sha256sum (one hash, one thread) over the same file list; page cache warm for both (dropping caches is not possible here). The speed-up comes from the second core, so it shrinks when other work shares the machine: see the load average above and all_runs_wall_s.',
});
