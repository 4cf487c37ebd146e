/**
 * The parent process: forks the workers, splits the fleet between them, drives the phases in
 * order (each waits for every worker), loads the API while traffic flows, then counts what the
 * collector stored and alerted against what the workers sent and planted.
 */
import { fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { loadCatalog } from './catalog.js';
import { FleetModel } from './fleet-data.js';
import { Histogram } from './histogram.js';
import { endpoint, requestJson } from './http.js';
import { startApiLoad, type ApiLatency, type RunningLoad } from './api-load.js';
import { mergeStats, type PhaseStats } from './stats.js';
import { countAlerts, storedCountsFromApi, storedCountsFromDb, type StoredCount } from './verify.js';
import type { SimOptions } from './args.js';
import { policyOf, setIdle } from './sched.js';
import type { HostReport, Phase, WorkerConfig, WorkerMessage } from './worker.js';

const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url));
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

export interface PhaseReport {
  phase: string; start: number; end: number; seconds: number;
  enrolled?: number; enroll_per_s?: number; connected?: number;
  frames_sent?: number; frames_acked?: number; items_acked?: number; items_per_s?: number; mb_sent?: number;
  duplicates_acked?: number; settled_by_welcome?: number; resent?: number; reconnects?: number; heartbeats?: number;
  ack_ms?: { p50: number; p95: number; p99: number; max: number };
  errors?: Record<string, number>; api?: ApiLatency[];
}

export interface SimReport {
  run_tag: string; feed: string; agents: number; items: number; workers: number; deflate: boolean;
  /** Each worker's nice value, read back from the OS after --worker-nice. */
  worker_nice: number[];
  /** Each worker's scheduling policy (its threads'), read back from the OS after --worker-idle. */
  worker_sched: string[];
  phases: PhaseReport[];
  counts: {
    frames_sent: number; frames_acked: number; settled_by_welcome: number; duplicates_acked: number;
    basis: 'db' | 'api' | 'none'; hosts_checked: number; hosts_mismatched: number; mismatch_examples: Array<{ host_id: string; expected: number; stored: number; rows: number }>;
    expected_keys: number; stored_keys: number; stored_rows: number;
  };
  alerts: { planted: number; raised: number | null };
  ok: boolean;
}

class Pool {
  private readonly procs: ChildProcess[] = [];

  /** Nice value of each worker, as the OS reports it. */
  niceness(): number[] { return this.procs.map((p) => os.getPriority(p.pid!)); }
  /** Scheduling policy of each worker's threads, as the OS reports it. */
  policies(): string[] { return this.procs.map((p) => policyOf(p.pid!)); }

  async start(configs: WorkerConfig[], nice: number, idle: boolean): Promise<void> {
    for (const config of configs) {
      const p = fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
      this.procs.push(p);
      // Raising a nice value needs no privilege; the worker's agents take what CPU the collector and the API client leave.
      if (nice) os.setPriority(p.pid!, nice);
      if (idle) setIdle(p.pid!);
      await new Promise<void>((resolve, reject) => {
        p.once('message', () => resolve());
        p.once('exit', (code) => reject(new Error(`worker exited ${code} during start`)));
        p.send({ type: 'init', config });
      });
      // Again once it is up: threads its runtime started before the first call, too.
      if (idle) setIdle(p.pid!);
    }
  }

  run(phase: Phase, timeoutS: number): Promise<Array<Extract<WorkerMessage, { type: 'done' }>>> {
    return Promise.all(this.procs.map((p) => new Promise<Extract<WorkerMessage, { type: 'done' }>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`phase ${phase.phase} timed out after ${timeoutS} s`)), timeoutS * 1000);
      const onExit = (code: number | null) => { clearTimeout(timer); reject(new Error(`worker exited ${code} in phase ${phase.phase}`)); };
      p.once('exit', onExit);
      p.once('message', (m: WorkerMessage) => {
        clearTimeout(timer); p.off('exit', onExit);
        if (m.type === 'failed') reject(new Error(`worker failed in ${m.phase}: ${m.error}`)); else resolve(m);
      });
      p.send({ type: 'phase', phase });
    })));
  }

  stop(): void { for (const p of this.procs) if (p.exitCode === null) p.kill('SIGTERM'); }
}

function phaseReport(name: string, start: number, end: number, s: PhaseStats, api?: ApiLatency[]): PhaseReport {
  const r: PhaseReport = { phase: name, start, end, seconds: round((end - start) / 1000, 2) };
  if (s.enrolled) { r.enrolled = s.enrolled; r.enroll_per_s = Math.round(s.enrolled / Math.max(0.001, (end - start) / 1000)); }
  if (s.connected) r.connected = s.connected;
  if (s.framesSent || s.framesAcked) {
    const h = new Histogram(); h.merge(s.ackLatency);
    const wire = Math.max(1, s.lastAck - s.firstSend) / 1000;
    Object.assign(r, {
      frames_sent: s.framesSent, frames_acked: s.framesAcked, items_acked: s.itemsAcked, items_per_s: Math.round(s.itemsAcked / wire), mb_sent: round(s.bytesSent / 1e6),
      duplicates_acked: s.duplicatesAcked, settled_by_welcome: s.settledByWelcome, resent: s.resent, reconnects: s.reconnects,
      ack_ms: { p50: round(h.quantile(0.5), 2), p95: round(h.quantile(0.95), 2), p99: round(h.quantile(0.99), 2), max: round(h.max, 2) },
    });
  }
  if (s.heartbeats) r.heartbeats = s.heartbeats;
  if (Object.keys(s.errors).length) r.errors = s.errors;
  if (api) r.api = api;
  return r;
}

export async function runSimulation(o: SimOptions, log: (msg: string) => void): Promise<SimReport> {
  const spec = { seed: o.seed, items: o.items, matchShare: o.matchShare, runTag: o.runTag };
  const model = new FleetModel(loadCatalog(o.dpkgStatus, o.dpkgInfo, Math.max(o.items * 2, 5000)), spec);
  const ep = endpoint(o.url, readFileSync(o.ca, 'utf8'));
  if (o.adminToken) {
    const r = await requestJson(ep, 'POST', `/api/v1/indicators?feed=${model.feed}`, { feed: model.feed, indicators: model.indicators() }, o.adminToken);
    if (r.status !== 200) throw new Error(`pushing the fleetsim feed: HTTP ${r.status} ${JSON.stringify(r.json).slice(0, 300)}`);
  }
  const per = Math.ceil(o.agents / o.workers);
  const configs: WorkerConfig[] = [];
  for (let w = 0, first = 0; first < o.agents; w++, first += per) {
    configs.push({
      url: o.url, caFile: o.ca, enrollSecret: o.enrollSecret, spec, dpkgStatus: o.dpkgStatus, dpkgInfo: o.dpkgInfo, first, count: Math.min(per, o.agents - first),
      deflate: o.deflate, window: o.window, inflightBytes: o.inflightBytes, connectConcurrency: o.connectConcurrency, enrollConcurrency: o.enrollConcurrency,
    });
  }
  const pool = new Pool();
  const phases: PhaseReport[] = [];
  const totals: PhaseStats[] = [];
  const planted = configs.reduce((n, c) => { for (let h = c.first; h < c.first + c.count; h++) if (model.planted(h)) n++; return n; }, 0);
  const api = o.adminToken && o.apiRate > 0 ? {
    token: o.adminToken,
    targets: [
      { name: 'alerts', path: '/api/v1/alerts?limit=50' },
      { name: 'search_files', path: `/api/v1/search/files?sha256=${model.indicators()[0]!.value}&limit=100` },
      { name: 'search_software', path: `/api/v1/search/software?name=${encodeURIComponent(model.commonPackage())}&limit=100` },
    ],
  } : null;
  let load = null as RunningLoad | null;
  try {
    await pool.start(configs, o.workerNice, o.workerIdle);
    const workerNice = pool.niceness(), workerSched = pool.policies();
    // One API load from the hold (or the sync) to the end of the churn, split by phase: its connections open once.
    const apiLoad = (): RunningLoad | null => (api ? load ??= startApiLoad(o.url, api.token, api.targets, o.apiRate) : null);
    const step = async (phase: Phase, label = phase.phase, withApi = false) => {
      log(`phase ${label}…`);
      const phaseLoad = withApi ? apiLoad() : null;
      const start = Date.now();
      const res = await pool.run(phase, o.phaseTimeout);
      const end = Date.now();
      const s = mergeStats(res.map((r) => r.stats));
      totals.push(s);
      const rep = phaseReport(label, start, end, s, phaseLoad?.take());
      phases.push(rep);
      log(`phase ${label}: ${rep.seconds} s${rep.items_per_s ? `, ${rep.items_per_s} items/s, ack p99 ${rep.ack_ms!.p99} ms` : ''}`);
      return res;
    };
    await step({ phase: 'enroll' });
    await step({ phase: 'connect' });
    if (o.hold > 0) {
      log('phase hold…');
      const holdLoad = apiLoad();
      const start = Date.now();
      await new Promise((r) => setTimeout(r, o.hold * 1000));
      phases.push({ phase: 'hold', start, end: Date.now(), seconds: o.hold, ...(holdLoad ? { api: holdLoad.take() } : {}) });
    }
    await step({ phase: 'sync' }, 'sync', true);
    if (o.storm > 0) {
      // Untimed: the deltas are made before the storm's clock starts (worker.ts, storm-prepare).
      await pool.run({ phase: 'storm-prepare', changes: o.storm }, o.phaseTimeout);
      await step({ phase: 'storm', changes: o.storm }, 'storm', true);
    }
    if (o.duration > 0) await step({ phase: 'churn', durationS: o.duration, intervalS: o.deltaInterval, changes: Math.max(1, Math.round(o.items * o.churn)), reconnectShare: o.reconnectShare }, 'churn', true);
    if (load) { await load.stop(); load = null; }
    const hosts = (await pool.run({ phase: 'report' }, o.phaseTimeout)).flatMap((r) => r.hosts ?? []);
    await step({ phase: 'close' });
    const all = mergeStats(totals);
    const counts = await countStored(o, ep, hosts);
    const raised = o.adminToken ? await countAlerts(ep, o.adminToken, model.feed) : null;
    const counted = {
      frames_sent: all.framesSent, frames_acked: all.framesAcked, settled_by_welcome: all.settledByWelcome, duplicates_acked: all.duplicatesAcked, ...counts,
    };
    const everyFrame = all.framesSent === all.framesAcked + all.settledByWelcome && hosts.every((h) => h.ackedSeq === h.seq);
    const ok = everyFrame && all.enrolled === o.agents && counts.hosts_mismatched === 0 && (counts.basis === 'none' || counts.hosts_checked === o.agents)
      && (raised === null || raised === planted);
    return { run_tag: o.runTag, feed: model.feed, agents: o.agents, items: o.items, workers: configs.length, deflate: o.deflate, worker_nice: workerNice, worker_sched: workerSched, phases, counts: counted, alerts: { planted, raised }, ok };
  } finally {
    if (load) await load.stop();
    pool.stop();
    ep.agent.destroy();
  }
}

/** Stored current items per host against what each host was sent (by key; rows reported beside). */
async function countStored(o: SimOptions, ep: ReturnType<typeof endpoint>, hosts: HostReport[]): Promise<Omit<SimReport['counts'], 'frames_sent' | 'frames_acked' | 'settled_by_welcome' | 'duplicates_acked'>> {
  let stored: Map<string, StoredCount> | null = null, basis: 'db' | 'api' | 'none' = 'none';
  if (o.db) { stored = await storedCountsFromDb(o.db); basis = 'db'; }
  else if (o.adminToken) { stored = await storedCountsFromApi(ep, o.adminToken); basis = 'api'; }
  let checked = 0, mismatched = 0, expectedKeys = 0, storedKeys = 0, storedRows = 0;
  const examples: Array<{ host_id: string; expected: number; stored: number; rows: number }> = [];
  for (const h of hosts) {
    expectedKeys += h.expectedKeys;
    if (!stored) continue;
    const s = stored.get(h.hostId) ?? { keys: 0, pairs: 0 };
    checked++; storedKeys += s.keys; storedRows += s.pairs;
    // A key held twice (an older version left current next to the new one) is a duplicate.
    if (s.keys !== h.expectedKeys || s.pairs !== s.keys) { mismatched++; if (examples.length < 5) examples.push({ host_id: h.hostId, expected: h.expectedKeys, stored: s.keys, rows: s.pairs }); }
  }
  return { basis, hosts_checked: checked, hosts_mismatched: mismatched, mismatch_examples: examples, expected_keys: expectedKeys, stored_keys: storedKeys, stored_rows: storedRows };
}
