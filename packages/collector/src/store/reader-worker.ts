/**
 * Worker-thread entry of the API reader: its own better-sqlite3 connection on the collector's
 * WAL file (readers never wait for the ingest writer), query_only so this thread cannot write.
 * Requests run one at a time, in arrival order; each answer is the response body, UTF-8, its
 * buffer transferred (not copied) to the main thread, with the read's time on this thread (the
 * pool learns what reads cost from it: plugins/read-costs.ts) and when it ended (`doneAt`, ms
 * since the epoch: the pool tells apart the wait before the read and the wait for its answer).
 *
 * Protocol (parentPort), in:  { id, read: ApiRead }
 *                        out: { t: 'ready' } | { id, ms, doneAt, body: Uint8Array } | { id, ms, doneAt, error: string }
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openDb } from './db.js';
import { runApiRead, type ApiRead } from './api-reads.js';

export interface ReaderWorkerData { file: string }
export type ToReader = { id: number; read: ApiRead };
type Timed = { id: number; ms: number; doneAt: number };
export type FromReader = { t: 'ready' } | (Timed & { body: Uint8Array }) | (Timed & { error: string });

const port = parentPort!;
const db = openDb((workerData as ReaderWorkerData).file);
db.pragma('query_only = ON');
const utf8 = new TextEncoder();

port.on('message', (m: ToReader) => {
  const t0 = performance.now();
  let out: FromReader;
  try { out = { id: m.id, ms: 0, doneAt: 0, body: utf8.encode(runApiRead(db, m.read)) }; } catch (err) { out = { id: m.id, ms: 0, doneAt: 0, error: (err as Error).message }; }
  const t1 = performance.now();
  out.ms = t1 - t0;
  out.doneAt = performance.timeOrigin + t1;
  if ('body' in out) port.postMessage(out, [out.body.buffer as ArrayBuffer]); else port.postMessage(out);
});
port.postMessage({ t: 'ready' } satisfies FromReader);
