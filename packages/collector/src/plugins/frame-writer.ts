/**
 * Where agent frames get stored. Two writers behind one interface:
 *  - InlineFrameWriter: the commit queue on the main thread, on the service's connection
 *    (':memory:' databases, which one connection owns);
 *  - WorkerFrameWriter (plugins/worker-writer.ts): a writer thread with its own connection to
 *    the database file, so parsing, validating and SQLite never hold the event loop that serves
 *    TLS, WebSockets and the API.
 * Frames of one connection are stored in the order submitted; each `done` is called once, after
 * the transaction holding the frame committed (or with the error that lost it).
 */
import type { CollectorService } from '../service.js';
import { FrameApplier, type FrameOutcome } from '../store/frame-apply.js';
import { CommitQueue, type Pausable } from './commit-queue.js';

export type FrameDone = (err: Error | null, out: FrameOutcome | undefined, seq: number | undefined) => void;

export interface FrameWriter {
  /**
   * Queues a frame of connection `conn`; `flow` is paused while too many bytes wait. `deflated`:
   * `data` is still compressed (plugins/ws-deflate.ts), inflated where the frame is stored.
   */
  submit(conn: number, hostId: string, data: Buffer, deflated: boolean, flow: Pausable, done: FrameDone): void;
  /** A connection opened: its host was seen now (stored with the next group); `flow` is paused while too many bytes wait. */
  open(hostId: string, flow: Pausable): void;
  /** The connection is broken: its queued frames are dropped (done with an error), never stored. */
  cancel(conn: number): void;
  /** The connection closed. */
  forget(conn: number, flow: Pausable): void;
  /**
   * Resolves once everything submitted so far is committed and its `done` called. With
   * `withinMs` (shutdown), frames not started by then fail with SHUTTING_DOWN instead: they were
   * never acknowledged, so their agents resend them to the next collector. Resolves to the
   * number of frames given up.
   */
  drain(withinMs?: number): Promise<number>;
  close(): Promise<void>;
  /** The writer thread's JavaScript heap as it last reported (bytes), or null without a thread. */
  threadHeap(): { used: number; total: number } | null;
}

/** The error of frames given up by a bounded drain at shutdown. */
export const SHUTTING_DOWN = 'collector shutting down; frame not stored';

export interface WriterOptions { maxFrameBytes: number; budgetMs?: number; maxQueuedWeight?: number }

export class InlineFrameWriter implements FrameWriter {
  private readonly queue: CommitQueue<FrameOutcome>;
  private readonly applier: FrameApplier;
  private readonly cancelled = new Set<number>();

  constructor(private readonly svc: CollectorService, opts: WriterOptions) {
    this.applier = new FrameApplier(svc.db, svc.inventory, () => svc.matcher, opts.maxFrameBytes);
    this.queue = new CommitQueue<FrameOutcome>({
      transaction: (fn) => { svc.db.transaction(fn).immediate(); },
      groupFailed: () => svc.inventory.forgetCaches(),
      ...(opts.budgetMs !== undefined ? { budgetMs: opts.budgetMs } : {}),
      ...(opts.maxQueuedWeight !== undefined ? { maxQueuedWeight: opts.maxQueuedWeight } : {}),
    });
  }

  submit(conn: number, hostId: string, data: Buffer, deflated: boolean, flow: Pausable, done: FrameDone): void {
    const seen: { seq?: number } = {};
    this.queue.submit({
      hostId, weight: data.length,
      cancelled: () => this.cancelled.has(conn),
      run: () => this.applier.apply(hostId, data, seen, deflated),
      done: (err, out) => done(err, err ? undefined : out, seen.seq),
    }, flow);
  }

  open(hostId: string, flow: Pausable): void {
    this.queue.join(flow);
    this.queue.submit({ hostId, weight: 0, run: () => { this.applier.touch(hostId); return { kind: 'heartbeat' }; }, done: () => undefined });
  }

  cancel(conn: number): void { this.cancelled.add(conn); }

  forget(conn: number, flow: Pausable): void { this.cancelled.delete(conn); this.queue.forget(flow); }

  drain(withinMs?: number): Promise<number> {
    if (withinMs !== undefined) return Promise.resolve(this.queue.drainWithin(withinMs, new Error(SHUTTING_DOWN)));
    while (this.queue.length) this.queue.flush();
    return Promise.resolve(0);
  }

  threadHeap(): null { return null; }

  async close(): Promise<void> { await this.drain(); }
}
