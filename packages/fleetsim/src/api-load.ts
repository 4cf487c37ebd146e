/**
 * API latency under load: autocannon at a fixed request rate against the analyst's everyday
 * queries (the alert list, a hash search, a software search) while a phase runs. A fixed
 * rate, not a flood: the question is how fast the API answers while ingest is busy, not how
 * much load the API can take away from ingest.
 */
import autocannon from 'autocannon';

export interface ApiTarget { name: string; path: string }
export interface ApiLatency { name: string; requests: number; errors: number; non2xx: number; p50: number; p99: number; max: number }

export interface RunningLoad { stop(): Promise<ApiLatency[]> }

export function startApiLoad(url: string, token: string, targets: ApiTarget[], ratePerTarget: number): RunningLoad {
  const runs = targets.map((t) => {
    const inst = autocannon({
      url: url + t.path, connections: 2, overallRate: ratePerTarget, duration: 24 * 3600,
      headers: { authorization: `Bearer ${token}` },
    });
    const done = new Promise<autocannon.Result>((resolve) => inst.on('done', resolve));
    return { t, inst, done };
  });
  return {
    async stop() {
      for (const r of runs) r.inst.stop();
      const out: ApiLatency[] = [];
      for (const r of runs) {
        const res = await r.done;
        out.push({ name: r.t.name, requests: res.requests.total, errors: res.errors + res.timeouts, non2xx: res.non2xx, p50: res.latency.p50, p99: res.latency.p99, max: res.latency.max });
      }
      return out;
    },
  };
}
