/**
 * Prometheus metrics, with a registry of our own rather than prom-client: we need counters,
 * gauges read at scrape time and one histogram, all in one process and one text format —
 * about 100 lines, no dependency, no global default registry surprising tests that build
 * several apps in one process. Exposition format:
 * https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 *
 * Code owned by others calls the one-line hooks below (`metrics.batchCommitted(…)` etc.);
 * gauges (connected agents, DB size, queue depth) are callbacks read at scrape time.
 */

type Labels = Record<string, string>;
const labelText = (l: Labels) => {
  const e = Object.entries(l);
  return e.length ? `{${e.map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')}}` : '';
};

class Counter {
  private readonly values = new Map<string, { labels: Labels; v: number }>();
  constructor(readonly name: string, readonly help: string) {}
  inc(n = 1, labels: Labels = {}): void {
    const k = labelText(labels);
    const cur = this.values.get(k);
    if (cur) cur.v += n; else this.values.set(k, { labels, v: n });
  }
  render(): string[] {
    const rows = [...this.values.values()].map((x) => `${this.name}${labelText(x.labels)} ${x.v}`);
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`, ...(rows.length ? rows : [`${this.name} 0`])];
  }
}

/** Request-scale latencies, seconds: fine below 250 ms, where the API's target is. */
const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.5, 1, 2.5, 5, 10];

class Histogram {
  private readonly series = new Map<string, { labels: Labels; counts: number[]; sum: number; n: number }>();
  constructor(readonly name: string, readonly help: string, readonly buckets: number[]) {}
  observe(v: number, labels: Labels = {}): void {
    const k = labelText(labels);
    let s = this.series.get(k);
    if (!s) this.series.set(k, s = { labels, counts: this.buckets.map(() => 0), sum: 0, n: 0 });
    s.sum += v; s.n++;
    this.buckets.forEach((b, i) => { if (v <= b) s.counts[i]!++; });
  }
  render(): string[] {
    const all = this.series.size ? [...this.series.values()] : [{ labels: {}, counts: this.buckets.map(() => 0), sum: 0, n: 0 }];
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`, ...all.flatMap((s) => [
      ...this.buckets.map((b, i) => `${this.name}_bucket${labelText({ ...s.labels, le: String(b) })} ${s.counts[i]}`),
      `${this.name}_bucket${labelText({ ...s.labels, le: '+Inf' })} ${s.n}`,
      `${this.name}_sum${labelText(s.labels)} ${s.sum}`, `${this.name}_count${labelText(s.labels)} ${s.n}`])];
  }
}

interface Gauge { name: string; help: string; read: () => number | Array<{ labels: Labels; v: number }> }

export class Metrics {
  readonly batches = new Counter('chainwatch_ingest_batches_total', 'Inventory batches committed');
  readonly items = new Counter('chainwatch_ingest_items_total', 'Inventory items received in committed batches');
  readonly rejected = new Counter('chainwatch_ingest_rejected_total', 'Frames rejected, by error code');
  readonly alerts = new Counter('chainwatch_alerts_total', 'Alerts raised (indicator matches), by origin');
  readonly downloads = new Counter('chainwatch_install_downloads_total', 'Agent install files served, by file kind');
  readonly retro = new Histogram('chainwatch_retro_hunt_duration_seconds', 'Retro-hunt job duration', [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300]);
  // From the request read to the response sent, in this process: the client's own latency adds the
  // network and any wait before the main thread read the request.
  readonly api = new Histogram('chainwatch_api_request_duration_seconds', 'API request duration in the collector, by route', LATENCY_BUCKETS);
  // Where a read's share of that goes (plugins/api-reader.ts): queued for a reader thread, on it, its answer waiting for the main thread.
  readonly apiRead = new Histogram('chainwatch_api_read_seconds', 'API reads on the reader threads, by op and part (queue: before its thread started it; run: on it, of which cpu: on a CPU and cpu_wait: waiting for one; reply: the answer waiting for the main thread)',
    LATENCY_BUCKETS);
  readonly apiShared = new Counter('chainwatch_api_reads_shared_total', 'API reads answered by the same read already on a reader thread, by op');
  private readonly gauges = new Map<string, Gauge>();
  private readonly started = Date.now();

  /** Registers (or replaces) a gauge read at scrape time; a throwing reader is skipped. */
  gauge(name: string, help: string, read: Gauge['read']): void { this.gauges.set(name, { name, help, read }); }

  // --- one-line hooks for the ingest plugin and the service ---
  batchCommitted(items: number, alerts: number): void { this.batches.inc(); this.items.inc(items); if (alerts) this.alerts.inc(alerts, { origin: 'live' }); }
  frameRejected(code: string): void { this.rejected.inc(1, { code }); }
  retroHuntDone(seconds: number, alerts: number): void { this.retro.observe(seconds); if (alerts) this.alerts.inc(alerts, { origin: 'retro' }); }
  apiRequestDone(route: string, seconds: number): void { this.api.observe(seconds, { route }); }
  apiReadDone(op: string, t: { queueMs: number; runMs: number; replyMs: number; cpuMs?: number; cpuWaitMs?: number }): void {
    this.apiRead.observe(t.queueMs / 1000, { op, part: 'queue' });
    this.apiRead.observe(t.runMs / 1000, { op, part: 'run' });
    this.apiRead.observe(t.replyMs / 1000, { op, part: 'reply' });
    if (t.cpuMs !== undefined) this.apiRead.observe(t.cpuMs / 1000, { op, part: 'cpu' });
    if (t.cpuWaitMs !== undefined) this.apiRead.observe(t.cpuWaitMs / 1000, { op, part: 'cpu_wait' });
  }

  render(): string {
    const out: string[] = [
      '# HELP chainwatch_up_seconds Seconds since this collector process started', '# TYPE chainwatch_up_seconds gauge',
      `chainwatch_up_seconds ${((Date.now() - this.started) / 1000).toFixed(0)}`,
    ];
    for (const c of [this.batches, this.items, this.rejected, this.alerts, this.downloads, this.apiShared]) out.push(...c.render());
    out.push(...this.retro.render(), ...this.api.render(), ...this.apiRead.render());
    for (const g of this.gauges.values()) {
      let v: ReturnType<Gauge['read']>;
      try { v = g.read(); } catch { continue; }
      out.push(`# HELP ${g.name} ${g.help}`, `# TYPE ${g.name} gauge`);
      if (typeof v === 'number') out.push(`${g.name} ${v}`); else for (const x of v) out.push(`${g.name}${labelText(x.labels)} ${x.v}`);
    }
    return out.join('\n') + '\n';
  }
}

/** The process's registry. One per process is what Prometheus scrapes; tests may make their own. */
export const metrics = new Metrics();
