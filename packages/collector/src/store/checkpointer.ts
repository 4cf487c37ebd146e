/**
 * WAL checkpoints off the event loop. With SQLite's automatic checkpoint, the commit that
 * crosses the threshold copies the WAL into the database file and fsyncs it — on the thread
 * that committed, i.e. the collector's event loop, for hundreds of milliseconds under a fleet's
 * initial sync (every agent and API request waits). Here a worker thread with its own connection
 * runs PASSIVE checkpoints (they never wait for or block the writer or readers) once a second,
 * and the collector's connection stops checkpointing by itself.
 *
 * If the worker dies, automatic checkpoints come back on the main connection: the WAL must
 * never grow without bound.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { DB } from './db.js';

const WORKER = new URL(`./checkpoint-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);
/** Pages: what the ingest connection used when it checkpointed by itself (64 MB of WAL). */
export const INLINE_CHECKPOINT_PAGES = 16384;

export class Checkpointer {
  private worker: Worker | null = null;
  private stopped = false;

  constructor(private readonly db: DB, private readonly log: Logger, private readonly intervalMs = 1000) {}

  start(): void {
    if (this.db.memory || this.worker) return;
    const w = new Worker(WORKER, { workerData: { file: this.db.name, intervalMs: this.intervalMs } });
    this.worker = w;
    w.unref();
    this.db.pragma('wal_autocheckpoint = 0');
    w.on('message', (m: { error?: string }) => { if (m.error) this.log.warn({ detail: m.error }, 'background WAL checkpoint failed'); });
    w.on('error', (err) => this.log.error({ err }, 'WAL checkpoint worker failed'));
    w.on('exit', () => {
      this.worker = null;
      if (this.stopped || !this.db.open) return;
      this.log.warn('WAL checkpoint worker exited; checkpointing on the main connection again');
      this.db.pragma(`wal_autocheckpoint = ${INLINE_CHECKPOINT_PAGES}`);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
    if (this.db.open && !this.db.memory) this.db.pragma(`wal_autocheckpoint = ${INLINE_CHECKPOINT_PAGES}`);
  }
}
