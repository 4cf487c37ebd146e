/**
 * Worker-thread entry of the API reader: its own better-sqlite3 connection on the collector's
 * WAL file (readers never wait for the ingest writer), query_only so this thread cannot write.
 * Requests run one at a time, in arrival order; each answer is the response body, UTF-8, its
 * buffer transferred (not copied) to the main thread, with the read's time on this thread (the
 * pool learns what reads cost from it: plugins/read-costs.ts) and when it ended (`doneAt`, ms
 * since the epoch: the pool tells apart the wait before the read and the wait for its answer).
 * On Linux the read's time is split further from the kernel's per-thread scheduler counters
 * (/proc/thread-self/schedstat): `cpuMs` on a CPU, `cpuWaitMs` runnable but waiting for one;
 * the rest of `ms` the thread was blocked (reading pages from disk, a lock). The wait is exact;
 * the kernel brings a running thread's CPU time up to date at its scheduler tick (4 ms at
 * HZ=250), so one read's `cpuMs` is within a tick, and sums over many reads are right.
 *
 * Protocol (parentPort), in:  { id, read: ApiRead }
 *                        out: { t: 'ready' } | { id, ms, doneAt, cpuMs?, cpuWaitMs?, body: Uint8Array } | { id, ms, doneAt, cpuMs?, cpuWaitMs?, error: string }
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { openDb } from './db.js';
import { runApiRead, type ApiRead } from './api-reads.js';

export interface ReaderWorkerData { file: string }
export type ToReader = { id: number; read: ApiRead };
type Timed = { id: number; ms: number; doneAt: number; cpuMs?: number; cpuWaitMs?: number };
export type FromReader = { t: 'ready' } | (Timed & { body: Uint8Array }) | (Timed & { error: string });

/** This thread's time on a CPU and waiting for one, in ns (schedstat's first two fields); null where the kernel has no such file. */
function schedClock(): () => [number, number] | null {
  let fd: number;
  try { fd = openSync('/proc/thread-self/schedstat', 'r'); } catch { return () => null; }
  const buf = Buffer.alloc(128);
  let open = true;
  return () => {
    if (!open) return null;
    try {
      // A /proc file is generated afresh on each read from offset 0.
      const [run, wait] = buf.toString('latin1', 0, readSync(fd, buf, 0, buf.length, 0)).split(' ').map(Number);
      return Number.isFinite(run) && Number.isFinite(wait) ? [run!, wait!] : null;
    } catch {
      // Unreadable once, unreadable for good: reads go on without the split.
      open = false;
      try { closeSync(fd); } catch { /* already unusable */ }
      return null;
    }
  };
}

const port = parentPort!;
const db = openDb((workerData as ReaderWorkerData).file);
db.pragma('query_only = ON');
const utf8 = new TextEncoder();
const sched = schedClock();

port.on('message', (m: ToReader) => {
  const s0 = sched(), t0 = performance.now();
  let out: FromReader;
  try { out = { id: m.id, ms: 0, doneAt: 0, body: utf8.encode(runApiRead(db, m.read)) }; } catch (err) { out = { id: m.id, ms: 0, doneAt: 0, error: (err as Error).message }; }
  const t1 = performance.now(), s1 = s0 && sched();
  out.ms = t1 - t0;
  out.doneAt = performance.timeOrigin + t1;
  if (s0 && s1) { out.cpuMs = (s1[0] - s0[0]) / 1e6; out.cpuWaitMs = (s1[1] - s0[1]) / 1e6; }
  if ('body' in out) port.postMessage(out, [out.body.buffer as ArrayBuffer]); else port.postMessage(out);
});
port.postMessage({ t: 'ready' } satisfies FromReader);
