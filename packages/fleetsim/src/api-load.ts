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
import { Histogram } from './histogram.js';

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

/** Latencies of one target's responses, in one phase (histogram.ts, as the ack latencies). */
class Samples {
  readonly ms = new Histogram();
  errors = 0;
  non2xx = 0;
  firstRequests = 0;
  firstMax = 0;

  report(name: string): ApiLatency {
    const round = (x: number) => Math.round(x * 100) / 100;
    return {
      name, requests: this.ms.total + this.firstRequests, errors: this.errors, non2xx: this.non2xx,
      p50: round(this.ms.quantile(0.5)), p99: round(this.ms.quantile(0.99)), max: round(this.ms.max),
      first_on_connection: { requests: this.firstRequests, max: round(this.firstMax) },
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
      if (run.seen.has(conn)) run.samples.ms.record(ms);
      else { run.seen.add(conn); run.samples.firstRequests++; run.samples.firstMax = Math.max(run.samples.firstMax, ms); }
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
