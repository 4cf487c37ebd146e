/**
 * A small pool of hashing threads (node:worker_threads). The main thread lists and stats files
 * and consults the cache; the threads open, read and hash, so both cores hash while the main
 * thread keeps feeding them. Jobs travel in batches (many small files per message) because a
 * message round trip costs about as much as hashing a 4 KiB file.
 *
 * Threads are lowered to nice 19 and, when `ionice` exists, to the idle I/O class. On Linux both
 * are per thread, so this touches only hashing, never the agent's main thread.
 *
 * Caller runs: asked for N threads, the pool starts N − 1 and lets the main thread take a
 * batch itself whenever every thread is busy. Each thread costs ~11 MB of resident memory (its
 * V8 isolate), which is what separates a scan from the 100 MB ceiling; the main thread,
 * meanwhile, mostly waits on the threads. A batch run on the main thread blocks its event loop
 * for the batch (≤ 8 MiB or 64 files: ~20 ms at full speed). Under a CPU ceiling (N = 1) the
 * main thread is the only hasher: it is then lowered to nice 19 and the idle I/O class for the
 * pool's life, as the threads are (the service units already run the whole agent at nice 10).
 */
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { AgentError } from '../errors.js';
import { applyAgentV8Flags } from '../gc-tuning.js';
import { HASH_JOB_SOURCE, WORKER_SOURCE } from './worker-source.js';

export interface HashJob { path: string; op: 'hash' | 'head'; maxSize: number }

export interface FileStat { dev: number; ino: number; size: number; mtimeMs: number; ctimeMs: number }

export type HashResult =
  /** `head`: first 64 bytes as latin1; `tail`: first 4 of the last 512 bytes (files ≥ 1 KiB). */
  | { ok: true; op: 'hash'; stat: FileStat; size: number; head: string; sha256: string; sha1: string; md5: string }
  | { ok: true; op: 'head'; stat: FileStat; head: string; tail?: string }
  | { ok: false; code: string; message: string; size?: number };

interface Slot { worker: Worker; busy: boolean }
type RunJob = (job: HashJob) => HashResult;
interface Pending { id: number; jobs: HashJob[]; resolve(r: HashResult[]): void; reject(e: unknown): void }

export interface HashPoolOptions {
  threads: number; nice: boolean; log: Logger; chunkBytes?: number;
  /** Let the main thread stand in for one of ≥ 2 threads (default true). */
  callerRuns?: boolean;
}

export class HashPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private readonly running = new Map<Worker, Pending>();
  private nextId = 1;
  private closed = false;
  /** The main thread's own hasher when it stands in for a thread; `mainBusy` while it runs one. */
  private mainRun: RunJob | null = null;
  private mainBusy = false;
  /** Undoes lowerMainThread() (nice only; see there). */
  private restoreNice: (() => void) | null = null;
  /** Batches the main thread ran itself. */
  batchesOnMain = 0;

  private constructor(private readonly log: Logger) {}

  /** Starts `threads` workers and waits until each is ready (and de-prioritised). */
  static async create(opts: HashPoolOptions): Promise<HashPool> {
    const pool = new HashPool(opts.log);
    // 256 KiB reads: as fast as 1 MiB ones here (the hashes, not the syscalls, set the pace),
    // and each thread's buffer is resident for the whole scan.
    const workerData = { chunk: opts.chunkBytes ?? 256 * 1024, nice: opts.nice };
    const wanted = Math.max(1, opts.threads);
    const callerRuns = opts.callerRuns !== false;
    if (callerRuns) pool.mainRun = compileJob(workerData.chunk);
    if (callerRuns && wanted === 1 && opts.nice) pool.restoreNice = lowerMainThread(opts.log);
    await Promise.all(Array.from({ length: callerRuns ? wanted - 1 : wanted }, async () => {
      const worker = new Worker(WORKER_SOURCE, {
        eval: true, workerData,
        // The thread holds one read buffer and a batch of results; a small heap keeps RSS low.
        resourceLimits: { maxOldGenerationSizeMb: 12, maxYoungGenerationSizeMb: 1, stackSizeMb: 1 },
      });
      const tid = await new Promise<number>((resolve, reject) => {
        worker.once('message', (m: { tid: number }) => resolve(m.tid));
        worker.once('error', reject);
      });
      if (opts.nice && tid > 0) idleIoClass(tid, opts.log);
      pool.attach(worker);
    }));
    // Each thread's heap setup reset the process-wide young-generation growth factor.
    applyAgentV8Flags();
    return pool;
  }

  /** Batches that can run at once: the threads, plus the main thread when it stands in. */
  get size(): number { return this.slots.length + (this.mainRun ? 1 : 0); }
  /** Hashing threads running. */
  get threads(): number { return this.slots.length; }

  /** Runs one batch on the next free thread; resolves with one result per job, in order. */
  run(jobs: HashJob[]): Promise<HashResult[]> {
    if (this.closed) return Promise.reject(new AgentError('CW_SOURCE_FAILED', 'hash pool closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, jobs, resolve, reject });
      this.pump();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new AgentError('CW_SOURCE_FAILED', 'hash pool closed'));
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.restoreNice?.();
    this.restoreNice = null;
  }

  private attach(worker: Worker): void {
    const slot: Slot = { worker, busy: false };
    this.slots.push(slot);
    worker.on('message', (m: { id: number; results: HashResult[] }) => {
      const p = this.running.get(worker);
      this.running.delete(worker);
      slot.busy = false;
      p?.resolve(m.results);
      this.pump();
    });
    worker.on('error', (err) => {
      // A thread that dies (out of heap, a bug) fails its batch; the files become error items.
      this.log.warn({ err }, 'hash thread failed');
      this.running.get(worker)?.reject(err);
      this.running.delete(worker);
      this.slots.splice(this.slots.indexOf(slot), 1);
    });
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (slot.busy || this.queue.length === 0) continue;
      const p = this.queue.shift()!;
      slot.busy = true;
      this.running.set(slot.worker, p);
      slot.worker.postMessage({ id: p.id, jobs: p.jobs });
    }
    if (this.mainRun && !this.mainBusy && this.queue.length > 0) this.runOnMain(this.mainRun, this.queue.shift()!);
    if (this.slots.length === 0 && !this.mainRun) for (const p of this.queue.splice(0)) p.reject(new AgentError('CW_SOURCE_FAILED', 'no hash threads left'));
  }

  /** The main thread takes the batch on its next turn, after I/O and timers already due. */
  private runOnMain(run: RunJob, p: Pending): void {
    this.mainBusy = true;
    this.batchesOnMain++;
    setImmediate(() => {
      try { p.resolve(p.jobs.map(run)); } catch (err) { p.reject(err); }
      this.mainBusy = false;
      if (!this.closed) this.pump();
    });
  }
}

/** HASH_JOB_SOURCE compiled for the main thread: our own constant, the same code the threads run. */
function compileJob(chunk: number): RunJob {
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const make = new Function('fs', 'crypto', 'workerData', `${HASH_JOB_SOURCE}\nreturn run;`) as (f: typeof fs, c: typeof crypto, w: { chunk: number }) => RunJob;
  return make(fs, crypto, { chunk });
}

/**
 * Nice 19 and the idle I/O class for the calling (main) thread: on Linux both are per thread
 * (setpriority/ioprio_set on the thread id, which for the main thread is the pid). The nice
 * value is put back when the pool closes where allowed (raising priority again needs
 * CAP_SYS_NICE, which root has); the I/O class stays idle for the rest of the run.
 */
function lowerMainThread(log: Logger): (() => void) | null {
  if (process.platform !== 'linux') return null;
  let before: number;
  try { before = os.getPriority(0); os.setPriority(0, 19); } catch (err) { log.debug({ err }, 'could not lower the main thread'); return null; }
  idleIoClass(process.pid, log);
  return () => { try { os.setPriority(0, before); } catch { /* not permitted: stays at 19 */ } };
}

/** `ionice -c3 -p TID`, best effort: absent on macOS/Windows and in minimal containers. */
function idleIoClass(tid: number, log: Logger): void {
  if (process.platform !== 'linux') return;
  execFile('ionice', ['-c3', '-p', String(tid)], (err) => {
    if (err && (err as NodeJS.ErrnoException).code !== 'ENOENT') log.debug({ err }, 'ionice failed');
  });
}
