/**
 * TAXII 2.1 pull: named sources (taxii_sources, migrations 2 and 5) polled on their interval by
 * the running collector. One poll is GET {url}/collections/{id}/objects/?added_after=CURSOR with
 * `Accept: application/taxii+json;version=2.1`, following the envelope's `more`/`next` paging;
 * the objects go through the STIX parser (feeds/stix.ts) and the service's push pipeline into
 * feed N (so the live matcher and a retro-hunt see them), and only then does the cursor move
 * to the last X-TAXII-Date-Added-Last (or the largest object date_added). A failed poll keeps
 * the cursor, is logged as CW_TAXII_FAILED and retried with backoff.
 *
 * Where from: OASIS TAXII 2.1 CS01 §3.4 (pagination: more/next, added_after, the
 * X-TAXII-Date-Added-First/Last headers), §5.4 (Get Objects). Credentials are stored in the
 * database (whoever reads the file holds them anyway) and never logged or listed.
 */
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { DB } from '../store/db.js';
import { nowIso } from '../store/db.js';
import type { CollectorService } from '../service.js';
import { parseStix } from './stix.js';
import { Errors } from '../errors.js';

export const TAXII_ACCEPT = 'application/taxii+json;version=2.1';
const MAX_BYTES = 32 * 1024 * 1024;
const TIMEOUT_MS = 60_000;
const MAX_PAGES = 1000;
/** Backoff after failures: the next interval, then interval × 2^(failures-1), capped at this factor and at six hours. */
const MAX_BACKOFF_FACTOR = 16;
const MAX_BACKOFF_S = 6 * 3600;

export type TaxiiAuth = { token: string } | { user: string; password: string };

export interface TaxiiSource {
  name: string; url: string; collection: string; auth: TaxiiAuth | null; interval_s: number;
  added_after: string | null; last_poll: string | null; last_error: string | null; ca_file: string | null;
}

/** A response as the client needs it: status, lower-case headers, body text. */
export interface HttpResponse { status: number; headers: Record<string, string | string[] | undefined>; body: string }
export type HttpGet = (url: URL, headers: Record<string, string>, ca: string | undefined) => Promise<HttpResponse>;

/** GET over node:http(s), bounded in size and time; the default transport. */
export const httpGet: HttpGet = (url, headers, ca) => new Promise((resolve, reject) => {
  const lib = url.protocol === 'https:' ? https : http;
  const req = lib.get(url, { headers, timeout: TIMEOUT_MS, ...(ca ? { ca } : {}) }, (res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BYTES) { req.destroy(new Error(`response larger than ${MAX_BYTES} bytes`)); return; }
      chunks.push(c);
    });
    res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    res.on('error', reject);
  });
  req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
  req.on('error', reject);
});

export interface PollPage { objects: unknown[]; more: boolean; next: string | undefined; dateAddedLast: string | undefined }

function authHeader(auth: TaxiiAuth | null): Record<string, string> {
  if (!auth) return {};
  if ('token' in auth) return { authorization: `Bearer ${auth.token}` };
  return { authorization: `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}` };
}

/** The objects URL of a source, with its query: added_after stays fixed across pages, next moves. */
export function objectsUrl(src: Pick<TaxiiSource, 'url' | 'collection'>, addedAfter: string | null, next?: string): URL {
  const u = new URL(`${src.url.replace(/\/+$/, '')}/collections/${encodeURIComponent(src.collection)}/objects/`);
  if (addedAfter) u.searchParams.set('added_after', addedAfter);
  if (next) u.searchParams.set('next', next);
  return u;
}

/** One page: checks status and envelope; never includes credentials in errors. */
export async function fetchPage(src: TaxiiSource, get: HttpGet, ca: string | undefined, next?: string): Promise<PollPage> {
  const url = objectsUrl(src, src.added_after, next);
  const res = await get(url, { accept: TAXII_ACCEPT, ...authHeader(src.auth) }, ca);
  if (res.status !== 200) throw new Errors.CW_TAXII_FAILED(`${src.name}: HTTP ${res.status} from ${url.origin}${url.pathname}`);
  let env: { objects?: unknown; more?: unknown; next?: unknown };
  try { env = JSON.parse(res.body) as typeof env; } catch { throw new Errors.CW_TAXII_FAILED(`${src.name}: response is not JSON`); }
  if (typeof env !== 'object' || env === null) throw new Errors.CW_TAXII_FAILED(`${src.name}: response is not a TAXII envelope`);
  const last = res.headers['x-taxii-date-added-last'];
  return {
    objects: Array.isArray(env.objects) ? env.objects : [], more: env.more === true,
    next: typeof env.next === 'string' ? env.next : undefined, dateAddedLast: typeof last === 'string' ? last : undefined,
  };
}

/** Later of two RFC 3339 timestamps (by instant; the stored text is the one given). */
function later(a: string | null, b: string | undefined): string | null {
  if (!b || Number.isNaN(Date.parse(b))) return a;
  return a && Date.parse(a) >= Date.parse(b) ? a : b;
}

/** All new objects of a source and the cursor to store after they are pushed. */
export async function pollObjects(src: TaxiiSource, get: HttpGet = httpGet): Promise<{ objects: unknown[]; cursor: string | null; pages: number }> {
  const ca = src.ca_file ? readFileSync(src.ca_file, 'utf8') : undefined;
  const objects: unknown[] = [];
  let cursor = src.added_after, next: string | undefined, pages = 0;
  do {
    if (++pages > MAX_PAGES) throw new Errors.CW_TAXII_FAILED(`${src.name}: more than ${MAX_PAGES} pages`);
    const page = await fetchPage(src, get, ca, next);
    objects.push(...page.objects);
    cursor = later(cursor, page.dateAddedLast);
    for (const o of page.objects) cursor = later(cursor, (o as { date_added?: string }).date_added);
    next = page.more ? page.next : undefined;
    if (page.more && !next) break; // a server that says "more" without a next token cannot be paged further
  } while (next);
  return { objects, cursor, pages };
}

/** Stored sources (taxii_sources); list() never returns credentials. */
export class TaxiiSources {
  constructor(private readonly db: DB) {}

  add(s: { name: string; url: string; collection: string; auth: TaxiiAuth | null; interval_s: number; ca_file: string | null }): void {
    const u = new URL(s.url); // throws on a malformed URL before anything is stored
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Errors.CW_BAD_REQUEST('TAXII url must be http(s)');
    this.db.prepare(`INSERT INTO taxii_sources (name, url, collection, auth, interval_s, ca_file, created) VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (name) DO UPDATE SET url = excluded.url, collection = excluded.collection, auth = excluded.auth,
      interval_s = excluded.interval_s, ca_file = excluded.ca_file`)
      .run(s.name, s.url, s.collection, s.auth ? JSON.stringify(s.auth) : null, s.interval_s, s.ca_file, nowIso());
  }

  remove(name: string): boolean { return this.db.prepare('DELETE FROM taxii_sources WHERE name = ?').run(name).changes > 0; }

  all(): TaxiiSource[] {
    const rows = this.db.prepare('SELECT name, url, collection, auth, interval_s, added_after, last_poll, last_error, ca_file FROM taxii_sources ORDER BY name').all() as Array<Omit<TaxiiSource, 'auth'> & { auth: string | null }>;
    return rows.map((r) => ({ ...r, auth: r.auth ? JSON.parse(r.auth) as TaxiiAuth : null }));
  }

  list(): Array<Omit<TaxiiSource, 'auth'> & { auth: 'token' | 'basic' | 'none' }> {
    return this.all().map((s) => ({ ...s, auth: !s.auth ? 'none' : 'token' in s.auth ? 'token' : 'basic' }));
  }

  polled(name: string, cursor: string | null, error: string | null): void {
    this.db.prepare('UPDATE taxii_sources SET added_after = coalesce(?, added_after), last_poll = ?, last_error = ? WHERE name = ?').run(cursor, nowIso(), error, name);
  }
}

export interface PollSummary { pages: number; objects: number; added: number; updated: number; rejected: number; job: string | null }

export interface SchedulerOptions { tickMs?: number; get?: HttpGet }

/**
 * Polls due sources on one unref'd timer (sources added by the CLI while the collector runs are
 * picked up at the next tick). One poll per source at a time; failures back off.
 */
export class TaxiiScheduler {
  private readonly sources: TaxiiSources;
  private readonly dueAt = new Map<string, number>();
  private readonly failures = new Map<string, number>();
  private readonly running = new Set<Promise<unknown>>();
  private readonly inFlight = new Set<string>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly svc: CollectorService, private readonly log: Logger, private readonly opts: SchedulerOptions = {}) {
    this.sources = new TaxiiSources(svc.db);
  }

  start(): this {
    this.timer = setInterval(() => this.tick(), this.opts.tickMs ?? 5000).unref();
    this.tick();
    return this;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await Promise.allSettled([...this.running]);
  }

  private tick(): void {
    if (!this.svc.db.open) return;
    const now = Date.now();
    for (const src of this.sources.all()) {
      if (this.inFlight.has(src.name)) continue;
      const due = this.dueAt.get(src.name) ?? (src.last_poll ? Date.parse(src.last_poll) + src.interval_s * 1000 : 0);
      if (now < due) continue;
      const p = this.pollNow(src).finally(() => this.running.delete(p));
      this.running.add(p);
    }
  }

  /** One poll of `src` now: objects → STIX parser → push pipeline (feed = source name) → cursor. */
  async pollNow(src: TaxiiSource): Promise<PollSummary | null> {
    this.inFlight.add(src.name);
    try {
      const { objects, cursor, pages } = await pollObjects(src, this.opts.get);
      const parsed = parseStix({ type: 'bundle', objects }) ?? { indicators: [], rejected: [] };
      const res = parsed.indicators.length || parsed.rejected.length
        ? await this.svc.pushParsed(parsed.indicators, parsed.rejected, { feed: src.name, actor: `taxii:${src.name}` }) : null;
      if (!this.svc.db.open) return null;
      this.sources.polled(src.name, cursor, null);
      this.failures.delete(src.name);
      this.dueAt.set(src.name, Date.now() + src.interval_s * 1000);
      const summary = { pages, objects: objects.length, added: res?.added ?? 0, updated: res?.updated ?? 0, rejected: res?.rejected ?? 0, job: res?.job ?? null };
      this.log.info({ source: src.name, ...summary }, 'TAXII poll done');
      return summary;
    } catch (err) {
      const n = (this.failures.get(src.name) ?? 0) + 1;
      this.failures.set(src.name, n);
      const retryS = Math.min(src.interval_s * Math.min(2 ** (n - 1), MAX_BACKOFF_FACTOR), Math.max(MAX_BACKOFF_S, src.interval_s));
      this.dueAt.set(src.name, Date.now() + retryS * 1000);
      const message = (err as Error).message;
      if (this.svc.db.open) this.sources.polled(src.name, null, message);
      this.log.warn({ code: 'CW_TAXII_FAILED', source: src.name, error: message, failures: n, retry_in_s: retryS }, 'TAXII poll failed');
      return null;
    } finally { this.inFlight.delete(src.name); }
  }
}

/** Starts polling for a running collector; the returned function stops it (an onClose hook). */
export function startTaxiiPolling(svc: CollectorService, log: Logger, opts: SchedulerOptions = {}): () => Promise<void> {
  const s = new TaxiiScheduler(svc, log, opts).start();
  return () => s.stop();
}
