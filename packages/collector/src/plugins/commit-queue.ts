/**
 * Group commit for agent batches. Frames that arrive while the database is busy wait here and
 * are applied together, each in its own savepoint inside one transaction: one commit (one WAL
 * write of the shared index pages) for many agents' frames instead of one per frame. A frame is
 * still acknowledged only after the transaction holding it commits, and one frame's failure
 * rolls back only its savepoint.
 *
 * A group stops taking frames after `budgetMs` so the event loop (API requests, other agents'
 * sockets) gets a turn between groups, and the queue is bounded: past `maxQueuedItems` the
 * submitting connection is paused until the queue drains below half.
 */
import type { InventoryFrame } from '@chainwatch/shared';
import type { BatchResult } from '../store/inventory.js';

export interface QueuedFrame {
  hostId: string;
  frame: InventoryFrame;
  /** True once the connection gave up (an earlier batch failed): the frame is dropped unapplied. */
  cancelled?(): boolean;
  /** Called once: with the result after commit, or with the error (frame or commit failed). */
  done(err: Error | null, res?: BatchResult): void;
}

export interface CommitQueueOptions {
  /** Applies one frame inside the open transaction (a nested transaction = savepoint). */
  apply(hostId: string, frame: InventoryFrame): BatchResult;
  /** Runs `fn` in one transaction; throws if it or the commit fails. */
  transaction(fn: () => void): void;
  /** After a failed commit: anything cached about rows written by the group is stale. */
  groupFailed(): void;
  budgetMs?: number;
  maxQueuedItems?: number;
}

export interface Pausable { pause(): void; resume(): void }

export class CommitQueue {
  private readonly queue: QueuedFrame[] = [];
  private queuedItems = 0;
  private scheduled = false;
  private readonly paused = new Set<Pausable>();
  private readonly budgetMs: number;
  private readonly maxQueuedItems: number;
  /** Figures for /metrics and the bench: groups committed and frames per group. */
  groups = 0;
  framesCommitted = 0;

  constructor(private readonly opts: CommitQueueOptions) {
    this.budgetMs = opts.budgetMs ?? 40;
    this.maxQueuedItems = opts.maxQueuedItems ?? 50_000;
  }

  get length(): number { return this.queue.length; }

  /** Queues a frame; `source` is paused while the queue is over its bound. */
  submit(entry: QueuedFrame, source?: Pausable): void {
    this.queue.push(entry);
    this.queuedItems += entry.frame.items.length;
    if (source && this.queuedItems > this.maxQueuedItems && !this.paused.has(source)) {
      this.paused.add(source);
      source.pause();
    }
    if (!this.scheduled) { this.scheduled = true; setImmediate(this.flush); }
  }

  /** Applies and commits queued frames until the queue is empty or the time budget is spent. */
  readonly flush = (): void => {
    this.scheduled = false;
    if (this.queue.length === 0) return;
    const started = performance.now();
    const applied: Array<[QueuedFrame, BatchResult]> = [];
    const failed: Array<[QueuedFrame, Error]> = [];
    const brokenHosts = new Set<string>();
    try {
      this.opts.transaction(() => {
        // At least one frame per group, whatever the budget.
        for (let taken = 0; this.queue.length && (taken === 0 || performance.now() - started < this.budgetMs); taken++) {
          const entry = this.queue.shift()!;
          this.queuedItems -= entry.frame.items.length;
          // A later frame of a host whose earlier frame failed must not overtake it.
          if (brokenHosts.has(entry.hostId) || entry.cancelled?.()) { failed.push([entry, new Error('an earlier batch of this host failed')]); continue; }
          try { applied.push([entry, this.opts.apply(entry.hostId, entry.frame)]); } catch (err) {
            brokenHosts.add(entry.hostId);
            failed.push([entry, err as Error]);
          }
        }
      });
    } catch (err) {
      this.opts.groupFailed();
      for (const [entry] of applied) failed.push([entry, err as Error]);
      applied.length = 0;
    }
    this.groups++;
    this.framesCommitted += applied.length;
    for (const [entry, res] of applied) entry.done(null, res);
    for (const [entry, err] of failed) entry.done(err);
    if (this.paused.size && this.queuedItems <= this.maxQueuedItems / 2) {
      for (const s of this.paused) s.resume();
      this.paused.clear();
    }
    if (this.queue.length && !this.scheduled) { this.scheduled = true; setImmediate(this.flush); }
  };

  /** A closed connection must not stay in the paused set. */
  forget(source: Pausable): void { this.paused.delete(source); }
}
