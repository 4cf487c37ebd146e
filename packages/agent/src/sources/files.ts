/**
 * Files: SHA-256, SHA-1 and MD5 (one streaming pass) of the files that matter for
 * supply-chain hunting: every regular file a package owns, executables under /opt,
 * /usr/local, /Program Files*, /Applications, and installers/archives in users' Downloads
 * and Desktop (see hashing/candidates.ts for the exact rules and why).
 *
 * Light by design: hashing runs on a small pool of low-priority threads (hashing/pool.ts)
 * under a CPU ceiling (throttle.ts) that also obeys the watchdog's back-off; files above
 * maxFileSize, pseudo-filesystems and network mounts are skipped; a cache keyed by
 * (device, inode, size, mtime, ctime) makes rescans read only what changed
 * (hashing/cache.ts). Unreadable files become error items; the scan goes on.
 *
 * Items come out in completion order, not path order.
 */
import { availableParallelism } from 'node:os';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { ErrorItem, FileItem, FileType, InventoryItem } from '@chainwatch/shared';
import { openHashCache, type CacheEntry, type HashCache, type Hashes } from '../hashing/cache.js';
import { listCandidates, type Candidate } from '../hashing/candidates.js';
import { EXECUTABLE_TYPES, INSTALLER_TYPES, sniffFileType } from '../hashing/file-type.js';
import { createExcluder } from '../hashing/mounts.js';
import { HashPool, type HashJob, type HashResult } from '../hashing/pool.js';
import { createCpuThrottle, type CpuThrottle } from '../throttle.js';
import type { FileScanCounters, ScanContext, Source } from './types.js';
import { errorItem, errorItemFrom } from './util.js';

const ID = 'files';
/** A batch is sent when it holds this many files or this many bytes to read. */
const BATCH_FILES = 64;
const BATCH_BYTES = 8 * 1024 * 1024;
/** Longest stretch of synchronous listing before timers (progress, watchdog) get a turn. */
const SLICE_MS = 20;

const SIGNABLE = new Set<string>(['pe', 'msi', 'macho']);
/** PE files read whole for their Authenticode hash are capped lower than hashing. */
const MAX_AUTHENTICODE_BYTES = 256 * 1024 * 1024;

/** What scanFiles does beyond hashing, and its test seam. */
export interface FilesHooks {
  /** Test seam: called after a file is listed and stat'ed, before it is read. */
  afterList?(c: Candidate): void;
  /**
   * Hand signable files to the signatures source (ctx.signable) and give PE file items their
   * Authenticode hash: what the files source does in a scan; benches that time hashing alone
   * leave it off.
   */
  signingFacts?: boolean;
}

export function newFileCounters(): FileScanCounters {
  return { files: 0, hashed: 0, cached: 0, bytesHashed: 0, errors: 0 };
}

function fileItem(c: Candidate, size: number, mtimeMs: number, type: FileType, h: Hashes): FileItem {
  const item: FileItem = {
    kind: 'file', key: `file:${c.sys}`, path: c.sys, size, mtime: new Date(mtimeMs).toISOString(),
    sha256: h.sha256, sha1: h.sha1, md5: h.md5, file_type: type,
  };
  if (c.pkg) item.package = c.pkg;
  return item;
}

/**
 * A PE file item gets its Authenticode hash beside its file hash. Imported on the first PE:
 * a Linux scan rarely meets one, and the PE parser is not small.
 */
async function addAuthenticode(ctx: ScanContext, item: FileItem): Promise<void> {
  const { authenticodeHashes } = await import('../signing/authenticode-hash.js');
  const h = await authenticodeHashes(ctx.resolve(item.path), Math.min(MAX_AUTHENTICODE_BYTES, ctx.options.maxFileSize));
  if (h) { item.authenticode_sha256 = h.sha256; item.authenticode_sha1 = h.sha1; }
}

/** Sniffed content worth hashing under the rule that found the file. */
function wanted(c: Candidate, type: FileType): boolean {
  return (c.rule === 'installer' ? INSTALLER_TYPES : EXECUTABLE_TYPES).has(type);
}

/** One scan's moving parts: what is queued, in flight and ready to yield. */
class FileScan {
  readonly ready: InventoryItem[] = [];
  /**
   * PE file items waiting for their Authenticode hash: they join `ready` only once it is added.
   * Results keep arriving from the hash threads while the hashing awaits, so an item put in
   * `ready` first could be yielded without it.
   */
  readonly needAuthenticode: FileItem[] = [];
  readonly followUps: Candidate[] = [];
  readonly inflight = new Set<Promise<void>>();

  private pool: HashPool | undefined;
  private starting: Promise<HashPool> | undefined;

  constructor(
    readonly ctx: ScanContext, readonly stats: FileScanCounters, readonly cache: HashCache, readonly throttle: CpuThrottle,
    private readonly signingFacts: boolean,
  ) {}

  /** A file item ready to yield; signable files are noted for the signatures source. */
  private emit(item: FileItem): void {
    const type = item.file_type;
    if (this.signingFacts && type !== undefined && SIGNABLE.has(type)) {
      this.ctx.signable.set(item.path, type as 'pe' | 'msi' | 'macho');
      if (type === 'pe') { this.needAuthenticode.push(item); return; }
    }
    this.ready.push(item);
  }

  /** Adds the Authenticode hashes of waiting PE items and moves them to `ready` (rare off Windows). */
  async authenticode(): Promise<void> {
    while (this.needAuthenticode.length > 0) {
      const item = this.needAuthenticode.shift()!;
      await addAuthenticode(this.ctx, item);
      this.ready.push(item);
    }
  }

  /** Threads start on the first cache miss: an unchanged rescan never pays for them. */
  private threads(): Promise<HashPool> {
    this.starting ??= HashPool.create({ threads: threadCount(this.ctx), nice: this.ctx.options.ioNice ?? false, log: this.ctx.log })
      .then((p) => (this.pool = p));
    return this.starting;
  }

  async close(): Promise<void> {
    if (this.starting) await (await this.starting.catch(() => undefined))?.close();
  }

  private error(item: ErrorItem): void { this.stats.errors++; this.ready.push(item); }

  /** Waits for a free slot and the throttle, then hands the batch to a thread. */
  async dispatch(batch: Candidate[]): Promise<void> {
    const pool = this.pool ?? await this.threads();
    for (;;) {
      // Two batches per thread keep each thread fed while the main thread lists the next;
      // under a ceiling or back-off, one batch at a time keeps the bursts short.
      const threads = this.throttle.concurrency(pool.size);
      if (this.inflight.size < (threads === 1 ? 1 : threads * 2)) break;
      await Promise.race(this.inflight);
    }
    await this.throttle.wait(this.ctx.signal);
    const max = this.ctx.options.maxFileSize;
    const jobs: HashJob[] = batch.map((c) => ({ path: c.real, op: c.sniff ? 'head' : 'hash', maxSize: max }));
    const p = pool.run(jobs).then(
      (results) => { results.forEach((r, i) => this.settle(batch[i]!, r)); },
      (err: unknown) => { for (const c of batch) this.error(errorItemFrom(ID, err, c.sys, 'CW_FILE_UNREADABLE')); },
    ).finally(() => { this.inflight.delete(p); });
    this.inflight.add(p);
  }

  private settle(c: Candidate, r: HashResult): void {
    if (!r.ok) {
      if (r.code === 'TOO_LARGE') this.error(errorItem(ID, 'CW_FILE_TOO_LARGE', r.message, c.sys));
      else this.error(errorItem(ID, 'CW_FILE_UNREADABLE', `${r.code}: ${r.message}`, c.sys));
      return;
    }
    if (r.op === 'head') {
      const type = sniffFileType(r.head, r.tail);
      if (!wanted(c, type)) { this.cache.store(c.sys, r.stat, { fileType: type }); return; }
      if (r.stat.size > this.ctx.options.maxFileSize) this.error(errorItem(ID, 'CW_FILE_TOO_LARGE', `${r.stat.size} bytes`, c.sys));
      else this.followUps.push({ ...c, sniff: false });
      return;
    }
    const type = sniffFileType(r.head);
    const hashes = { sha256: r.sha256, sha1: r.sha1, md5: r.md5 };
    this.stats.hashed++;
    this.stats.bytesHashed += r.size;
    this.cache.store(c.sys, r.stat, { fileType: type, hashes });
    this.emit(fileItem(c, r.size, r.stat.mtimeMs, type, hashes));
  }

  /** A listed file: from the cache, refused as too large, or queued for a thread. */
  take(c: Candidate, batch: Candidate[]): void {
    this.stats.files++;
    const hit: CacheEntry | undefined = this.cache.lookup(c.sys, c.st);
    if (hit) {
      this.stats.cached++;
      if (hit.hashes) this.emit(fileItem(c, c.st.size, c.st.mtimeMs, hit.fileType, hit.hashes));
      return;
    }
    if (!c.sniff && c.st.size > this.ctx.options.maxFileSize) {
      this.error(errorItem(ID, 'CW_FILE_TOO_LARGE', `${c.st.size} bytes`, c.sys));
      return;
    }
    batch.push(c);
  }
}

function batchFull(batch: Candidate[]): boolean {
  if (batch.length >= BATCH_FILES) return true;
  let bytes = 0;
  for (const c of batch) bytes += c.sniff ? 4096 : c.st.size;
  return bytes >= BATCH_BYTES;
}

function threadCount(ctx: ScanContext): number {
  const limit = ctx.options.maxCpuPercent ?? 0;
  if (limit > 0 && limit < 100) return 1; // a second thread would only wait on the ceiling
  return ctx.options.hashWorkers ?? Math.min(4, availableParallelism());
}

/** The files source's work, with test seams; `files.collect` is this with `signingFacts`. */
export async function* scanFiles(ctx: ScanContext, hooks: FilesHooks = {}): AsyncGenerator<InventoryItem> {
  if (!ctx.options.hashFiles) return;
  const stats = ctx.stats ?? newFileCounters();
  const cache = await openHashCache(ctx.options.cacheFile, ctx.log);
  const scan = new FileScan(ctx, stats, cache, createCpuThrottle(ctx.options.maxCpuPercent), hooks.signingFacts ?? false);
  let complete = false;
  try {
    let batch: Candidate[] = [];
    let sliceStart = Date.now();
    for (const c of listCandidates(ctx, createExcluder(!ctx.offline))) {
      if (ctx.signal.aborted) break;
      if ('kind' in c) { stats.errors++; yield c; continue; }
      hooks.afterList?.(c);
      scan.take(c, batch);
      if (scan.followUps.length > 0) batch.push(...scan.followUps.splice(0));
      if (batchFull(batch)) { await scan.dispatch(batch); batch = []; sliceStart = Date.now(); }
      // Plain loops, not `yield* ready.splice(0)`: an async generator delegating to an array
      // wraps every element in extra promises, and this runs once per file.
      if (scan.needAuthenticode.length > 0) await scan.authenticode();
      for (let i = 0; i < scan.ready.length; i++) yield scan.ready[i]!;
      scan.ready.length = 0;
      if (Date.now() - sliceStart > SLICE_MS) { await yieldToLoop(); sliceStart = Date.now(); }
    }
    while (!ctx.signal.aborted && (batch.length > 0 || scan.inflight.size > 0 || scan.followUps.length > 0)) {
      batch.push(...scan.followUps.splice(0));
      if (batch.length > 0) { await scan.dispatch(batch); batch = []; } else await Promise.race(scan.inflight);
      if (scan.needAuthenticode.length > 0) await scan.authenticode();
      for (let i = 0; i < scan.ready.length; i++) yield scan.ready[i]!;
      scan.ready.length = 0;
    }
    await Promise.allSettled(scan.inflight);
    await scan.authenticode();
    for (let i = 0; i < scan.ready.length; i++) yield scan.ready[i]!;
    scan.ready.length = 0;
    complete = !ctx.signal.aborted;
  } finally {
    cache.finish(complete);
    await scan.close();
    ctx.log.debug({ ...stats, throttledMs: scan.throttle.sleptMs, complete }, 'files scanned');
  }
}

export const files: Source = {
  id: ID,
  description: 'SHA-256/SHA-1/MD5 of package-owned files, executables in /opt, /usr/local, Program Files, Applications, and installers in Downloads/Desktop',
  phase: 1,
  // Signing facts inside the scan loop, not as a generator wrapped around it: every async
  // generator layer costs promises per item, and this one runs once per file.
  collect: (ctx) => scanFiles(ctx, { signingFacts: true }),
};
