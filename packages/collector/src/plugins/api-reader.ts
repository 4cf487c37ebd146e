/**
 * Where the API's heavy reads run (store/api-reads.ts): on a reader thread with its own
 * connection when the database is a file, inline on an in-memory one (a second connection
 * would see another, empty database). The main thread's event loop serves every agent's TLS
 * and WebSocket traffic and every request: a fleet-wide search or an alert page built there
 * held all of them up for its length (the fleet bench's longest main-thread stretches were
 * API reads and the garbage they left).
 *
 * Reads are answered in arrival order. At most MAX_QUEUED wait (more: CW_API_BUSY, 503); one
 * that runs past READ_TIMEOUT_MS costs the thread (SQLite cannot be interrupted from here): it
 * is terminated, what it held fails with 500, and a new one starts.
 */
import { Worker } from 'node:worker_threads';
import type { FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import type { DB } from '../store/db.js';
import { runApiRead, type ApiRead } from '../store/api-reads.js';
import type { FromReader, ReaderWorkerData, ToReader } from '../store/reader-worker.js';
import { Errors } from '../errors.js';

const ENTRY = new URL(`../store/reader-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);
export const MAX_QUEUED = 256;
export const READ_TIMEOUT_MS = 60_000;

export interface ApiReader {
  /** The response body (JSON, UTF-8) of one read. */
  read(r: ApiRead): Promise<Buffer>;
  /** Starts the thread now, so the first request does not wait for it (a thread starts in ~0.1–0.5 s). */
  warm(): void;
  close(): Promise<void>;
}

export function apiReader(db: DB, log: Logger, opts: { thread?: boolean; timeoutMs?: number } = {}): ApiReader {
  return (opts.thread ?? !db.memory) ? new ThreadReader(db.name, log, opts.timeoutMs ?? READ_TIMEOUT_MS) : inlineReader(db);
}

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

interface Waiting { resolve(b: Buffer): void; reject(e: Error): void; timer: NodeJS.Timeout }

class ThreadReader implements ApiReader {
  private worker: Worker | null = null;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;
  private closed = false;

  constructor(private readonly file: string, private readonly log: Logger, private readonly timeoutMs: number) {}

  warm(): void { if (!this.closed) this.thread(); }

  /** Started by warm() (the collector listening) or the first read; after a loss, by the next read. */
  private thread(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(ENTRY, { workerData: { file: this.file } satisfies ReaderWorkerData });
    w.unref();
    w.on('message', (m: FromReader) => { if ('id' in m) this.settle(m); });
    w.on('error', (err) => this.lost(w, err));
    w.on('exit', (code) => this.lost(w, new Error(`API reader exited with code ${code}`)));
    return this.worker = w;
  }

  read(r: ApiRead): Promise<Buffer> {
    if (this.closed) return Promise.reject(new Errors.CW_API_BUSY('the collector is stopping'));
    if (this.waiting.size >= MAX_QUEUED) return Promise.reject(new Errors.CW_API_BUSY(`${MAX_QUEUED} reads already waiting`));
    const w = this.thread(), id = this.nextId++;
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => this.lost(w, new Error(`an API read ran past ${this.timeoutMs} ms`)), this.timeoutMs);
      this.waiting.set(id, { resolve, reject, timer });
      w.postMessage({ id, read: r } satisfies ToReader);
    });
  }

  private settle(m: Exclude<FromReader, { t: 'ready' }>): void {
    const w = this.waiting.get(m.id);
    if (!w) return;
    this.waiting.delete(m.id);
    clearTimeout(w.timer);
    if ('body' in m) w.resolve(Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength));
    else w.reject(new Error(`API read failed: ${m.error}`));
  }

  /** The thread died or overran: what it held fails, the next read starts a new one. */
  private lost(w: Worker, err: Error): void {
    if (w !== this.worker) return;
    this.worker = null;
    void w.terminate();
    if (!this.closed) this.log.error({ err, reads: this.waiting.size }, 'API reader thread lost; its reads fail and the next read starts a new one');
    const held = [...this.waiting.values()];
    this.waiting.clear();
    for (const h of held) { clearTimeout(h.timer); h.reject(err); }
  }

  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    if (!w) return;
    this.lost(w, new Errors.CW_API_BUSY('the collector is stopping'));
    await w.terminate();
  }
}
