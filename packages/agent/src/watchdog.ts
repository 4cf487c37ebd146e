/**
 * A watchdog in the manner of osquery's (defaults: 200 MB resident, 10 % of one core
 * sustained): it samples the agent's own RSS and CPU, and when a limit trips it says which,
 * with the figures, in a structured warning, and makes hashing back off (throttle.ts) rather
 * than letting the agent die silently or be killed by the OS. It never exits the process:
 * on an endpoint a slow agent is better than an absent one.
 *
 * CPU is percent of one core over each interval (process.cpuUsage(): all threads); it must
 * stay above the limit for `sustainedSamples` intervals in a row to trip, so a burst (start-up,
 * a big batch) does not. RSS trips on one sample: memory does not come back by waiting.
 * Repeated trips double the pause (up to 5 minutes); a clean interval resets it.
 */
import type { Logger } from 'pino';
import { requestBackOff } from './throttle.js';

export interface WatchdogTrip {
  limit: 'rss' | 'cpu';
  rssMb: number;
  maxRssMb: number;
  cpuPercent: number;
  maxCpuPercent: number;
  /** How long hashing is paused for this trip. */
  pauseMs: number;
}

export interface WatchdogOptions {
  log: Logger;
  /** @default 200 */
  maxRssMb?: number;
  /** Percent of one core. @default 10 */
  maxCpuPercent?: number;
  /** @default 3000 */
  intervalMs?: number;
  /** Consecutive over-limit CPU samples that count as sustained. @default 4 */
  sustainedSamples?: number;
  /** First back-off pause. @default 10000 */
  backOffMs?: number;
  /** Called after each trip is logged and back-off requested. */
  onTrip?(trip: WatchdogTrip): void;
}

export interface Watchdog {
  /** Takes one sample now (normally the timer does); returns the trip if one happened. */
  check(): WatchdogTrip | undefined;
  readonly trips: number;
  stop(): void;
}

const MAX_PAUSE_MS = 60 * 1000;
/** While a limit stays exceeded, the same warning is repeated at most this often. */
const REPEAT_LOG_MS = 60 * 1000;

export function startWatchdog(opts: WatchdogOptions): Watchdog {
  const maxRssMb = opts.maxRssMb ?? 200;
  const maxCpuPercent = opts.maxCpuPercent ?? 10;
  const sustained = opts.sustainedSamples ?? 4;
  const baseMs = opts.backOffMs ?? 10_000;
  const log = opts.log.child({ component: 'watchdog' });
  let lastT = performance.now(), lastCpu = process.cpuUsage();
  let overCount = 0, pauseMs = baseMs, trips = 0, tripped = false, lastLog = -Infinity;

  const check = (): WatchdogTrip | undefined => {
    const now = performance.now();
    const cpu = process.cpuUsage(lastCpu);
    const wallMs = Math.max(1, now - lastT);
    lastT = now; lastCpu = process.cpuUsage();
    const cpuPercent = Math.round(((cpu.user + cpu.system) / 1000 / wallMs) * 1000) / 10;
    const rssMb = Math.round(process.memoryUsage.rss() / 1e5) / 10;
    overCount = maxCpuPercent > 0 && cpuPercent > maxCpuPercent ? overCount + 1 : 0;
    const limit = maxRssMb > 0 && rssMb > maxRssMb ? 'rss' : overCount >= sustained ? 'cpu' : undefined;
    if (!limit) {
      if (tripped) log.info({ rssMb, cpuPercent }, 'watchdog back under limits');
      tripped = false; pauseMs = baseMs;
      return undefined;
    }
    // Memory is not given back by waiting: a long pause would only stall the scan with the
    // memory still held. An RSS trip sheds parallelism (one hash thread, small batches) with a
    // short pause for the collector to run; CPU trips pause, doubling up to a minute.
    const pause = limit === 'rss' ? Math.min(baseMs, 2000) : pauseMs;
    const trip: WatchdogTrip = { limit, rssMb, maxRssMb, cpuPercent, maxCpuPercent, pauseMs: pause };
    if (!tripped || now - lastLog >= REPEAT_LOG_MS) { log.warn(trip, 'watchdog limit exceeded, backing off'); lastLog = now; }
    requestBackOff(pause, Math.max(pause * 2, 30_000), `watchdog ${limit}`);
    trips++; tripped = true; overCount = 0;
    if (limit === 'cpu') pauseMs = Math.min(pauseMs * 2, MAX_PAUSE_MS);
    opts.onTrip?.(trip);
    return trip;
  };

  const timer = setInterval(check, opts.intervalMs ?? 3000);
  timer.unref();
  return { check, get trips() { return trips; }, stop: () => clearInterval(timer) };
}
