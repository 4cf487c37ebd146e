/**
 * Worker-thread entry of the ingest writer: its own better-sqlite3 connection on the collector's
 * WAL file, where agent frames are parsed, validated, matched and stored in group commits
 * (plugins/commit-queue.ts), off the event loop that serves TLS, WebSockets and the API.
 *
 * The main thread keeps the live matcher for its own uses; this thread keeps its own and checks
 * store_generation (migration 7) at the start of every group's write transaction: a push of
 * indicators commits before the group begins (reload, so the group matches the new indicators)
 * or after it ends (the push's retro-hunt then sees the group's rows) — no frame falls between.
 * Item deletions by prune do the same for the cached item ids.
 *
 * Protocol (parentPort), in:  { t: 'frame', id, conn, host, data: Uint8Array, deflated }
 *                             { t: 'touch', host } | { t: 'cancel' | 'forget', conn }
 *                             { t: 'drain', id, withinMs? } | { t: 'close' }
 *                        out: { t: 'ready' } | { t: 'done', results: [id, outcome | null, error | null, seq][], heap? }
 *                             { t: 'drained', id, given_up } | { t: 'fatal', error }
 */
import { parentPort, workerData } from 'node:worker_threads';
import { getHeapStatistics } from 'node:v8';
import { openDb } from './db.js';
import { runInBackground } from './thread-priority.js';
import { InventoryStore } from './inventory.js';
import { IndicatorStore } from './indicators.js';
import { FrameApplier, type FrameOutcome } from './frame-apply.js';
import { CommitQueue } from '../plugins/commit-queue.js';
import { SHUTTING_DOWN } from '../plugins/frame-writer.js';

export interface IngestWorkerData { file: string; maxFrameBytes: number; budgetMs: number }
export type WriterResult = [id: number, outcome: FrameOutcome | null, error: string | null, seq: number | undefined];
export type ToWriter =
  | { t: 'frame'; id: number; conn: number; host: string; data: Uint8Array; deflated: boolean }
  | { t: 'touch'; host: string } | { t: 'cancel'; conn: number } | { t: 'forget'; conn: number }
  | { t: 'drain'; id: number; withinMs?: number } | { t: 'close' };
export type FromWriter =
  | { t: 'ready' } | { t: 'done'; results: WriterResult[]; heap?: [used: number, total: number] }
  | { t: 'drained'; id: number; given_up?: number } | { t: 'fatal'; error: string };

const port = parentPort!;
const { file, maxFrameBytes, budgetMs } = workerData as IngestWorkerData;
function start(): void {
  // When the CPU is short, the main thread (TLS, WebSockets, API) runs first.
  runInBackground();
  const db = openDb(file);
  const inventory = new InventoryStore(db);
  const indicators = new IndicatorStore(db);
  const generation = db.prepare('SELECT name, n FROM store_generation').raw();
  const readGenerations = (): Map<string, number> => new Map(generation.all() as Array<[string, number]>);
  let seenGen = readGenerations();
  let matcher = indicators.loadMatcher();
  const applier = new FrameApplier(db, inventory, () => matcher, maxFrameBytes);

  /** Inside the group's write transaction: nothing can change between this check and the commit. */
  const refresh = (): void => {
    const now = readGenerations();
    if (now.get('indicators') !== seenGen.get('indicators')) { matcher = indicators.loadMatcher(); inventory.matcherChanged(); }
    if (now.get('items') !== seenGen.get('items')) inventory.forgetCaches();
    seenGen = now;
  };
  const queue = new CommitQueue<FrameOutcome>({
    transaction: (fn) => { db.transaction(() => { refresh(); fn(); }).immediate(); },
    groupFailed: () => inventory.forgetCaches(),
    budgetMs,
  });
  const cancelled = new Set<number>();
  let results: WriterResult[] = [];
  let heapAt = 0;
  const post = (): void => {
    if (!results.length) return;
    const msg: FromWriter = { t: 'done', results };
    // This thread's heap (its item and match caches live here), for /metrics: at most once a second.
    if (Date.now() - heapAt >= 1000) {
      const h = getHeapStatistics();
      msg.heap = [h.used_heap_size, h.total_heap_size];
      heapAt = Date.now();
    }
    port.postMessage(msg);
    results = [];
  };
  // A group calls every done() synchronously after its commit: one message per group.
  const report = (r: WriterResult): void => { if (!results.length) queueMicrotask(post); results.push(r); };
  const flushAll = (): void => { while (queue.length) queue.flush(); post(); };

  port.on('message', (m: ToWriter) => {
    switch (m.t) {
      case 'frame': {
        const data = Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength);
        const seen: { seq?: number } = {};
        // Inflated and decoded only when its group runs: waiting frames stay (compressed) bytes, off the JS heap.
        queue.submit({
          hostId: m.host, weight: data.length,
          cancelled: () => cancelled.has(m.conn),
          run: () => applier.apply(m.host, data, seen, m.deflated),
          done: (err, out) => report([m.id, err ? null : out ?? null, err ? err.message : null, seen.seq]),
        });
        break;
      }
      case 'touch':
        queue.submit({ hostId: m.host, weight: 0, run: () => { applier.touch(m.host); return { kind: 'heartbeat' }; }, done: () => undefined });
        break;
      case 'cancel': cancelled.add(m.conn); break;
      case 'forget': cancelled.delete(m.conn); break;
      case 'drain': {
        let givenUp = 0;
        if (m.withinMs !== undefined) { givenUp = queue.drainWithin(m.withinMs, new Error(SHUTTING_DOWN)); post(); } else flushAll();
        port.postMessage({ t: 'drained', id: m.id, given_up: givenUp } satisfies FromWriter);
        break;
      }
      case 'close': flushAll(); db.close(); port.close(); break;
    }
  });
  port.postMessage({ t: 'ready' } satisfies FromWriter);
}

try { start(); } catch (err) {
  port.postMessage({ t: 'fatal', error: (err as Error).message } satisfies FromWriter);
  port.close();
}
