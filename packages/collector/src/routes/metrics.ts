/**
 * GET /metrics in the Prometheus text format. The store's counts are read at scrape time on the
 * API reader thread (plugins/api-reader.ts): counting alerts by status scans an index, and with
 * 400,000 alerts (10,000 agents) each scrape held the main thread ~50 ms, every agent and API
 * request waiting behind it. Counters come from metrics.ts hooks.
 * With $CHAINWATCH_METRICS_TOKEN set, scrapes need `Authorization: Bearer <that token>`
 * (fleet size and alert counts are not for everyone on the network).
 */
import { statSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import type { CollectorService } from '../service.js';
import type { ApiReader } from '../plugins/api-reader.js';
import type { StoreGauges } from '../store/queries.js';
import { metrics as registry, type Metrics } from '../metrics.js';
import { Errors } from '../errors.js';

const h = (s: string) => createHash('sha256').update(s).digest();

/** SQLite file + WAL size in bytes. */
export function dbSizeBytes(svc: CollectorService): number {
  const file = svc.db.name;
  let n = 0;
  for (const f of [file, `${file}-wal`]) { try { n += statSync(f).size; } catch { /* :memory: or no WAL yet */ } }
  return n || Number(svc.db.pragma('page_count', { simple: true })) * Number(svc.db.pragma('page_size', { simple: true }));
}

type WriterHeap = () => { used: number; total: number } | null;

/** The store's counts as of this scrape (null when the reader could not answer: those gauges are left out). */
type StoreSnapshot = () => StoreGauges | null;

function registerGauges(m: Metrics, svc: CollectorService, connected: () => number, writerHeap: WriterHeap, store: StoreSnapshot): void {
  const of = <K extends keyof StoreGauges>(k: K) => (): StoreGauges[K] => {
    const s = store();
    if (!s) throw new Error('store counts unavailable');
    return s[k];
  };
  m.gauge('chainwatch_agents_connected', 'Agents with an open stream now', connected);
  m.gauge('chainwatch_hosts_enrolled', 'Enrolled, not revoked hosts', of('hosts_enrolled'));
  m.gauge('chainwatch_jobs_running', 'Background jobs (retro-hunts) queued or running: the collector work queue depth', of('jobs_running'));
  const byStatus = of('alerts_by_status');
  m.gauge('chainwatch_alerts', 'Alerts by status', () => Object.entries(byStatus()).map(([status, v]) => ({ labels: { status }, v })));
  m.gauge('chainwatch_indicators_active', 'Indicators not retired', of('indicators_active'));
  m.gauge('chainwatch_db_size_bytes', 'Database file plus WAL, bytes', () => dbSizeBytes(svc));
  // Where memory goes (rss is the whole process; heap is the main thread's JavaScript heap; external
  // and array_buffers are Buffers and zlib/TLS memory that JavaScript objects hold; writer_heap is
  // the ingest writer thread's JavaScript heap, as it last reported).
  m.gauge('chainwatch_process_memory_bytes', 'Process memory by kind, bytes', () => {
    const u = process.memoryUsage(), w = writerHeap();
    const kinds: Array<[string, number]> = [['rss', u.rss], ['heap_used', u.heapUsed], ['heap_total', u.heapTotal], ['external', u.external], ['array_buffers', u.arrayBuffers]];
    if (w) kinds.push(['writer_heap_used', w.used], ['writer_heap_total', w.total]);
    return kinds.map(([kind, v]) => ({ labels: { kind }, v }));
  });
}

/**
 * How long the main thread's event loop was held up, since the previous scrape: every API
 * request and every agent connection waits behind whatever runs there. p50, p99 and max in
 * seconds, from Node's sampling monitor (10 ms resolution); reset at each scrape.
 */
function registerLoopDelay(m: Metrics, app: Parameters<FastifyPluginAsync>[0]): void {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  app.addHook('onClose', async () => { h.disable(); });
  m.gauge('chainwatch_event_loop_delay_seconds', 'Main thread event loop delay since the previous scrape, seconds', () => {
    const rows = h.count === 0 ? [] : [['0.5', h.percentile(50)], ['0.99', h.percentile(99)], ['1', h.max]] as Array<[string, number]>;
    h.reset();
    return rows.map(([quantile, ns]) => ({ labels: { quantile }, v: ns / 1e9 }));
  });
}

export const metricsRoutes: FastifyPluginAsync<{ svc: CollectorService; reader: ApiReader; connected: () => number; writerHeap?: WriterHeap; registry?: Metrics }> = async (app, opts) => {
  const m = opts.registry ?? registry;
  let store: StoreGauges | null = null;
  registerGauges(m, opts.svc, opts.connected, opts.writerHeap ?? (() => null), () => store);
  registerLoopDelay(m, app);
  app.get('/metrics', async (req, reply) => {
    const want = process.env.CHAINWATCH_METRICS_TOKEN;
    if (want) {
      const got = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
      if (!got) throw new Errors.CW_AUTH_MISSING();
      if (!timingSafeEqual(h(got), h(want))) throw new Errors.CW_AUTH_BAD_TOKEN();
    }
    try { store = JSON.parse((await opts.reader.read({ op: 'gauges' })).toString('utf8')) as StoreGauges; } catch (err) {
      store = null;
      req.log.warn({ err }, 'metrics: store counts unavailable');
    }
    return reply.header('content-type', 'text/plain; version=0.0.4; charset=utf-8').send(m.render());
  });
};
