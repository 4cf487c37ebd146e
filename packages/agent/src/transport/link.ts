/**
 * The link loop of `chainwatch-agent run`: keeps one session to the collector until told to
 * stop, reconnecting with capped, fully jittered exponential backoff. A stop can arrive at any
 * point — while connecting, during a token rotation, while backing off — and every wait here
 * honours a signal that is already aborted (an abort listener added too late never fires: the
 * `--once` run whose spool a welcome settled before `connect()` returned used to wait forever).
 */
import type { Logger } from 'pino';
import type { ConfigFrame } from '@chainwatch/shared';
import { AgentError } from '../errors.js';
import type { Session } from './session.js';

/** What the loop needs of CollectorClient (a small seam for tests). */
export interface LinkClient {
  connect(): Promise<Session>;
  rotate(): Promise<void>;
}

export interface LinkHooks { onRescan(): void; onInterval(s: number): void; onCpu(p: number): void }

/** Errors no retry can fix: a wrong CA, a refused or cloned identity, a refused enrollment. */
export const isFatal = (err: unknown): boolean => err instanceof AgentError
  && ['CW_TRANSPORT_TLS_PIN', 'CW_TRANSPORT_IDENTITY', 'CW_TRANSPORT_ENROLL', 'CW_AGENT_USAGE', 'CW_AGENT_STATE'].includes(err.code);

/** Backoff with full jitter: uniform in [0, min(cap, 1 s · 2^attempt)]. */
export const backoffMs = (attempt: number, capMs: number): number => Math.floor(Math.random() * Math.min(capMs, 1000 * 2 ** Math.min(attempt, 20)));

/** Resolves when `signal` aborts, at once if it already has. */
export function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/** Waits `ms`, or less if `signal` aborts (no wait at all if it already has). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { clearTimeout(t); signal.removeEventListener('abort', done); resolve(); };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Keeps a session up until `signal` aborts; rejects only on a fatal error. */
export async function linkLoop(client: LinkClient, log: Logger, signal: AbortSignal, capMs: number, hooks: LinkHooks): Promise<void> {
  let attempt = 0;
  while (!signal.aborted) {
    try {
      const session = await client.connect();
      const started = Date.now();
      session.onRescan = hooks.onRescan;
      session.onConfig = (c: ConfigFrame) => { if (c.rescan_interval_s) hooks.onInterval(c.rescan_interval_s); if (c.max_cpu_percent) hooks.onCpu(c.max_cpu_percent); };
      if (session.rotateRequested && !signal.aborted) {
        await client.rotate();
        session.close(1000, 'token rotated');
      }
      const why = await Promise.race([session.done(), aborted(signal).then(() => null)]);
      if (why === null) { session.close(1001, 'agent stopping'); break; }
      if (isFatal(why)) throw why;
      // A session that dies at once (refused, closed for violations) must not become a tight loop.
      attempt = Date.now() - started > 30_000 ? 0 : attempt + 1;
      log.warn({ err: why }, 'collector link lost');
    } catch (err) {
      if (signal.aborted) break;
      if (isFatal(err)) throw err;
      attempt++;
      log.warn({ err }, 'collector link failed');
    }
    if (signal.aborted) break;
    const wait = backoffMs(attempt, capMs);
    log.info({ retry_in_ms: wait, attempt }, 'reconnecting');
    await sleep(wait, signal);
  }
}
