/**
 * The collector's core, without HTTP: stores, the live matcher, ingest of agent batches and
 * the indicator pipeline (parse → normalise → upsert → matcher → retro-hunt job).
 * Both the Fastify app and the CLI (pushing straight into a database file) use it.
 */
import { Worker } from 'node:worker_threads';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { InventoryFrame, PushResult } from '@chainwatch/shared';
import { openDb, type DB } from './store/db.js';
import { InventoryStore, type BatchResult } from './store/inventory.js';
import { IndicatorStore } from './store/indicators.js';
import { RetroHunter, type RetroResult } from './store/retro.js';
import { JobStore } from './store/jobs.js';
import { audit } from './store/auth.js';
import { compile, type Matcher } from './match/engine.js';
import { normalizeIndicator, type StoredIndicator } from './match/indicator.js';
import { parseIndicators, type FeedFormat } from './feeds/detect.js';
import { Errors } from './errors.js';
import { metrics } from './metrics.js';

export interface PushOptions { feed?: string | undefined; format?: FeedFormat | undefined; replace?: boolean | undefined; actor: string; wait?: boolean | undefined }

const RETRO_SLICE = 2000;
/** Indicators per join in the worker: bounds the hit list held in memory per step. */
const RETRO_CHUNK = 20_000;

/** The worker entry beside this file: .ts when run from source (tests), .js when built. */
const RETRO_WORKER = new URL(`./store/retro-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

/** Indicator feeds shipped with the collector (packages/collector/indicators), loaded at every start. */
const BUNDLED_FEEDS = [new URL('../indicators/3cx-xtrader.json', import.meta.url)];

export interface ServiceOptions { /** default true: load the bundled feeds (3CX / X_TRADER) */ bundled?: boolean }

export interface MaintenanceOptions { retentionDays?: number | undefined; intervalMs?: number | undefined }

export class CollectorService {
  readonly inventory: InventoryStore;
  readonly indicators: IndicatorStore;
  readonly retro: RetroHunter;
  readonly jobs: JobStore;
  matcher: Matcher;
  private readonly workers = new Set<Worker>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly hunts = new Set<Promise<RetroResult>>();
  private stopping = false;

  constructor(readonly db: DB, readonly log: Logger, opts: ServiceOptions = {}) {
    this.inventory = new InventoryStore(db);
    this.indicators = new IndicatorStore(db);
    this.retro = new RetroHunter(db);
    this.jobs = new JobStore(db);
    this.indicators.ensureBuiltins();
    this.jobs.failInterrupted();
    this.matcher = this.indicators.loadMatcher();
    if (opts.bundled !== false) this.loadBundled();
  }

  static open(file: string, log: Logger, opts: ServiceOptions = {}): CollectorService { return new CollectorService(openDb(file), log, opts); }

  /**
   * Keeps the bundled feeds current: each is a whole-feed replace (unchanged indicators cost a
   * lookup; a newer collector's edits retire what it dropped). The store part runs now; only a
   * retro-hunt for changes continues in the background.
   */
  private loadBundled(): void {
    for (const url of BUNDLED_FEEDS) {
      const file = fileURLToPath(url);
      if (!existsSync(file)) continue; // single-executable builds may ship without the folder
      this.pushDocument(readFileSync(file, 'utf8'), { replace: true, actor: 'system:bundled' })
        .catch((err: unknown) => this.log.error({ err, file }, 'bundled feed failed to load'));
    }
  }

  ingest(hostId: string, frame: InventoryFrame): BatchResult {
    return this.inventory.apply(hostId, frame, this.matcher);
  }

  /**
   * Parses a document in any supported format, normalises, stores, updates the matcher, and
   * starts a retro-hunt over stored inventory for what changed. With `wait`, the hunt runs to
   * completion before returning (CLI); otherwise it runs as a background job.
   */
  async pushDocument(text: string, opts: PushOptions): Promise<PushResult> {
    const parsed = parseIndicators(text, opts.format);
    return this.pushParsed(parsed.indicators, parsed.rejected, { ...opts, feed: opts.feed ?? parsed.feed });
  }

  async pushParsed(inputs: Parameters<typeof normalizeIndicator>[0][], rejected: Array<{ index: number; id?: string | undefined; reason: string }>, opts: PushOptions): Promise<PushResult> {
    const feed = opts.feed ?? 'default';
    const ok: StoredIndicator[] = [];
    const rejections = rejected.map((r) => ({ index: r.index, ...(r.id ? { id: r.id } : {}), reason: r.reason }));
    inputs.forEach((input, index) => {
      const r = normalizeIndicator(input, feed);
      if (r.ok) ok.push(r.indicator); else rejections.push({ index, ...(input.id ? { id: input.id } : {}), reason: r.reason });
    });
    if (ok.length === 0 && rejections.length > 0 && !opts.replace) {
      return { added: 0, updated: 0, unchanged: 0, rejected: rejections.length, rejections, job: null };
    }
    const res = this.indicators.upsert(ok, opts.replace ? feed : undefined);
    this.refreshMatcher(res.changed, opts.replace ? feed : undefined);
    audit(this.db, opts.actor, opts.replace ? 'feed.replace' : 'indicators.push', feed, { added: res.added, updated: res.updated, retired: res.retired });
    let job: string | null = null;
    if (res.changed.length && this.inventory.hasItems()) {
      job = this.jobs.create('retro-hunt');
      const run = this.runRetroHunt(job, res.changed);
      this.hunts.add(run);
      void run.finally(() => this.hunts.delete(run));
      if (opts.wait) await run; else void run;
    }
    return { added: res.added, updated: res.updated, unchanged: res.unchanged, rejected: rejections.length, retired: res.retired, rejections, job };
  }

  private refreshMatcher(changed: StoredIndicator[], replacedFeed?: string): void {
    this.inventory.matcherChanged(); // cached match results are stale once indicators change
    if (replacedFeed !== undefined) { this.matcher = this.indicators.loadMatcher(); return; }
    for (const ind of changed) this.matcher.add(compile(ind));
  }

  /**
   * Runs a retro-hunt job: in a worker thread on its own connection when the database is a
   * file (the API keeps answering while it joins), in slices between event-loop turns for
   * ':memory:' databases (tests, one connection only).
   */
  async runRetroHunt(jobId: string, indicators: StoredIndicator[]): Promise<RetroResult> {
    const started = Date.now();
    try {
      const total = this.db.memory ? await this.huntInSlices(jobId, indicators) : await this.huntInWorker(jobId, indicators);
      this.jobs.finish(jobId, 'done', { ...total, ms: Date.now() - started });
      metrics.retroHuntDone((Date.now() - started) / 1000, total.alerts);
      this.log.info({ job: jobId, ...total, ms: Date.now() - started }, 'retro-hunt done');
      return total;
    } catch (err) {
      // Stopping mid-hunt: the job stays 'running' and failInterrupted() marks it at next start.
      if (this.db.open) this.jobs.finish(jobId, 'failed', { error: (err as Error).message });
      this.log.error({ err, job: jobId }, 'retro-hunt failed');
      return { indicators: 0, candidates: 0, alerts: 0 };
    }
  }

  private async huntInSlices(jobId: string, indicators: StoredIndicator[]): Promise<RetroResult> {
    const total: RetroResult = { indicators: 0, candidates: 0, alerts: 0 };
    for (let i = 0; i < indicators.length; i += RETRO_SLICE) {
      if (this.stopping) throw new Errors.CW_STORE_FAILED('collector stopping');
      const r = this.retro.hunt(indicators.slice(i, i + RETRO_SLICE));
      total.indicators += r.indicators; total.candidates += r.candidates; total.alerts += r.alerts;
      this.jobs.progress(jobId, (i + RETRO_SLICE) / indicators.length);
      await new Promise((res) => setImmediate(res));
    }
    return total;
  }

  private huntInWorker(jobId: string, indicators: StoredIndicator[]): Promise<RetroResult> {
    return new Promise((resolve, reject) => {
      const w = new Worker(RETRO_WORKER, { workerData: { file: this.db.name, indicators, chunk: RETRO_CHUNK } });
      this.workers.add(w);
      let settled = false;
      w.on('message', (m: { progress?: number; done?: RetroResult; error?: string }) => {
        if (m.progress !== undefined) this.jobs.progress(jobId, m.progress);
        if (m.done) { settled = true; resolve(m.done); }
        if (m.error) { settled = true; reject(new Errors.CW_STORE_FAILED(m.error)); }
      });
      w.on('error', (err) => { settled = true; reject(err); });
      w.on('exit', (code) => { this.workers.delete(w); if (!settled) reject(new Errors.CW_STORE_FAILED(`retro-hunt worker exited ${code}`)); });
    });
  }

  /** Prunes inventory history periodically (see InventoryStore.prune); idempotent, timers unref'd. */
  startMaintenance(opts: MaintenanceOptions): void {
    if (!opts.retentionDays) return;
    const days = opts.retentionDays;
    const run = (): void => {
      try {
        const r = this.inventory.prune(new Date(Date.now() - days * 86_400_000));
        if (r.hostItems || r.items) this.log.info({ ...r, retention_days: days }, 'inventory history pruned');
      } catch (err) { this.log.error({ err }, 'inventory prune failed'); }
    };
    run();
    this.timers.push(setInterval(run, opts.intervalMs ?? 3_600_000).unref());
  }

  /** Waits for running hunts to stop (workers terminated) and stops timers. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
    await Promise.all([...this.workers].map((w) => w.terminate()));
    await Promise.allSettled([...this.hunts]);
  }

  close(): void {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    for (const w of this.workers) void w.terminate();
    this.db.close();
  }
}
