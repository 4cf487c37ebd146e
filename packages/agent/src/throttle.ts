/**
 * Keeps hashing light. Two mechanisms, both consulted before each batch goes to a hash thread:
 *
 * - A CPU ceiling (`--max-cpu-percent`, percent of one core): the throttle compares the
 *   process's CPU time (process.cpuUsage(), which counts every thread, so hashing threads too)
 *   with wall time and sleeps off any excess. It aims a little under the limit, so a
 *   watchdog set to the same figure does not trip on jitter.
 * - Back-off requests from the watchdog (watchdog.ts): process-wide, because RSS and CPU are
 *   process-wide. While one is active, hashing pauses, then runs on one thread only.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** Fraction of the limit the throttle aims at. */
const AIM = 0.9;
/** Measurement window: long enough to average out one batch, short enough to react. */
const WINDOW_MS = 2000;
/** Longest single sleep, so cancellation and back-off changes are noticed promptly. */
const MAX_SLEEP_MS = 500;

interface BackOffState { pausedUntil: number; reducedUntil: number; reason: string }
const backOffState: BackOffState = { pausedUntil: 0, reducedUntil: 0, reason: '' };

/**
 * Ask all hashing in this process to pause for `pauseMs`, then to run on one thread for
 * `reduceMs` more. Later requests extend, never shorten, an active back-off.
 */
export function requestBackOff(pauseMs: number, reduceMs: number, reason: string): void {
  const now = Date.now();
  backOffState.pausedUntil = Math.max(backOffState.pausedUntil, now + pauseMs);
  backOffState.reducedUntil = Math.max(backOffState.reducedUntil, now + pauseMs + reduceMs);
  backOffState.reason = reason;
}

/** Ends any back-off (tests; an operator's "resume"). */
export function clearBackOff(): void {
  backOffState.pausedUntil = 0;
  backOffState.reducedUntil = 0;
}

export function backOffActive(now = Date.now()): boolean {
  return now < backOffState.reducedUntil;
}

export interface CpuThrottle {
  /** Resolves when the next batch may start (at once when under the limit). */
  wait(signal: AbortSignal): Promise<void>;
  /** How many batches may be in flight, given `max` threads. */
  concurrency(max: number): number;
  /** Milliseconds slept so far (for logs and benches). */
  readonly sleptMs: number;
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** @param maxCpuPercent 0 or undefined = no ceiling (watchdog back-off still applies). */
export function createCpuThrottle(maxCpuPercent: number | undefined): CpuThrottle {
  const limit = maxCpuPercent && maxCpuPercent > 0 ? maxCpuPercent : 0;
  let t0 = Date.now(), c0 = cpuMs(), prevT = t0, prevC = c0, slept = 0;
  const self: CpuThrottle = {
    get sleptMs() { return slept; },
    concurrency(max) {
      // Under a ceiling below one core, two threads would only burst to 200 % and then sleep.
      if (backOffActive() || (limit > 0 && limit < 100)) return 1;
      return max;
    },
    async wait(signal) {
      for (;;) {
        if (signal.aborted) return;
        const now = Date.now();
        const pause = backOffState.pausedUntil - now;
        let ms = pause > 0 ? pause : 0;
        if (ms === 0 && limit > 0) {
          // Two overlapping windows: the older one carries the recent past into a fresh window.
          if (now - t0 >= WINDOW_MS) { prevT = t0; prevC = c0; t0 = now; c0 = cpuMs(); }
          const used = cpuMs() - prevC;
          const allowedWall = (used * 100) / (limit * AIM);
          ms = allowedWall - (now - prevT);
        }
        if (ms <= 0) return;
        const step = Math.min(ms, MAX_SLEEP_MS);
        slept += step;
        await sleep(step, undefined, { signal }).catch(() => {});
      }
    },
  };
  return self;
}
