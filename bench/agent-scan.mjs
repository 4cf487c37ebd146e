// Agent footprint: peak RSS, CPU seconds and wall time of a whole `chainwatch-agent scan --json`
// of this host (every source, hashing every package-owned file, no CPU ceiling — the
// interactive default), then of an unchanged rescan with the same hash cache (`--cache`), as
// a service would do on its next pass. Each repetition starts from an empty cache. Measured
// from outside by getrusage(RUSAGE_CHILDREN) on the agent process (bench/lib/common.mjs
// measureShell), so the figures include everything the process did, workers too.
// Target (issue 3): peak RSS <= 100 MB during any scan. No peer tool.
// The agent runs as a user runs it: the bin script executed directly, so its interpreter line
// (`env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=1 --v8-pool-size=1`, the agent's
// memory settings, see packages/agent/src/gc-tuning.ts) applies as it does for an installed
// agent; the service definitions set the same.
// Service path: `chainwatch-agent run --once` (enroll, scan, delta store, spool, TLS WebSocket
// to a real collector on loopback, exit once acknowledged) from a fresh state directory, as a
// newly installed agent's first pass, at full speed (--max-cpu-percent 0: hashing on a thread
// and on the main thread, its largest footprint; the service default of 10 % hashes on the main
// thread only). Its peak RSS counts toward the same ≤ 100 MB target: it is a scan too.
// Quick mode: an offline root (--root) holding a copy of the first ~5,000 package-owned files
// of this host with their dpkg records, instead of the whole host.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { QUICK, REPS, measure, measureShell, repeat, report, round, shq } from './lib/common.mjs';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const WORK = fileURLToPath(new URL('./work/agent-scan/', import.meta.url));
const CLI = `${REPO}packages/agent/bin/chainwatch-agent.js`;
const QUICK_FILES = 5000;
rmSync(WORK, { recursive: true, force: true });
mkdirSync(WORK, { recursive: true });

/** The dpkg file list of a package, multi-arch name first, as dpkg keeps it; null if none. */
function dpkgList(name, arch) {
  for (const base of [`${name}:${arch}`, name]) {
    const p = `/var/lib/dpkg/info/${base}.list`;
    if (existsSync(p)) return { base, paths: readFileSync(p, 'utf8').split('\n').filter((l) => l && l !== '/.') };
  }
  return null;
}

/**
 * A small offline root: installed packages taken in status-file order until their regular
 * files reach QUICK_FILES, copied (tar keeps modes and symlinks) with their dpkg records.
 */
function quickRoot() {
  const root = `${WORK}root`;
  mkdirSync(`${root}/var/lib/dpkg/info`, { recursive: true });
  const stanzas = [], copy = [];
  let regular = 0;
  for (const st of readFileSync('/var/lib/dpkg/status', 'utf8').split(/\n\n+/)) {
    if (regular >= QUICK_FILES) break;
    const name = /^Package: (.+)$/m.exec(st)?.[1], arch = /^Architecture: (.+)$/m.exec(st)?.[1] ?? '';
    const list = name && /^Status: install ok installed$/m.test(st) ? dpkgList(name, arch) : null;
    if (!list) continue;
    stanzas.push(st);
    writeFileSync(`${root}/var/lib/dpkg/info/${list.base}.list`, list.paths.join('\n') + '\n');
    for (const p of list.paths) {
      try { if (lstatSync(p).isFile()) regular++; copy.push(p.slice(1)); } catch { /* listed but gone: dpkg lists can be stale */ }
    }
  }
  writeFileSync(`${root}/var/lib/dpkg/status`, stanzas.join('\n\n') + '\n');
  writeFileSync(`${WORK}copy.list`, copy.join('\0'));
  execFileSync('sh', ['-c', `tar -C / --no-recursion --null -T ${shq(`${WORK}copy.list`)} -cf - 2>/dev/null | tar -C ${shq(root)} -xf -`], { stdio: 'inherit' });
  return { root, packages: stanzas.length, regular };
}

const quick = QUICK ? quickRoot() : null;
const cache = `${WORK}hash-cache.sqlite`, out = `${WORK}scan.ndjson`;
const rootArg = quick ? ` --root ${shq(quick.root)}` : '';
/** One agent scan, measured; returns the rusage figures plus the item count it printed. */
function scan() {
  const r = measureShell(`exec ${shq(CLI)} scan --json${rootArg} --cache ${shq(cache)} > ${shq(out)}`, 3600);
  const lines = readFileSync(out, 'utf8').split('\n').filter(Boolean);
  return { ...r, items: lines.length, errors: lines.filter((l) => l.includes('"kind":"error"')).length };
}

/** A collector on loopback (embedded SQLite, its own TLS CA) for the service-path runs. */
async function startCollector() {
  const dir = `${WORK}collector`, ready = `${dir}/ready.json`;
  mkdirSync(dir, { recursive: true });
  const child = spawn(process.execPath, [`${REPO}packages/collector/bin/chainwatch-collector.js`, 'start', '--db', `${dir}/c.db`, '--port', '0', '--ready-file', ready, '--enroll-secret', 'bench-agent-scan'],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, CHAINWATCH_LOG_LEVEL: 'warn' } });
  while (!existsSync(ready)) { if (child.exitCode !== null) throw new Error('collector exited'); await new Promise((r) => setTimeout(r, 100)); }
  const { url } = JSON.parse(readFileSync(ready, 'utf8'));
  return { url, ca: `${dir}/tls/ca.pem`, stop: () => new Promise((r) => { child.once('exit', r); child.kill('SIGTERM'); }) };
}

/** One first pass of a freshly installed agent through the service path, measured. */
function service(col) {
  const state = `${WORK}state`;
  rmSync(state, { recursive: true, force: true });
  const r = measureShell(`exec ${shq(CLI)} run --once --collector ${shq(col.url)} --enroll-secret bench-agent-scan --ca-file ${shq(col.ca)} --state-dir ${shq(state)} --max-cpu-percent 0${rootArg} > ${shq(out)}`, 3600);
  const delivered = Number(/delivered (\d+) items/.exec(readFileSync(out, 'utf8'))?.[1] ?? 0);
  return { ...r, items: delivered };
}

const collector = await startCollector();
const runs = await repeat(REPS, () => {
  rmSync(cache, { force: true });
  for (const suffix of ['-wal', '-shm']) rmSync(cache + suffix, { force: true });
  return { full: scan(), rescan: scan(), service: service(collector) };
});
await collector.stop();
if (quick) rmSync(quick.root, { recursive: true, force: true });

const col = (phase, f) => runs.map((r) => f(r[phase]));
const rssCheck = (v) => v <= 100;
const what = quick ? `agent scan of an offline root (${quick.regular} package files)` : 'agent scan of this host';
const measures = [
  measure({ what: `${what}: full scan peak RSS`, unit: 'MB', better: 'lower', ours: col('full', (r) => r.peakRssMb), d: 1, target: '<= 100', check: rssCheck }),
  measure({ what: `${what}: full scan CPU seconds`, unit: 's', better: 'lower', ours: col('full', (r) => r.cpuS) }),
  measure({ what: `${what}: full scan wall time`, unit: 's', better: 'lower', ours: col('full', (r) => r.wallS) }),
  measure({ what: `${what}: unchanged rescan peak RSS`, unit: 'MB', better: 'lower', ours: col('rescan', (r) => r.peakRssMb), d: 1, target: '<= 100', check: rssCheck }),
  measure({ what: `${what}: unchanged rescan CPU seconds`, unit: 's', better: 'lower', ours: col('rescan', (r) => r.cpuS) }),
  measure({ what: `${what}: unchanged rescan wall time`, unit: 's', better: 'lower', ours: col('rescan', (r) => r.wallS) }),
  measure({ what: `${what}: service path (run --once, first pass) peak RSS`, unit: 'MB', better: 'lower', ours: col('service', (r) => r.peakRssMb), d: 1, target: '<= 100', check: rssCheck }),
  measure({ what: `${what}: service path CPU seconds`, unit: 's', better: 'lower', ours: col('service', (r) => r.cpuS) }),
  measure({ what: `${what}: service path wall time`, unit: 's', better: 'lower', ours: col('service', (r) => r.wallS) }),
];
const med = (i) => measures[i].ours.median;
const m = {
  scope: quick ? { offline_root: true, packages: quick.packages, package_files: quick.regular } : { host: true }, repetitions: REPS,
  items: runs[0].full.items, error_items: runs[0].full.errors, rescan_items: runs[0].rescan.items,
  full_peak_rss_mb: med(0), full_cpu_s: med(1), full_wall_s: med(2),
  rescan_peak_rss_mb: med(3), rescan_cpu_s: med(4), rescan_wall_s: med(5),
  service_items: runs[0].service.items, service_peak_rss_mb: med(6), service_cpu_s: med(7), service_wall_s: med(8),
  peak_rss_mb: round(Math.max(...runs.flatMap((r) => [r.full.peakRssMb, r.rescan.peakRssMb, r.service.peakRssMb])), 1),
};
const targets = { peak_rss_mb: '<= 100', rescan_items: `== items (${m.items})`, service_items: `== items (${m.items})` };
report('agent-scan', m, targets, m.peak_rss_mb <= 100 && m.rescan_items === m.items && m.service_items === m.items, {
  measures,
  notes: `${quick ? 'Quick: offline root built from this host\'s first dpkg packages. ' : ''}Commands measured: chainwatch-agent scan --json${quick ? ' --root DIR' : ''} --cache FILE > file; the rescan reuses the cache of the scan before it; the service path is chainwatch-agent run --once --max-cpu-percent 0 from a fresh state directory against a collector on loopback. The agent may have a memory watchdog that slows hashing when RSS nears its limit; its warnings, if any, are on stderr.`,
});
