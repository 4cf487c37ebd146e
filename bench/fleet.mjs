// Fleet bench: a real collector (2 cores shared with the simulator) against chainwatch-fleetsim —
// hold N idle agents (RSS, memory per idle connection), initial sync N × M items over TLS
// (end-to-end items/s, ack latency), a delta storm (N × 50 changed items), a short churn with
// reconnects; API p99 under load (autocannon, run by fleetsim: one load across the phases, each connection's first
// response, its TLS handshake included, reported apart); stored items counted per host
// (sqlite3, read-only) and alerts raised vs planted. Beside it the storage ceiling: the same
// rows inserted into a fresh database with the collector's schema by plain prepared statements
// in one process (several repetitions, median). Full: 10,000 × 3,000; CW_BENCH_QUICK=1: 300 × 1,000.
// Env: CW_FLEET_AGENTS, CW_FLEET_ITEMS override the sizes. Last stdout line: result JSON.
import { spawn, execFileSync, execFile } from 'node:child_process';
import https from 'node:https';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { report, round } from './lib/common.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SELF = fileURLToPath(import.meta.url);
if (process.argv[2] === '--raw-insert') { await rawInsert(Number(process.argv[3]), Number(process.argv[4]), process.argv[5]); process.exit(0); }

/**
 * The storage ceiling, run in a child process: fleetsim's own inventories (same generator,
 * seed and sizes) inserted with plain prepared statements into a fresh database migrated with
 * the collector's schema — items deduplicated by digest (a Map, as the collector caches ids),
 * their lookup keys, one host pair per item — one transaction per 100 hosts (300,000 rows: larger
 * than any group commit of the collector, whose index writes shrink with group size). No validation,
 * matching, network or TLS: what SQLite alone takes for these rows.
 */
async function rawInsert(agents, items, file) {
  const RAW_HOSTS_PER_TX = 100;
  const Database = (await import('better-sqlite3')).default;
  const { MIGRATIONS } = await import('../packages/collector/dist/store/migrations/index.js');
  const { itemKeys } = await import('../packages/collector/dist/match/keys.js');
  const { loadCatalog } = await import('../packages/fleetsim/dist/catalog.js');
  const { FleetModel } = await import('../packages/fleetsim/dist/fleet-data.js');
  const model = new FleetModel(loadCatalog('/var/lib/dpkg/status', '/var/lib/dpkg/info', Math.max(items * 2, 5000)), { seed: 7, items, matchShare: 0.01, runTag: 'raw' });
  const d = new Database(file);
  d.pragma('journal_mode = WAL'); d.pragma('synchronous = NORMAL'); d.pragma('cache_size = -65536');
  for (let v = 0; v < MIGRATIONS.length; v++) d.exec(MIGRATIONS[v]);
  const insItem = d.prepare('INSERT INTO items (digest, kind, ikey, data) VALUES (?, ?, ?, ?)');
  const insKey = d.prepare('INSERT OR IGNORE INTO item_keys (value, item_id) VALUES (?, ?)');
  const insHost = d.prepare('INSERT INTO host_nums (host_id, scan_id, scan) VALUES (?, ?, 1) RETURNING num').pluck();
  const insPair = d.prepare('INSERT INTO host_inv (host, item, first_seen, last_seen, scan) VALUES (?, ?, ?, ?, 1)');
  // Rows prepared before the clock starts (digests, parsed items, keys): only SQLite is timed.
  const distinct = [], index = new Map();
  const fleet = Array.from({ length: agents }, (_, h) => Int32Array.from(model.hostItems(h), (text) => {
    const digest = createHash('sha256').update(text).digest(), k = digest.toString('base64');
    let i = index.get(k);
    if (i === undefined) { const it = JSON.parse(text); i = distinct.length; distinct.push({ digest, kind: it.kind, key: it.key, text, keys: itemKeys(it), id: 0 }); index.set(k, i); }
    return i;
  }));
  const hostIds = fleet.map((_, h) => model.hostId(h));
  const t0 = performance.now();
  let rows = 0;
  const batch = d.transaction((from, to) => {
    const ts = Date.now(); // host_inv times are integer milliseconds (migration 11)
    for (let h = from; h < to; h++) {
      const num = insHost.get(hostIds[h], 'full');
      for (const i of fleet[h]) {
        const it = distinct[i];
        if (it.id === 0) {
          it.id = Number(insItem.run(it.digest, it.kind, it.key, it.text).lastInsertRowid);
          for (const key of it.keys) insKey.run(key, it.id);
        }
        insPair.run(num, it.id, ts, ts);
        rows++;
      }
    }
  });
  for (let h = 0; h < agents; h += RAW_HOSTS_PER_TX) batch(h, Math.min(agents, h + RAW_HOSTS_PER_TX));
  const s = (performance.now() - t0) / 1000;
  d.close();
  console.log(JSON.stringify({ rows, distinct_items: distinct.length, seconds: s, items_per_s: Math.round(rows / s) }));
}
const QUICK = process.env.CW_BENCH_QUICK === '1';
const AGENTS = Number(process.env.CW_FLEET_AGENTS ?? (QUICK ? 300 : 10_000));
const ITEMS = Number(process.env.CW_FLEET_ITEMS ?? (QUICK ? 1000 : 3000));
// The raw ceiling runs once in full mode: 30 million rows take minutes, as does the end-to-end sync it is set beside.
const STORM = 50, HOLD_S = QUICK ? 2 : 10, CHURN_S = QUICK ? 4 : 30, RAW_REPS = QUICK ? 3 : 1;
const PAGE = 4096, CLK_TCK = 100;
// Lowest priority: the simulator's workers stand in for machines that are not here. At nice 10 they tied
// with the collector's writer thread (also nice 10) and took ~0.9 of the 2 cores during a sync; at 19 the
// writer still waited for a CPU 18–25 % of a sync; under SCHED_IDLE (CW_FLEET_SIM_IDLE=0 turns it off)
// they run only on CPU time no collector thread wants. Their CPU is reported (sim_cpu_s) beside the collector's.
// The coordinator stays at normal priority: it runs the API client (autocannon), which stands in for an
// analyst's machine. Run at nice 19 on a saturated machine, its latencies included its own wait for a CPU.
const SIM_NICE = Number(process.env.CW_FLEET_SIM_NICE ?? 19);
const SIM_IDLE = process.env.CW_FLEET_SIM_IDLE !== '0';

const dir = mkdtempSync(path.join(os.tmpdir(), 'cw-bench-fleet-'));
const db = path.join(dir, 'db', 'c.db'), ready = path.join(dir, 'ready.json'), secret = 'bench-fleet-' + Date.now();
const colArgs = ['start', '--db', db, '--port', '0', '--ready-file', ready, '--enroll-secret', secret, '--auth-fail-limit', '0', '--enroll-rate', '1000000', '--frame-rate', '100000'];
const col = spawn(process.execPath, [path.join(REPO, 'packages/collector/bin/chainwatch-collector.js'), ...colArgs],
  { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, CHAINWATCH_LOG_LEVEL: 'warn' } });
const stopCollector = () => new Promise((r) => { if (col.exitCode !== null) return r(); col.once('exit', r); col.kill('SIGTERM'); });

/** CPU seconds (user+system) of this process's reaped children, from /proc (cutime, cstime). */
function childCpuSeconds() {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return round((Number(f[13]) + Number(f[14])) / CLK_TCK, 1);
}

/** RSS (bytes) and CPU seconds (user+system) of a process, from /proc. */
function procSample(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { t: Date.now(), rss: Number(f[21]) * PAGE, cpu: (Number(f[11]) + Number(f[12])) / CLK_TCK };
}

/** The API routes the simulator's load requests (fleetsim api-load.ts), by the names its report uses. */
const LOADED_ROUTES = new Map([['/api/v1/alerts', 'alerts'], ['/api/v1/search/files', 'search_files'], ['/api/v1/search/software', 'search_software']]);

/**
 * From the collector's /metrics: its memory by kind (chainwatch_process_memory_bytes, MB), its
 * main thread's event loop delay since the previous scrape (p99 and max, ms), and the cumulative
 * server-side duration buckets of the loaded API routes (route name → upper bound in s → count)
 * and of the reads on the API reader threads (`<op>_<part>`: queue, run, cpu, cpu_wait, reply), reads
 * shared by op; null when it does not answer.
 */
function scrapeMetrics(url, ca) {
  return new Promise((resolve) => {
    const req = https.get(url + '/metrics', { ca, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d) => { body += d; }).on('end', () => {
        const kinds = {};
        for (const [, kind, v] of body.matchAll(/^chainwatch_process_memory_bytes\{kind="([a-z_]+)"\} (\d+)/gm)) kinds[kind] = round(Number(v) / 1e6);
        const loop = {};
        for (const [, q, v] of body.matchAll(/^chainwatch_event_loop_delay_seconds\{quantile="([0-9.]+)"\} ([0-9.e+-]+)/gm)) loop[q] = round(Number(v) * 1000);
        const api = {};
        for (const [, route, le, n] of body.matchAll(/^chainwatch_api_request_duration_seconds_bucket\{route="([^"]+)",le="([^"]+)"\} (\d+)/gm)) {
          const name = LOADED_ROUTES.get(route);
          if (name) (api[name] ??= {})[le] = Number(n);
        }
        // Reads on the reader threads: `${op}_queue`, `${op}_run`, `${op}_reply` (plugins/api-reader.ts).
        const reads = {};
        for (const [, op, part, le, n] of body.matchAll(/^chainwatch_api_read_seconds_bucket\{op="([a-z]+)",part="([a-z_]+)",le="([^"]+)"\} (\d+)/gm)) (reads[`${op}_${part}`] ??= {})[le] = Number(n);
        // Reads answered with the answer of the same read already out, by op.
        const shared = {};
        for (const [, op, n] of body.matchAll(/^chainwatch_api_reads_shared_total\{op="([a-z]+)"\} (\d+)/gm)) shared[op] = Number(n);
        resolve(Object.keys(kinds).length ? { t: Date.now(), memory: kinds, loop, api, reads, shared } : null);
      });
    });
    req.on('error', () => resolve(null)).on('timeout', () => { req.destroy(); resolve(null); });
  });
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : 0; };

try {
  while (!existsSync(ready)) { if (col.exitCode !== null) throw new Error('collector exited'); await new Promise((r) => setTimeout(r, 100)); }
  const { url } = JSON.parse(readFileSync(ready, 'utf8'));
  const ca = path.join(dir, 'db', 'tls', 'ca.pem');
  const token = execFileSync(process.execPath, [path.join(REPO, 'packages/collector/bin/chainwatch-collector.js'), 'token', 'create', '--role', 'admin', '--label', 'bench-fleet', '--db', db], { encoding: 'utf8' }).trim().split('\n').pop();

  await new Promise((r) => setTimeout(r, 1000));
  const samples = [];
  const base = procSample(col.pid);
  const sampler = setInterval(() => { try { samples.push(procSample(col.pid)); } catch { /* exited */ } }, 250);
  // Where the memory is (main heap, buffers, the writer thread's heap), every 5 s; the sample nearest the RSS peak is reported.
  const caPem = readFileSync(ca), scrapes = [];
  // Each scrape's loop figures cover the time since the one before (the collector resets them per scrape).
  let lastScrape = Date.now();
  // One scrape before the simulation and one after it, so the first and the last phase have a scrape on each side.
  const scrapeNow = async () => { const k = await scrapeMetrics(url, caPem); if (k) { scrapes.push({ ...k, from: lastScrape }); lastScrape = k.t; } };
  await scrapeNow();
  const memSampler = setInterval(() => { void scrapeNow(); }, 5000);

  const simArgs = [path.join(REPO, 'packages/fleetsim/bin/chainwatch-fleetsim.js'), '--agents', String(AGENTS), '--items', String(ITEMS), '--url', url, '--ca', ca,
    '--enroll-secret', secret, '--admin-token', token, '--db', db, '--hold', String(HOLD_S), '--storm', String(STORM), '--duration', String(CHURN_S),
    '--delta-interval', String(Math.max(1, CHURN_S / 2)), '--churn', String(10 / ITEMS), '--reconnect-share', '0.02', '--match-share', '0.01', '--seed', '7',
    '--worker-nice', String(SIM_NICE), ...(SIM_IDLE ? ['--worker-idle'] : []), '--json'];
  // Asynchronous, so the sampler above keeps ticking while the simulation runs.
  // The simulator stands in for 10,000 other machines; here it shares the collector's 2 cores, its workers yielding to it (SIM_NICE, SIM_IDLE).
  const simRun = promisify(execFile)(process.execPath, simArgs, { encoding: 'utf8', maxBuffer: 1e8, timeout: (QUICK ? 600 : 7200) * 1000 });
  simRun.child.stderr.pipe(process.stderr);
  const simOut = (await simRun.catch((err) => ({ stdout: err.stdout ?? '' }))).stdout;
  clearInterval(sampler); clearInterval(memSampler);
  await scrapeNow();
  const sim = JSON.parse(simOut.trim().split('\n').pop());
  // The simulator's whole run (its workers included, all reaped): this process's children's CPU, from /proc.
  const simCpuS = childCpuSeconds();
  const ph = Object.fromEntries(sim.phases.map((p) => [p.phase, p]));
  const within = (p) => samples.filter((s) => s.t >= p.start && s.t <= p.end);
  const peakRss = Math.max(base.rss, ...samples.map((s) => s.rss));
  const memAtPeak = scrapes.map((k) => k.memory).reduce((best, k) => (best === null || (k.rss ?? 0) > (best.rss ?? 0) ? k : best), null);
  // The collector's event loop, per phase: the worst 5-second p99 and the longest single delay, ms.
  // A scrape counts for the phase its window is mostly in: the window straddling a phase's end told
  // the next phase's stalls as this one's (agents all closing at once showed up as a 1.9 s stall in churn).
  const loopOf = (p) => { const w = scrapes.filter((k) => (k.from + k.t) / 2 >= p.start && (k.from + k.t) / 2 < p.end && k.loop['0.99'] !== undefined); return w.length ? { p99: Math.max(...w.map((k) => k.loop['0.99'])), max: Math.max(...w.map((k) => k.loop['1'])) } : null; };
  // Server-side API p99 per phase and route: the bucket counts between the scrapes around the phase; the bucket's
  // upper bound (ms) that holds 99 % of the phase's requests. Beside the client's p99 it tells how much of the
  // latency is the collector's own handling and how much waiting before it (network, the main thread's backlog).
  const bound = (l) => (l === '+Inf' ? Infinity : Number(l));
  const p99Of = (before, after) => {
    const les = Object.keys(after).sort((a, b) => bound(a) - bound(b)), total = (after['+Inf'] ?? 0) - (before['+Inf'] ?? 0);
    if (total <= 0) return null;
    const le = les.find((l) => (after[l] ?? 0) - (before[l] ?? 0) >= 0.99 * total);
    return { requests: total, p99_at_most_ms: le === '+Inf' ? null : round(Number(le) * 1000) };
  };
  const apiServerOf = (p) => {
    const before = scrapes.filter((k) => k.t <= p.start).pop(), after = scrapes.find((k) => k.t >= p.end);
    if (!before || !after) return null;
    const sum = (api) => { const s = {}; for (const b of Object.values(api)) for (const [le, n] of Object.entries(b)) s[le] = (s[le] ?? 0) + n; return s; };
    const byRoute = Object.fromEntries([...LOADED_ROUTES.values()].map((name) => [name, p99Of(before.api[name] ?? {}, after.api[name] ?? {})]));
    const reads = Object.fromEntries(Object.keys(after.reads ?? {}).filter((k) => !k.startsWith('gauges')).sort()
      .map((k) => [k, p99Of(before.reads?.[k] ?? {}, after.reads[k])]).filter(([, v]) => v));
    const shared = Object.fromEntries(Object.entries(after.shared ?? {}).map(([op, n]) => [op, n - (before.shared?.[op] ?? 0)]));
    return { ...p99Of(sum(before.api), sum(after.api)), by_route: byRoute, reader_threads: reads, reads_shared: shared };
  };
  // Idle connections: RSS at the end of the hold (every agent connected, nothing sent yet) minus before.
  const holdRss = within(ph.hold).map((s) => s.rss);
  const idleRss = holdRss.length ? median(holdRss.slice(-4)) : peakRss;
  const cpuOf = (p) => { const w = within(p); return w.length > 1 ? round((w[w.length - 1].cpu - w[0].cpu) / ((w[w.length - 1].t - w[0].t) / 1000), 2) : null; };
  const apiP99 = Math.max(0, ...sim.phases.flatMap((p) => (p.api ?? []).map((a) => a.p99)));
  const apiErrors = sim.phases.flatMap((p) => p.api ?? []).reduce((n, a) => n + a.errors + a.non2xx, 0);
  // Each API connection's first response includes its TCP connect and TLS handshake: reported apart, not in the p99.
  const firsts = sim.phases.flatMap((p) => (p.api ?? []).map((a) => a.first_on_connection ?? { requests: 0, max: 0 }));
  const apiFirstOnConnection = { requests: firsts.reduce((n, f) => n + f.requests, 0), max_ms: Math.max(0, ...firsts.filter((f) => f.requests).map((f) => f.max)) };
  await stopCollector();

  // Storage ceiling: the same rows (items, item keys, host pairs) in a fresh database, one process.
  const rawRuns = [];
  for (let i = 0; i < RAW_REPS; i++) {
    const out = execFileSync(process.execPath, [SELF, '--raw-insert', String(AGENTS), String(ITEMS), path.join(dir, `raw-${i}.db`)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1e8 });
    rawRuns.push(JSON.parse(out.trim().split('\n').pop()));
    rmSync(path.join(dir, `raw-${i}.db`), { force: true }); rmSync(path.join(dir, `raw-${i}.db-wal`), { force: true });
  }
  const rawRate = Math.round(median(rawRuns.map((r) => r.items_per_s)));

  const c = sim.counts;
  const m = {
    agents: AGENTS, items_per_host: ITEMS, total_items: AGENTS * ITEMS,
    enroll_per_s: ph.enroll?.enroll_per_s ?? 0, connected: ph.connect?.connected ?? 0, connect_s: ph.connect?.seconds,
    rss_before_mb: round(base.rss / 1e6), rss_idle_fleet_mb: round(idleRss / 1e6), rss_peak_mb: round(peakRss / 1e6),
    kb_per_idle_connection: round((idleRss - base.rss) / 1024 / Math.max(1, ph.connect?.connected ?? 1)),
    // The /metrics sample (every 5 s) with the highest RSS: how that RSS splits, MB.
    memory_at_peak_mb: memAtPeak,
    sim_cpu_s: simCpuS, sim_nice: Math.min(...sim.worker_nice), sim_sched: [...new Set(sim.worker_sched)].join(','), api_client_nice: os.getPriority(),
    sync_s: ph.sync?.seconds, sync_items_per_s: ph.sync?.items_per_s ?? 0, sync_ack_ms: ph.sync?.ack_ms, sync_collector_cpu_cores: cpuOf(ph.sync),
    // What the collector itself spends: the sync rate per core it used (the rest went to the simulator).
    sync_items_per_collector_cpu_s: cpuOf(ph.sync) ? Math.round((ph.sync?.items_per_s ?? 0) / cpuOf(ph.sync)) : null,
    storm_s: ph.storm ? round((ph.storm.end - ph.storm.start) / 1000, 2) : null, storm_ack_ms: ph.storm?.ack_ms, storm_collector_cpu_cores: cpuOf(ph.storm),
    churn_reconnects: ph.churn?.reconnects ?? 0, churn_resent: ph.churn?.resent ?? 0, churn_settled_by_welcome: ph.churn?.settled_by_welcome ?? 0,
    api_p99_ms: apiP99, api_errors: apiErrors, api_first_on_connection: apiFirstOnConnection, api_by_phase: Object.fromEntries(sim.phases.filter((p) => p.api).map((p) => [p.phase, Object.fromEntries(p.api.map((a) => [a.name, a.p99]))])),
    api_server_by_phase: Object.fromEntries(sim.phases.filter((p) => p.api?.length).map((p) => [p.phase, apiServerOf(p)])),
    event_loop_ms_by_phase: Object.fromEntries(sim.phases.filter((p) => p.api || p.phase === 'close').map((p) => [p.phase, loopOf(p)])),
    frames_sent: c.frames_sent, frames_acked: c.frames_acked, frames_settled_by_welcome: c.settled_by_welcome, replays_acked_unapplied: c.duplicates_acked,
    hosts_count_mismatched: c.hosts_mismatched, stored_keys: c.stored_keys, expected_keys: c.expected_keys, stored_rows: c.stored_rows,
    alerts_planted: sim.alerts.planted, alerts_raised: sim.alerts.raised,
    raw_sqlite_items_per_s: rawRate, raw_sqlite_runs_items_per_s: rawRuns.map((r) => r.items_per_s),
    ingest_share_of_raw_ceiling: round((ph.sync?.items_per_s ?? 0) / Math.max(1, rawRate), 3),
    sim_errors: Object.assign({}, ...sim.phases.map((p) => p.errors ?? {})),
  };
  const full = !QUICK && AGENTS >= 10_000 && ITEMS >= 3000;
  // Speed targets are set for 10,000 agents x 3,000 items: a quick run (300 x 1,000) cannot reach them and is judged by its counts alone.
  const speed = (target) => (full ? target : `${target} (full run only)`);
  const targets = {
    connected: `== ${AGENTS}`, rss_peak_mb: speed('<= 1500 (10,000 agents)'), sync_items_per_s: speed('>= 100000'), storm_s: speed('<= 10'), api_p99_ms: speed('< 100'),
    hosts_count_mismatched: '== 0', frames_acked: '== frames_sent - frames_settled_by_welcome', alerts_raised: '== alerts_planted',
  };
  const counted = m.hosts_count_mismatched === 0 && c.frames_sent === c.frames_acked + c.settled_by_welcome && sim.alerts.raised === sim.alerts.planted && m.connected === AGENTS && sim.ok;
  const perf = m.rss_peak_mb <= 1500 && m.sync_items_per_s >= 100_000 && m.storm_s !== null && m.storm_s <= 10 && apiP99 < 100;
  const reproduce = `npm run bench -- fleet${QUICK ? ' --quick' : ''}`;
  report('fleet', m, targets, counted && (perf || !full), {
    notes: `${full ? 'Full' : 'Quick'} sizes (${AGENTS} agents × ${ITEMS} items); collector and simulator share this machine's ${os.availableParallelism()} CPUs. Counting checks always apply; performance targets are those of the full run.`,
    compare: [{ what: 'initial sync items/s: end to end over TLS vs raw better-sqlite3 inserts of the same rows', ours: m.sync_items_per_s, baseline: rawRate, label: 'ceiling', lowerIsBetter: false }],
    reproduce,
  });
} finally {
  await stopCollector();
  rmSync(dir, { recursive: true, force: true });
}
