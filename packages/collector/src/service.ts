/**
 * The collector's core, without HTTP: stores, the live matcher, ingest of agent batches and
 * the indicator pipeline (parse → normalise → upsert → matcher → retro-hunt job).
 * Both the Fastify app and the CLI (pushing straight into a database file) use it.
 */
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

export interface PushOptions { feed?: string | undefined; format?: FeedFormat | undefined; replace?: boolean | undefined; actor: string; wait?: boolean | undefined }

const RETRO_SLICE = 2000;

export class CollectorService {
  readonly inventory: InventoryStore;
  readonly indicators: IndicatorStore;
  readonly retro: RetroHunter;
  readonly jobs: JobStore;
  matcher: Matcher;

  constructor(readonly db: DB, readonly log: Logger) {
    this.inventory = new InventoryStore(db);
    this.indicators = new IndicatorStore(db);
    this.retro = new RetroHunter(db);
    this.jobs = new JobStore(db);
    this.indicators.ensureBuiltins();
    this.jobs.failInterrupted();
    this.matcher = this.indicators.loadMatcher();
  }

  static open(file: string, log: Logger): CollectorService { return new CollectorService(openDb(file), log); }

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
    if (res.changed.length) {
      job = this.jobs.create('retro-hunt');
      const run = this.runRetroHunt(job, res.changed);
      if (opts.wait) await run; else void run;
    }
    return { added: res.added, updated: res.updated, unchanged: res.unchanged, rejected: rejections.length, retired: res.retired, rejections, job };
  }

  private refreshMatcher(changed: StoredIndicator[], replacedFeed?: string): void {
    if (replacedFeed !== undefined) { this.matcher = this.indicators.loadMatcher(); return; }
    for (const ind of changed) this.matcher.add(compile(ind));
  }

  /** Retro-hunt in slices, yielding to the event loop between them. */
  async runRetroHunt(jobId: string, indicators: StoredIndicator[]): Promise<RetroResult> {
    const started = Date.now();
    const total: RetroResult = { indicators: 0, candidates: 0, alerts: 0 };
    try {
      for (let i = 0; i < indicators.length; i += RETRO_SLICE) {
        const r = this.retro.hunt(indicators.slice(i, i + RETRO_SLICE));
        total.indicators += r.indicators; total.candidates += r.candidates; total.alerts += r.alerts;
        this.jobs.progress(jobId, (i + RETRO_SLICE) / indicators.length);
        await new Promise((res) => setImmediate(res));
      }
      this.jobs.finish(jobId, 'done', { ...total, ms: Date.now() - started });
      this.log.info({ job: jobId, ...total, ms: Date.now() - started }, 'retro-hunt done');
    } catch (err) {
      this.jobs.finish(jobId, 'failed', { error: (err as Error).message });
      this.log.error({ err, job: jobId }, 'retro-hunt failed');
    }
    return total;
  }

  close(): void { this.db.close(); }
}
