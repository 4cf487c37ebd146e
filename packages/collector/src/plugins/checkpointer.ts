/**
 * The main thread's side of the background checkpoint thread (store/checkpoint-worker.ts),
 * started beside the ingest writer thread. If the thread stops on an error it is logged once and
 * not restarted: the writer's own checkpoints keep the WAL bounded without it.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { CheckpointWorkerData, FromCheckpointer } from '../store/checkpoint-worker.js';

const ENTRY = new URL(`../store/checkpoint-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);
/** How often the WAL is copied: often enough that the writer's 64 MB checkpoints find it done. */
export const CHECKPOINT_EVERY_MS = 250;
const CLOSE_TIMEOUT_MS = 10_000;

export class Checkpointer {
  private readonly worker: Worker;
  private closing = false;
  private stopped = false;

  constructor(file: string, log: Logger, everyMs = CHECKPOINT_EVERY_MS) {
    this.worker = new Worker(ENTRY, { workerData: { file, everyMs } satisfies CheckpointWorkerData });
    this.worker.on('message', (m: FromCheckpointer) => {
      if (m.t === 'stopped') log.warn({ error: m.error }, 'background checkpoints stopped; the ingest writer checkpoints by itself');
    });
    this.worker.on('error', (err) => log.warn({ err }, 'background checkpoint thread failed; the ingest writer checkpoints by itself'));
    this.worker.on('exit', () => { this.stopped = true; });
    this.worker.unref();
  }

  /** Whether the thread is still running. */
  get running(): boolean { return !this.stopped; }

  async close(): Promise<void> {
    if (this.closing || this.stopped) return;
    this.closing = true;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage({ t: 'close' });
    const timer = setTimeout(() => void this.worker.terminate(), CLOSE_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }
}
