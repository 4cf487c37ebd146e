/**
 * API latency under load: autocannon at a fixed request rate against the analyst's everyday
 * queries (the alert list, a hash search, a software search), one load for the whole run. A
 * fixed rate, not a flood: the question is how fast the API answers while ingest is busy, not
 * how much load the API can take away from ingest.
 *
 * Each response's latency is kept and split by phase (take()). A connection's first response
 * is reported apart (first_on_connection): autocannon starts its clock when it opens the
 * connection, so that one includes the TCP connect and the TLS handshake. Restarting the load
 * every phase put six handshakes in each phase, and in a 15-second phase (150 requests per
 * route) two of them were each route's p99.
 */
import autocannon from 'autocannon';

export interface ApiTarget { name: string; path: string }
export interface ApiLatency {
  name: string; requests: number; errors: number; non2xx: number; p50: number; p99: number; max: number;
  /** Responses that were their connection's first, TLS handshake included. */
  first_on_connection: { requests: number; max: number };
}

export interface RunningLoad {
  /** Per target, the responses since the previous take() (or the start). */
  take(): ApiLatency[];
  /** Stops the load; the responses since the last take(). */
  stop(): Promise<ApiLatency[]>;
}

/** Value at quantile q of ascending `sorted` (nearest rank), 0 when empty. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Latencies of one target's responses, in one phase. */
class Samples {
  ms: number[] = [];
  errors = 0;
  non2xx = 0;
  firstMs: number[] = [];

  report(name: string): ApiLatency {
    const s = Float64Array.from(this.ms).sort();
    const round = (x: number) => Math.round(x * 100) / 100;
    return {
      name, requests: s.length + this.firstMs.length, errors: this.errors, non2xx: this.non2xx,
      p50: round(quantile(s, 0.5)), p99: round(quantile(s, 0.99)), max: round(s.length ? s[s.length - 1]! : 0),
      first_on_connection: { requests: this.firstMs.length, max: round(Math.max(0, ...this.firstMs)) },
    };
  }
}

export function startApiLoad(url: string, token: string, targets: ApiTarget[], ratePerTarget: number): RunningLoad {
  const runs = targets.map((t) => {
    const inst = autocannon({
      url: url + t.path, connections: 2, overallRate: ratePerTarget, duration: 24 * 3600,
      headers: { authorization: `Bearer ${token}` },
    });
    const run = { t, inst, samples: new Samples(), seen: new WeakSet<object>(), done: new Promise<void>((resolve) => inst.on('done', () => resolve())) };
    inst.on('response', (client, status, _bytes, ms) => {
      if (status < 200 || status > 299) run.samples.non2xx++;
      // A client object per connection, and a new one when autocannon reconnects.
      const conn = (client as { conn?: object }).conn ?? client;
      if (run.seen.has(conn)) run.samples.ms.push(ms);
      else { run.seen.add(conn); run.samples.firstMs.push(ms); }
    });
    inst.on('reqError', () => { run.samples.errors++; });
    return run;
  });
  const take = () => runs.map((r) => {
    const out = r.samples.report(r.t.name);
    r.samples = new Samples();
    return out;
  });
  return {
    take,
    async stop() {
      for (const r of runs) r.inst.stop();
      await Promise.all(runs.map((r) => r.done));
      return take();
    },
  };
}
