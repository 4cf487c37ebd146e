// The part of autocannon's API this package uses (the package ships no types of its own).
declare module 'autocannon' {
  namespace autocannon {
    interface Options { url: string; connections?: number; overallRate?: number; duration?: number; headers?: Record<string, string> }
    interface Histogram { p50: number; p90: number; p99: number; max: number; average: number }
    interface Result { requests: { total: number }; latency: Histogram; errors: number; timeouts: number; non2xx: number }
    interface Instance {
      on(event: 'done', cb: (r: Result) => void): void;
      /** client: autocannon's per-connection client (its `conn` is the socket, replaced on a reconnect). */
      on(event: 'response', cb: (client: object, statusCode: number, resBytes: number, responseTimeMs: number) => void): void;
      on(event: 'reqError', cb: (err: Error) => void): void;
      stop(): void;
    }
  }
  function autocannon(opts: autocannon.Options): autocannon.Instance;
  export default autocannon;
}
