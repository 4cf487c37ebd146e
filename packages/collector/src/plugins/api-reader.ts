/**
 * Where the API's heavy reads run (store/api-reads.ts): on reader threads, each with its own
 * connection, when the database is a file; inline on an in-memory one (a second connection
 * would see another, empty database). The main thread's event loop serves every agent's TLS
 * and WebSocket traffic and every request: a fleet-wide search or an alert page built there
 * held all of them up for its length (the fleet bench's longest main-thread stretches were
 * API reads and the garbage they left).
 *
 * Three threads, and each read goes to the one expected to be free first (read-costs.ts); a read
 * expected to run past LONG_READ_MS never goes to the last, so a cheap read always has a thread
 * no long one holds. With one thread, a hash search (~1 ms) waited behind a search for a package
 * every host holds (12 ms on a quiet 10,000-host store, 30–60 ms beside a storming writer, whose
 * commits start every read with a cold page cache): its p50 there was 34 ms and its p99 185 ms,
 * while the same reads run apart peaked at 15 ms. With two threads open to every read, the fleet
 * bench's two concurrent software searches took both, and alert pages and hash searches queued
 * 75–100 ms behind them at p99 in the storm and churn (chainwatch_api_read_seconds).
 *
 * A read the same as one already sent (same op and parameters) shares its answer instead of
 * running again, unless this collector wrote to the store since that one was sent (an alert
 * acknowledged, indicators pushed: the answer must show what the caller just did). Dashboards
 * and analysts ask the same fleet-wide search at once (everyone looks for the package named in
 * the morning's advisory); each extra copy cost a thread 15-50 ms. The shared answer is at most
 * one read's run older than the request, as if it had arrived a moment earlier; agents' own
 * inventory reaches the store seconds apart anyway.
 *
 * A thread answers in arrival order. At most MAX_QUEUED reads wait in all (more: CW_API_BUSY,
 * 503); one that runs past READ_TIMEOUT_MS costs its thread (SQLite cannot be interrupted from
 * here): it is terminated, what it held fails with 500, and a new one starts.
 */
import { Worker } from 'node:worker_threads';
import type { FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { cachedStatement, type DB } from '../store/db.js';
import { runApiRead, type ApiRead } from '../store/api-reads.js';
import type { FromReader, ReaderWorkerData, ToReader } from '../store/reader-worker.js';
import { Errors } from '../errors.js';
import { ReadCosts } from './read-costs.js';

const ENTRY = new URL(`../store/reader-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);
export const MAX_QUEUED = 256;
export const READ_TIMEOUT_MS = 60_000;
export const READER_THREADS = 3;
/** Above this expected cost (ms), a read is long: it may take any thread but the last (with one thread, that one). */
export const LONG_READ_MS = 10;

export interface ApiReader {
  /** The response body (JSON, UTF-8) of one read. */
  read(r: ApiRead): Promise<Buffer>;
  /** Starts the threads now, so the first requests do not wait for them (a thread starts in ~0.1–0.5 s). */
  warm(): void;
  close(): Promise<void>;
}

/**
 * queueMs: behind other reads on its thread, and the message there; replyMs: the answer waiting
 * for this thread's event loop. Of runMs, where the kernel tells (Linux): cpuMs on a CPU,
 * cpuWaitMs runnable but waiting for a CPU; the rest blocked (disk, locks).
 */
export interface ReadTimes { queueMs: number; runMs: number; replyMs: number; cpuMs?: number; cpuWaitMs?: number }

export interface ApiReaderOptions {
  thread?: boolean; threads?: number; timeoutMs?: number;
  /** Told of each answered read, in ms: from sent to started on its thread, running there, from answered to taken by this thread. */
  onRead?: (op: ApiRead['op'], t: ReadTimes) => void;
  /** Told of each read that shared the answer of the same read already sent. */
  onShared?: (op: ApiRead['op']) => void;
}

export function apiReader(db: DB, log: Logger, opts: ApiReaderOptions = {}): ApiReader {
  if (!(opts.thread ?? !db.memory)) return inlineReader(db);
  const threads = opts.threads !== undefined && Number.isInteger(opts.threads) && opts.threads > 0 ? opts.threads : READER_THREADS;
  // Rows this collector's own connection changed since it opened: moves with every write made here (not the writer thread's).
  const ownWrites = cachedStatement(db, 'SELECT total_changes()', 'pluck');
  return new ReaderPool(db.name, log, threads, opts.timeoutMs ?? READ_TIMEOUT_MS, () => ownWrites.get() as number, opts.onRead, opts.onShared);
}

/** What the OpenAPI description of a route answered by answerRead says of shared answers. */
export const SHARED_READ_NOTE = 'A request the same as one being read at that moment shares its answer (read at most one '
  + 'read earlier); a change made through this collector before the request is always in the answer.';

/**
 * Sends a read's body as the route's 200 answer. A Buffer: fastify sends it as it is, where a
 * string with a JSON type would be serialised again; the body already has the 200 schema's shape.
 */
export async function answerRead(reply: FastifyReply, reader: ApiReader, r: ApiRead): Promise<FastifyReply> {
  return reply.type('application/json; charset=utf-8').send(await reader.read(r));
}

function inlineReader(db: DB): ApiReader {
  return { read: async (r) => Buffer.from(runApiRead(db, r)), warm: () => undefined, close: async () => undefined };
}

/** sentAt: ms since the epoch (performance.timeOrigin-based, comparable with the thread's doneAt). */
interface Waiting { read: ApiRead; cost: number; sentAt: number; resolve(b: Buffer): void; reject(e: Error): void; timer: NodeJS.Timeout }
type OnRead = NonNullable<ApiReaderOptions['onRead']>;

/** A read sent to a thread and not yet answered, with the collector's own write count when it was sent. */
interface InFlight { answer: Promise<Buffer>; writes: number }

class ReaderPool implements ApiReader {
  private readonly lanes: ReaderLane[];
  private readonly costs = new ReadCosts();
  /** By the read's JSON (op and parameters): what a same read can share. */
  private readonly inFlight = new Map<string, InFlight>();
  /** Reads answered by sharing, for tests and diagnostics. */
  shared = 0;
  private closed = false;

  constructor(file: string, log: Logger, threads: number, timeoutMs: number, private readonly writes: () => number,
    onRead?: OnRead, private readonly onShared?: (op: ApiRead['op']) => void) {
    this.lanes = Array.from({ length: threads }, (_, i) => new ReaderLane(file, log, timeoutMs, i, this.costs, onRead));
  }

  warm(): void { if (!this.closed) for (const lane of this.lanes) lane.thread(); }

  read(r: ApiRead): Promise<Buffer> {
    if (this.closed) return Promise.reject(new Errors.CW_API_BUSY('the collector is stopping'));
    const key = JSON.stringify(r), writes = this.writes(), same = this.inFlight.get(key);
    if (same && same.writes === writes) {
      this.shared++;
      this.onShared?.(r.op);
      return same.answer;
    }
    const answer = this.send(r);
    const entry: InFlight = { answer, writes };
    this.inFlight.set(key, entry);
    const done = () => { if (this.inFlight.get(key) === entry) this.inFlight.delete(key); };
    answer.then(done, done);
    return answer;
  }

  private send(r: ApiRead): Promise<Buffer> {
    let waiting = 0;
    for (const lane of this.lanes) waiting += lane.waiting.size;
    if (waiting >= MAX_QUEUED) return Promise.reject(new Errors.CW_API_BUSY(`${MAX_QUEUED} reads already waiting`));
    const cost = this.costs.estimate(r);
    const open = cost > LONG_READ_MS && this.lanes.length > 1 ? this.lanes.length - 1 : this.lanes.length;
    // The open lane whose queued reads are expected to finish first; on a tie the first (an idle lane has none).
    let best = this.lanes[0]!;
    for (let i = 1; i < open; i++) if (this.lanes[i]!.backlogMs < best.backlogMs) best = this.lanes[i]!;
    return best.read(r, cost);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.lanes.map((lane) => lane.close()));
  }
}

/** One reader thread and the reads it holds, with their expected cost in all (backlogMs). */
class ReaderLane {
  worker: Worker | null = null;
  readonly waiting = new Map<number, Waiting>();
  backlogMs = 0;
  /** Reads answered, for tests and diagnostics. */
  served = 0;
  private nextId = 1;
  private closing = false;

  constructor(private readonly file: string, private readonly log: Logger, private readonly timeoutMs: number,
    private readonly index: number, private readonly costs: ReadCosts, private readonly onRead?: OnRead) {}

  /** Started by warm() (the collector listening) or the first read; after a loss, by the next read. */
  thread(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(ENTRY, { workerData: { file: this.file } satisfies ReaderWorkerData });
    w.unref();
    w.on('message', (m: FromReader) => { if ('id' in m) this.settle(m); });
    w.on('error', (err) => this.lost(w, err));
    w.on('exit', (code) => this.lost(w, new Error(`API reader exited with code ${code}`)));
    return this.worker = w;
  }

  read(r: ApiRead, cost: number): Promise<Buffer> {
    const w = this.thread(), id = this.nextId++;
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => this.lost(w, new Error(`an API read ran past ${this.timeoutMs} ms`)), this.timeoutMs);
      this.waiting.set(id, { read: r, cost, sentAt: performance.timeOrigin + performance.now(), resolve, reject, timer });
      this.backlogMs += cost;
      w.postMessage({ id, read: r } satisfies ToReader);
    });
  }

  private settle(m: Exclude<FromReader, { t: 'ready' }>): void {
    const w = this.waiting.get(m.id);
    if (!w) return;
    this.waiting.delete(m.id);
    clearTimeout(w.timer);
    this.backlogMs = this.waiting.size ? Math.max(0, this.backlogMs - w.cost) : 0;
    this.served++;
    this.costs.learn(w.read, m.ms);
    const now = performance.timeOrigin + performance.now();
    this.onRead?.(w.read.op, {
      queueMs: Math.max(0, m.doneAt - m.ms - w.sentAt), runMs: m.ms, replyMs: Math.max(0, now - m.doneAt),
      ...(m.cpuMs !== undefined && m.cpuWaitMs !== undefined ? { cpuMs: m.cpuMs, cpuWaitMs: m.cpuWaitMs } : {}),
    });
    if ('body' in m) w.resolve(Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength));
    else w.reject(new Error(`API read failed: ${m.error}`));
  }

  /** The thread died or overran: what it held fails, the next read starts a new one. */
  private lost(w: Worker, err: Error): void {
    if (w !== this.worker) return;
    this.worker = null;
    void w.terminate();
    if (!this.closing) this.log.error({ err, thread: this.index, reads: this.waiting.size }, 'API reader thread lost; its reads fail and the next read starts a new one');
    const held = [...this.waiting.values()];
    this.waiting.clear();
    this.backlogMs = 0;
    for (const h of held) { clearTimeout(h.timer); h.reject(err); }
  }

  async close(): Promise<void> {
    this.closing = true;
    const w = this.worker;
    if (!w) return;
    this.lost(w, new Errors.CW_API_BUSY('the collector is stopping'));
    await w.terminate();
  }
}
