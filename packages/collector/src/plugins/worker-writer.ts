/**
 * The main thread's side of the ingest writer thread (store/ingest-worker.ts): frames go over
 * as bytes with an id, results come back one message per committed group. Bytes waiting in the
 * writer are bounded (WeightGate): past the bound the submitting sockets stop being read.
 *
 * If the writer thread dies, every frame it held fails (its connection closes with 1011, the
 * agent reconnects and resends from its spool) and a new writer starts; nothing was
 * acknowledged that was not committed. The main connection stops checkpointing: a background
 * thread does it (plugins/checkpointer.ts), the writer's connection past 64 MB of WAL (a
 * checkpoint on the main thread would stall the API for its duration).
 */
import { Worker } from 'node:worker_threads';
import type { CollectorService } from '../service.js';
import type { FromWriter, IngestWorkerData, ToWriter, WriterResult } from '../store/ingest-worker.js';
import { WeightGate, type Pausable } from './commit-queue.js';
import type { FrameDone, FrameWriter, WriterOptions } from './frame-writer.js';
import { Checkpointer } from './checkpointer.js';

/** The worker entry beside this file's package: .ts when run from source (tests), .js when built. */
const ENTRY = new URL(`../store/ingest-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);
const RESPAWN_MS = 1000;
/**
 * How long one group commit may run in the writer thread. Long groups write the index pages that
 * many frames share once per group, not once per short group: 3,000 agents' first inventories
 * went from 72k items/s at 100 ms to 75–78k at 1 s (fleet bench, one run each; the storm did not move).
 * The thread holds no event loop anyone waits on; an ack comes at most this much later.
 */
const GROUP_BUDGET_MS = 1000;
const CLOSE_TIMEOUT_MS = 30_000;

/**
 * The frame's bytes in a buffer of their own, to be moved (not cloned) to the writer. ws hands
 * over a message that spans several inflate chunks as a buffer it made for it alone: that one
 * moves as it is. A single chunk (or an uncompressed frame) is a view into a larger buffer ws or
 * zlib keeps using: those bytes are copied. Each copy was one more buffer allocation per frame,
 * and buffer allocations are what start V8's full GCs on the main thread (gc-tuning.ts).
 */
function ownedBytes(data: Buffer): Uint8Array {
  if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.byteLength > 4096) return new Uint8Array(data.buffer, 0, data.byteLength);
  const copy = new Uint8Array(data.byteLength);
  copy.set(data);
  return copy;
}

export class WorkerFrameWriter implements FrameWriter {
  private worker!: Worker;
  private readonly pending = new Map<number, { done: FrameDone; weight: number }>();
  private readonly drains = new Map<number, (givenUp: number) => void>();
  private readonly gate: WeightGate;
  private nextId = 1;
  private closing = false;
  /** Connections cancelled (broken off) and not yet forgotten: the writer holds their ids. */
  private readonly cancelled = new Set<number>();
  private heap: { used: number; total: number } | null = null;
  /**
   * Copies the WAL into the file in the background, so the writer's own checkpoints find it done.
   * Started with the first committed group: a collector that stores nothing runs no such thread.
   */
  private checkpointer: Checkpointer | null = null;

  constructor(private readonly svc: CollectorService, private readonly opts: WriterOptions) {
    this.gate = new WeightGate(opts.maxQueuedWeight ?? 24 * 1024 * 1024);
    svc.db.pragma('wal_autocheckpoint = 0');
    this.spawn();
  }

  private spawn(): void {
    const workerData: IngestWorkerData = { file: this.svc.db.name, maxFrameBytes: this.opts.maxFrameBytes, budgetMs: this.opts.budgetMs ?? GROUP_BUDGET_MS };
    const w = new Worker(ENTRY, { workerData });
    this.worker = w;
    w.on('message', (m: FromWriter) => this.onMessage(w, m));
    w.on('error', (err) => this.lost(w, err));
    w.on('exit', (code) => { if (!this.closing) this.lost(w, new Error(`ingest writer exited with code ${code}`)); });
  }

  private onMessage(w: Worker, m: FromWriter): void {
    if (m.t === 'done') {
      if (m.heap) this.heap = { used: m.heap[0], total: m.heap[1] };
      if (!this.checkpointer && !this.closing) this.checkpointer = new Checkpointer(this.svc.db.name, this.svc.log);
      this.settle(m.results);
    }
    else if (m.t === 'drained') { this.drains.get(m.id)?.(m.given_up ?? 0); this.drains.delete(m.id); }
    else if (m.t === 'fatal') this.lost(w, new Error(`ingest writer failed to start: ${m.error}`));
  }

  threadHeap(): { used: number; total: number } | null { return this.heap; }

  private settle(results: WriterResult[]): void {
    for (const [id, out, error, seq] of results) {
      const p = this.pending.get(id);
      if (!p) continue;
      this.pending.delete(id);
      this.gate.sub(p.weight);
      p.done(error === null ? null : new Error(error), out ?? undefined, seq);
    }
    this.gate.settle();
  }

  /** The writer thread is gone: fail what it held, start another (unless shutting down). */
  private lost(w: Worker, err: Error): void {
    if (w !== this.worker || this.closing) return;
    this.svc.log.error({ err, frames: this.pending.size }, 'ingest writer thread lost; its frames fail and a new writer starts');
    this.worker = null as unknown as Worker;
    void w.terminate();
    const held = [...this.pending.values()];
    this.pending.clear();
    for (const p of held) { this.gate.sub(p.weight); p.done(err, undefined, undefined); }
    this.gate.settle();
    for (const resolve of this.drains.values()) resolve(0);
    this.drains.clear();
    setTimeout(() => { if (!this.closing) this.spawn(); }, RESPAWN_MS).unref();
  }

  private post(m: ToWriter, transfer?: ArrayBuffer[]): boolean {
    if (!this.worker) return false;
    this.worker.postMessage(m, transfer);
    return true;
  }

  submit(conn: number, hostId: string, data: Buffer, deflated: boolean, flow: Pausable, done: FrameDone): void {
    const weight = data.byteLength;
    const bytes = ownedBytes(data);
    const id = this.nextId++;
    if (!this.post({ t: 'frame', id, conn, host: hostId, data: bytes, deflated }, [bytes.buffer as ArrayBuffer])) {
      done(new Error('ingest writer restarting'), undefined, undefined);
      return;
    }
    this.pending.set(id, { done, weight });
    this.gate.add(weight, flow);
  }

  open(hostId: string, flow: Pausable): void { this.gate.join(flow); this.post({ t: 'touch', host: hostId }); }
  cancel(conn: number): void { this.cancelled.add(conn); this.post({ t: 'cancel', conn }); }
  /**
   * The writer keeps state only for cancelled connections, so only their end is worth a message:
   * one per closing connection was ~14 % of the main thread's work when 3,000 agents left at once.
   */
  forget(conn: number, flow: Pausable): void {
    this.gate.forget(flow);
    if (this.cancelled.delete(conn)) this.post({ t: 'forget', conn });
  }

  drain(withinMs?: number): Promise<number> {
    if (this.closing) return Promise.resolve(0);
    const id = this.nextId++;
    return new Promise((resolve) => {
      if (!this.post({ t: 'drain', id, ...(withinMs !== undefined ? { withinMs } : {}) })) return resolve(0);
      this.drains.set(id, resolve);
    });
  }

  async close(): Promise<void> {
    if (this.closing) return;
    await this.drain();
    this.closing = true;
    const w = this.worker;
    if (!w) return this.checkpointer?.close();
    const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
    w.postMessage({ t: 'close' } satisfies ToWriter);
    const timer = setTimeout(() => void w.terminate(), CLOSE_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
    await this.checkpointer?.close();
  }
}
