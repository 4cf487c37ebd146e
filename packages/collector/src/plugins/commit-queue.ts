/**
 * Group commit for agent batches. Frames that arrive while the database is busy wait here and
 * are applied together, each in its own savepoint inside one transaction: one commit (one WAL
 * write of the shared index pages) for many agents' frames instead of one per frame. A frame is
 * still acknowledged only after the transaction holding it commits, and one frame's failure
 * rolls back only its savepoint.
 *
 * Frames wait unparsed: parsing and validating happen in the group, inside its time budget,
 * so the work one event-loop turn does for ingest is bounded by `budgetMs` however many agents
 * sent at once (API requests and other sockets get their turn between groups). The queue is
 * bounded too: past `maxQueuedWeight` bytes no connection is read until the queue drains
 * below half.
 */
export interface QueuedWork<R> {
  hostId: string;
  /** What holding it costs while it waits (bytes of the frame): bounds the queue. */
  weight: number;
  /** True once the connection gave up (an earlier batch failed): dropped, never run. */
  cancelled?(): boolean;
  /** Runs inside the group's transaction (frame writes in their own savepoint); throws on failure. */
  run(): R;
  /** Called once, after the commit: with run()'s result, or with the error (run or commit failed). */
  done(err: Error | null, res?: R): void;
}

export interface CommitQueueOptions {
  /** Runs `fn` in one transaction; throws if it or the commit fails. */
  transaction(fn: () => void): void;
  /** After a failed commit: anything cached about rows written by the group is stale. */
  groupFailed(): void;
  budgetMs?: number;
  maxQueuedWeight?: number;
}

export interface Pausable { pause(): void; resume(): void }

/**
 * A bound on bytes waiting: past `max`, every connection that joined stops being read (not only
 * the one that crossed the bound: each of thousands of agents would otherwise get one more
 * large frame in — 10,000 × ~800 KB); once the total is back to half, all resume.
 */
export class WeightGate {
  private weight = 0;
  private held = false;
  private readonly members = new Set<Pausable>();

  constructor(private readonly max: number) {}

  get total(): number { return this.weight; }

  /** A source (connection) the gate may pause; paused at once while the gate is held. */
  join(source: Pausable): void {
    this.members.add(source);
    if (this.held) source.pause();
  }

  add(weight: number, source?: Pausable): void {
    if (source && !this.members.has(source)) this.join(source);
    this.weight += weight;
    if (!this.held && this.weight > this.max) {
      this.held = true;
      for (const s of this.members) s.pause();
    }
  }

  /** Takes weight off without resuming anyone yet (see settle). */
  sub(weight: number): void { this.weight -= weight; }

  /** Resumes every source when the total is back under half the bound. */
  settle(): void {
    if (this.held && this.weight <= this.max / 2) {
      this.held = false;
      for (const s of this.members) s.resume();
    }
  }

  /** A closed connection leaves the gate. */
  forget(source: Pausable): void { this.members.delete(source); }
}

export class CommitQueue<R> {
  private readonly queue: Array<QueuedWork<R>> = [];
  private scheduled = false;
  private readonly gate: WeightGate;
  private readonly budgetMs: number;
  /** Figures for /metrics and the bench: groups committed and frames per group. */
  groups = 0;
  framesCommitted = 0;

  constructor(private readonly opts: CommitQueueOptions) {
    this.budgetMs = opts.budgetMs ?? 40;
    this.gate = new WeightGate(opts.maxQueuedWeight ?? 24 * 1024 * 1024);
  }

  get length(): number { return this.queue.length; }

  /** Queues work; `source` is paused while the queue is over its bound. */
  submit(entry: QueuedWork<R>, source?: Pausable): void {
    this.queue.push(entry);
    this.gate.add(entry.weight, source);
    if (!this.scheduled) { this.scheduled = true; setImmediate(this.flush); }
  }

  /** Runs and commits queued work until the queue is empty or the time budget is spent. */
  readonly flush = (): void => {
    this.scheduled = false;
    if (this.queue.length === 0) return;
    const started = performance.now();
    const applied: Array<[QueuedWork<R>, R]> = [];
    const failed: Array<[QueuedWork<R>, Error]> = [];
    const brokenHosts = new Set<string>();
    try {
      this.opts.transaction(() => {
        // At least one frame per group, whatever the budget.
        for (let taken = 0; this.queue.length && (taken === 0 || performance.now() - started < this.budgetMs); taken++) {
          const entry = this.queue.shift()!;
          this.gate.sub(entry.weight);
          // A later frame of a host whose earlier frame failed must not overtake it.
          if (brokenHosts.has(entry.hostId) || entry.cancelled?.()) { failed.push([entry, new Error('an earlier batch of this host failed')]); continue; }
          try { applied.push([entry, entry.run()]); } catch (err) {
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
    this.gate.settle();
    if (this.queue.length && !this.scheduled) { this.scheduled = true; setImmediate(this.flush); }
  };

  /**
   * Commits queued work for at most `withinMs`, then fails whatever is left without running it
   * (a shutdown: those frames were never acknowledged, so their agents resend them). Returns
   * how many entries were given up.
   */
  drainWithin(withinMs: number, reason: Error): number {
    const deadline = performance.now() + withinMs;
    while (this.queue.length && performance.now() < deadline) this.flush();
    const left = this.queue.splice(0);
    for (const entry of left) { this.gate.sub(entry.weight); entry.done(reason); }
    this.gate.settle();
    return left.length;
  }

  /** A connection the queue's bound may pause (see WeightGate). */
  join(source: Pausable): void { this.gate.join(source); }

  /** A closed connection leaves the gate. */
  forget(source: Pausable): void { this.gate.forget(source); }
}
