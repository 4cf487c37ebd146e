/** Command line of chainwatch-fleetsim: flags, defaults, validation, help text. */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';

export const HELP = `chainwatch-fleetsim — simulated agents against a real collector (load tool)

Usage:
chainwatch-fleetsim --agents N --items M --url URL --ca FILE --enroll-secret S [options]

Fleet:
  --agents N              simulated hosts (each enrolls and holds one wss connection)
  --items M               items per host in the initial full inventory (host item included)
  --match-share X         share of hosts carrying one item named by the sim's feed (default 0.01)
  --seed N                same seed, same fleet (default 1)
  --run-tag T             names this run's hosts and feed fleetsim-T (default random)
  --dpkg-status FILE      real package list to build from (default /var/lib/dpkg/status)
  --dpkg-info DIR         where <pkg>.md5sums files live (default /var/lib/dpkg/info)
Phases (in this order; each reported on its own):
  enroll, connect         always
  --hold S                hold the idle fleet connected S seconds before sending (default 0)
  sync                    every host sends its full inventory (always)
  --storm K               then every host at once sends a delta of K changed items (default 0 = skip)
                          (the deltas are made before the phase's clock starts)
  --duration S            then steady churn for S seconds (default 0 = skip):
  --churn P                 share of a host's items changed in each delta (default 0.01)
  --delta-interval S        seconds between one host's deltas, random phase per host (default 30)
  --reconnect-share X       share of hosts that drop their link right after sending a delta and
                            reconnect: the welcome's last_seq settles or the frame is resent (default 0.05)
Collector:
  --url URL               collector base URL (https://host:port)
  --ca FILE               collector CA certificate (PEM; <db dir>/tls/ca.pem for a self-made CA)
  --enroll-secret S       enroll secret
  --admin-token T         admin API token: pushes the sim's indicator feed, counts its alerts,
                          loads the API with autocannon during the phases (without: none of these)
  --api-rate R            requests/s per API endpoint under load (default 10)
  --db FILE               collector database: stored items counted read-only with sqlite3
                          (without: counted through GET /api/v1/hosts, needs --admin-token)
Transport and simulator:
  --workers W             worker processes holding the agents (default min(4, CPUs))
  --window N              batches in flight per agent before waiting for acks (default 8, as the agent)
  --no-deflate            no permessage-deflate (the agent negotiates it; default on)
  --inflight-mib N        MiB of frames built and unacknowledged per worker (bounds sim memory; default 8)
  --connect-concurrency N handshakes in progress per worker (default 64)
  --enroll-concurrency N  enrollment requests in progress per worker (default 16)
  --worker-nice N         nice value of the worker processes, 0-19 (default 0: unchanged). The
                          coordinator, which also runs the API load, keeps its own: on a machine
                          shared with the collector the workers yield, the API client does not
  --worker-idle           run the workers under SCHED_IDLE (Linux, util-linux chrt): only on CPU
                          time no normal thread wants, as machines that are not here would
  --phase-timeout S       give up on a phase after S seconds (default 3600)
Output:
  --json                  one JSON object on stdout (default: a readable summary); progress goes to stderr either way
  --help

Exit status: 0 when every frame was acknowledged, stored counts equal what was sent and
alerts raised equal matches planted; 1 otherwise; 2 on a usage error.`;

export interface SimOptions {
  agents: number; items: number; matchShare: number; seed: number; runTag: string; dpkgStatus: string; dpkgInfo: string;
  hold: number; storm: number; duration: number; churn: number; deltaInterval: number; reconnectShare: number;
  url: string; ca: string; enrollSecret: string; adminToken: string | undefined; apiRate: number; db: string | undefined;
  workers: number; window: number; deflate: boolean; inflightBytes: number; connectConcurrency: number; enrollConcurrency: number;
  workerNice: number; workerIdle: boolean; phaseTimeout: number; json: boolean;
}

export class UsageError extends Error { readonly code = 'CW_FLEETSIM_USAGE'; }

const num = (v: string | undefined, name: string, dflt: number, min: number, max: number, int = true): number => {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max || (int && !Number.isInteger(n))) throw new UsageError(`--${name} must be ${int ? 'an integer' : 'a number'} in [${min}, ${max}], got ${v}`);
  return n;
};

export function parseOptions(argv: string[]): SimOptions | 'help' {
  const s = { type: 'string' } as const;
  const { values: v } = parseArgs({
    args: argv, strict: true,
    options: {
      agents: s, items: s, 'match-share': s, seed: s, 'run-tag': s, 'dpkg-status': s, 'dpkg-info': s, hold: s, storm: s, duration: s, churn: s,
      'delta-interval': s, 'reconnect-share': s, url: s, ca: s, 'enroll-secret': s, 'admin-token': s, 'api-rate': s, db: s, workers: s, window: s,
      'no-deflate': { type: 'boolean' }, 'inflight-mib': s, 'connect-concurrency': s, 'enroll-concurrency': s, 'worker-nice': s, 'worker-idle': { type: 'boolean' }, 'phase-timeout': s,
      json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) return 'help';
  for (const req of ['agents', 'items', 'url', 'ca', 'enroll-secret'] as const) if (v[req] === undefined) throw new UsageError(`--${req} is required (see --help)`);
  const runTag = v['run-tag'] ?? randomBytes(4).toString('hex');
  if (!/^[A-Za-z0-9_-]{1,40}$/.test(runTag)) throw new UsageError('--run-tag: 1-40 of [A-Za-z0-9_-]');
  if (!/^https:\/\//.test(v.url!)) throw new UsageError('--url must be https:// (the simulator speaks TLS, as agents do)');
  return {
    agents: num(v.agents, 'agents', 0, 1, 1_000_000), items: num(v.items, 'items', 0, 2, 1_000_000),
    matchShare: num(v['match-share'], 'match-share', 0.01, 0, 1, false), seed: num(v.seed, 'seed', 1, 0, 2 ** 32 - 1), runTag,
    dpkgStatus: v['dpkg-status'] ?? '/var/lib/dpkg/status', dpkgInfo: v['dpkg-info'] ?? '/var/lib/dpkg/info',
    hold: num(v.hold, 'hold', 0, 0, 86400, false), storm: num(v.storm, 'storm', 0, 0, 100_000), duration: num(v.duration, 'duration', 0, 0, 7 * 86400, false),
    churn: num(v.churn, 'churn', 0.01, 0, 1, false), deltaInterval: num(v['delta-interval'], 'delta-interval', 30, 0.1, 86400, false),
    reconnectShare: num(v['reconnect-share'], 'reconnect-share', 0.05, 0, 1, false),
    url: v.url!.replace(/\/+$/, ''), ca: v.ca!, enrollSecret: v['enroll-secret']!, adminToken: v['admin-token'], apiRate: num(v['api-rate'], 'api-rate', 10, 0, 10_000, false), db: v.db,
    workers: num(v.workers, 'workers', Math.min(4, os.availableParallelism()), 1, 256), window: num(v.window, 'window', 8, 1, 1000), deflate: !v['no-deflate'],
    inflightBytes: num(v['inflight-mib'], 'inflight-mib', 8, 1, 4096) * 1024 * 1024, connectConcurrency: num(v['connect-concurrency'], 'connect-concurrency', 64, 1, 100_000),
    enrollConcurrency: num(v['enroll-concurrency'], 'enroll-concurrency', 16, 1, 10_000), workerNice: num(v['worker-nice'], 'worker-nice', 0, 0, 19), workerIdle: Boolean(v['worker-idle']), phaseTimeout: num(v['phase-timeout'], 'phase-timeout', 3600, 1, 7 * 86400, false),
    json: Boolean(v.json),
  };
}
