// Runs the agent's files source once in a fresh process and prints one JSON line of figures:
// wall time, CPU seconds (all threads), peak RSS (process-wide, workers included), counters.
// A child process per measurement keeps one run's heap and page faults out of the next's.
// argv[2]: JSON { root, list (file of NUL-separated system paths), options, timeoutMs }.
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { applyAgentV8Flags } from '../../packages/agent/dist/gc-tuning.js';
import { OwnedFiles } from '../../packages/agent/dist/owned-files.js';
import { createScanContext } from '../../packages/agent/dist/scan-context.js';
import { newFileCounters, scanFiles } from '../../packages/agent/dist/sources/files.js';

applyAgentV8Flags(); // as the agent's main.ts does at start
const cfg = JSON.parse(process.argv[2]);
// The agent's own owned-file store, as dpkg fills it in a scan (a Map would add its own ~15 MB).
const owned = new OwnedFiles();
for (const p of readFileSync(cfg.list, 'latin1').split('\0')) if (p) owned.add(p, 'bench:owned');
const stats = newFileCounters();
const signal = cfg.timeoutMs ? AbortSignal.timeout(cfg.timeoutMs) : undefined;
const ctx = createScanContext({ root: cfg.root, log: pino({ level: 'warn' }, process.stderr), owned, stats, signal, options: cfg.options });
const rssBefore = process.memoryUsage.rss();
const c0 = process.cpuUsage();
const t0 = performance.now();
let items = 0, errors = 0;
for await (const it of scanFiles(ctx)) { items++; if (it.kind === 'error') errors++; }
const wall = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(c0);
console.log(JSON.stringify({
  wallS: wall, cpuS: (cpu.user + cpu.system) / 1e6, peakRssMb: process.resourceUsage().maxRSS / 1024,
  rssBeforeScanMb: rssBefore / 1e6, items, errors, ...stats, aborted: ctx.signal.aborted,
}));
