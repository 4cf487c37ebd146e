/**
 * GET /metrics in the Prometheus text format. Gauges are read from SQLite at scrape time
 * (cheap: counts on indexed columns, page counts); counters come from metrics.ts hooks.
 * With $CHAINWATCH_METRICS_TOKEN set, scrapes need `Authorization: Bearer <that token>`
 * (fleet size and alert counts are not for everyone on the network).
 */
import { statSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import type { CollectorService } from '../service.js';
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

function registerGauges(m: Metrics, svc: CollectorService, connected: () => number, writerHeap: WriterHeap): void {
  const count = (sql: string) => () => (svc.db.prepare(sql).pluck().get() as number) ?? 0;
  m.gauge('chainwatch_agents_connected', 'Agents with an open stream now', connected);
  m.gauge('chainwatch_hosts_enrolled', 'Enrolled, not revoked hosts', count('SELECT count(*) FROM hosts WHERE revoked_at IS NULL'));
  m.gauge('chainwatch_jobs_running', 'Background jobs (retro-hunts) queued or running: the collector work queue depth', count(`SELECT count(*) FROM jobs WHERE status = 'running'`));
  m.gauge('chainwatch_alerts', 'Alerts by status', () => (svc.db.prepare('SELECT status, count(*) AS n FROM alerts GROUP BY status').all() as Array<{ status: string; n: number }>)
    .map((r) => ({ labels: { status: r.status }, v: r.n })));
  m.gauge('chainwatch_indicators_active', 'Indicators not retired', count('SELECT count(*) FROM indicators WHERE retired_at IS NULL'));
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

export const metricsRoutes: FastifyPluginAsync<{ svc: CollectorService; connected: () => number; writerHeap?: WriterHeap; registry?: Metrics }> = async (app, opts) => {
  const m = opts.registry ?? registry;
  registerGauges(m, opts.svc, opts.connected, opts.writerHeap ?? (() => null));
  registerLoopDelay(m, app);
  app.get('/metrics', async (req, reply) => {
    const want = process.env.CHAINWATCH_METRICS_TOKEN;
    if (want) {
      const got = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
      if (!got) throw new Errors.CW_AUTH_MISSING();
      if (!timingSafeEqual(h(got), h(want))) throw new Errors.CW_AUTH_BAD_TOKEN();
    }
    return reply.header('content-type', 'text/plain; version=0.0.4; charset=utf-8').send(m.render());
  });
};
