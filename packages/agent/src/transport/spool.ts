/**
 * The agent's on-disk outbox: every batch is appended here (and fsynced) before it is sent,
 * and stays until the collector acknowledges it, so a batch survives collector restarts,
 * agent restarts, network cuts and host reboots. Sequence numbers are assigned here, which
 * makes the spool the single source of truth for "what has this agent sent".
 *
 * Layout: `<state-dir>/spool/seg-<first seq>.log` segment files of records
 *   [u32 BE length][u32 BE crc32(payload)][payload = the frame's JSON, seq included]
 * plus `meta.json` {last_seq, acked_seq}, rewritten atomically whenever a segment is deleted,
 * so the sequence never goes backwards even when every segment is gone. A torn tail (crash
 * mid-append) fails its length or CRC check and is truncated on open.
 *
 * Size policy when full: the spool holds at most `maxBytes` of unacknowledged batches
 * (default 256 MiB). `append()` then waits — the scan that produces the batches pauses —
 * until acknowledgements free space. Nothing already spooled is ever dropped to make room:
 * an agent cut off from its collector for long just stops scanning until the link returns,
 * and its next full scan catches up with everything that changed meanwhile.
 */
import { open, readdir, readFile, rename, unlink, writeFile, mkdir, type FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import path from 'node:path';
import type { Logger } from 'pino';
import type { InventoryFrame } from '@chainwatch/shared';
import { AgentError } from '../errors.js';

export type UnsequencedFrame = Omit<InventoryFrame, 'seq'>;

export interface SpoolOptions {
  /** Most bytes of unacknowledged records kept on disk; default 256 MiB. */
  maxBytes?: number;
  /** A new segment file starts past this size; default 8 MiB. */
  segmentBytes?: number;
  /** Lowest sequence the next batch may take minus one (e.g. the old state file's `seq`). */
  seqFloor?: number;
  log?: Logger | undefined;
}

interface Segment { first: number; last: number; file: string; bytes: number }
interface RecordRef { seq: number; seg: Segment; offset: number; length: number }

const HEADER = 8;
const META = 'meta.json';

export class Spool {
  private readonly segments: Segment[] = [];
  private records: RecordRef[] = [];
  private tail: { seg: Segment; fh: FileHandle } | null = null;
  private waiters: Array<() => void> = [];
  private spaceWaiters: Array<() => void> = [];
  private writing: Promise<unknown> = Promise.resolve();
  lastSeq = 0;
  ackedSeq = 0;

  private constructor(readonly dir: string, private readonly maxBytes: number, private readonly segmentBytes: number, private readonly log?: Logger) {}

  /** Opens (creating) the spool in `dir`, recovering from a torn last record. */
  static async open(dir: string, opts: SpoolOptions = {}): Promise<Spool> {
    const s = new Spool(dir, opts.maxBytes ?? 256 * 1024 * 1024, opts.segmentBytes ?? 8 * 1024 * 1024, opts.log);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const meta: { last_seq?: number; acked_seq?: number } = await readFile(path.join(dir, META), 'utf8').then((t) => JSON.parse(t) as object, () => ({}));
    s.lastSeq = Math.max(meta.last_seq ?? 0, opts.seqFloor ?? 0);
    s.ackedSeq = meta.acked_seq ?? 0;
    const names = (await readdir(dir)).filter((n) => /^seg-\d+\.log$/.test(n)).sort((a, b) => Number(a.slice(4, -4)) - Number(b.slice(4, -4)));
    for (const n of names) await s.recoverSegment(path.join(dir, n));
    s.records = s.records.filter((r) => r.seq > s.ackedSeq);
    for (const seg of s.segments.filter((x) => x.last <= s.ackedSeq)) {
      s.segments.splice(s.segments.indexOf(seg), 1);
      await unlink(seg.file).catch(() => {});
    }
    return s;
  }

  /** Reads every intact record of one segment; truncates at the first bad one. */
  private async recoverSegment(file: string): Promise<void> {
    const buf = await readFile(file);
    const seg: Segment = { first: 0, last: 0, file, bytes: 0 };
    let off = 0;
    while (off + HEADER <= buf.length) {
      const len = buf.readUInt32BE(off), sum = buf.readUInt32BE(off + 4);
      if (len === 0 || off + HEADER + len > buf.length) break;
      const payload = buf.subarray(off + HEADER, off + HEADER + len);
      if (crc32(payload) !== sum) break;
      const seq = (JSON.parse(payload.toString('utf8')) as { seq: number }).seq;
      if (!Number.isSafeInteger(seq) || seq <= seg.last) break;
      if (!seg.first) seg.first = seq;
      seg.last = seq;
      this.records.push({ seq, seg, offset: off + HEADER, length: len });
      off += HEADER + len;
    }
    if (off < buf.length) {
      this.log?.warn({ file, kept_bytes: off, dropped_bytes: buf.length - off }, 'spool: torn tail truncated');
      const fh = await open(file, 'r+');
      try { await fh.truncate(off); await fh.sync(); } finally { await fh.close(); }
    }
    if (!seg.first) { await unlink(file); return; }
    seg.bytes = off;
    this.segments.push(seg);
    if (seg.last > this.lastSeq) this.lastSeq = seg.last;
  }

  /** Bytes of records not yet acknowledged (whole segments: what the disk really holds). */
  get bytes(): number { return this.segments.reduce((a, s) => a + s.bytes, 0); }
  /** Batches written but not acknowledged. */
  get pending(): number { return this.records.length; }

  /**
   * Assigns the next sequence number, appends the frame and fsyncs it. Waits while the spool
   * is full (see the size policy above). Resolves with the frame's sequence number.
   */
  append(frame: UnsequencedFrame): Promise<number> {
    return this.appendJson((seq) => JSON.stringify({ ...frame, seq }));
  }

  /** As append(), with the frame's JSON written by the caller for the sequence number given. */
  appendJson(frameJson: (seq: number) => string): Promise<number> {
    const p = this.writing.then(() => this.appendNow(frameJson));
    this.writing = p.catch(() => {});
    return p;
  }

  private async appendNow(frameJson: (seq: number) => string): Promise<number> {
    const seq = this.lastSeq + 1;
    const payload = Buffer.from(frameJson(seq));
    if (payload.length + HEADER > this.maxBytes) throw new AgentError('CW_TRANSPORT_SPOOL', `one batch of ${payload.length} bytes exceeds the spool size`);
    while (this.bytes + payload.length + HEADER > this.maxBytes && this.records.length > 0) {
      this.log?.warn({ bytes: this.bytes, max_bytes: this.maxBytes, pending: this.records.length }, 'spool full: scanning paused until the collector acknowledges');
      await new Promise<void>((r) => this.spaceWaiters.push(r));
    }
    const tail = await this.tailFor(seq);
    const rec = Buffer.alloc(HEADER);
    rec.writeUInt32BE(payload.length, 0); rec.writeUInt32BE(crc32(payload), 4);
    const offset = tail.seg.bytes + HEADER;
    await tail.fh.writev([rec, payload], tail.seg.bytes);
    await tail.fh.datasync();
    tail.seg.bytes += HEADER + payload.length;
    tail.seg.last = seq;
    this.lastSeq = seq;
    this.records.push({ seq, seg: tail.seg, offset, length: payload.length });
    for (const w of this.waiters.splice(0)) w();
    return seq;
  }

  private async tailFor(seq: number): Promise<{ seg: Segment; fh: FileHandle }> {
    if (this.tail && this.tail.seg.bytes < this.segmentBytes && this.segments.includes(this.tail.seg)) return this.tail;
    await this.tail?.fh.close();
    const seg: Segment = { first: seq, last: seq - 1, file: path.join(this.dir, `seg-${seq}.log`), bytes: 0 };
    const fh = await open(seg.file, 'w+', 0o600);
    await this.syncDir();
    this.segments.push(seg);
    this.tail = { seg, fh };
    return this.tail;
  }

  /** The frame bytes of the first spooled batch with a sequence above `after`, or null. */
  async next(after: number): Promise<{ seq: number; data: Buffer } | null> {
    const r = this.records.find((x) => x.seq > after);
    if (!r) return null;
    const fh = this.tail?.seg === r.seg ? this.tail.fh : await open(r.seg.file, 'r');
    try {
      const data = Buffer.alloc(r.length);
      await fh.read(data, 0, r.length, r.offset);
      return { seq: r.seq, data };
    } finally { if (fh !== this.tail?.fh) await fh.close(); }
  }

  /** Resolves when a batch above `after` exists (or at once if one does). */
  waitFor(after: number, signal?: AbortSignal): Promise<void> {
    if (this.lastSeq > after && this.records.some((r) => r.seq > after)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => { signal?.removeEventListener('abort', done); resolve(); };
      this.waiters.push(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /**
   * Everything up to `seq` is committed at the collector (acks are cumulative: the collector
   * applies a host's batches in sequence order). Deletes segments that hold nothing newer.
   */
  async ack(seq: number): Promise<void> {
    if (seq > this.lastSeq) this.lastSeq = seq; // the collector is ahead of us: never reuse its numbers
    if (seq <= this.ackedSeq) return;
    this.ackedSeq = seq;
    let i = 0;
    while (i < this.records.length && this.records[i]!.seq <= seq) i++;
    this.records.splice(0, i);
    // The open tail segment is never deleted here, even when fully acknowledged: an append may
    // be writing to it right now (acks arrive while the scan is still spooling). It goes once
    // a newer segment has taken over, or is found fully acknowledged at the next open.
    const dead = this.segments.filter((s) => s.last <= seq && s !== this.tail?.seg);
    if (dead.length || this.records.length === 0) {
      await this.writeMeta();
      for (const d of dead) { this.segments.splice(this.segments.indexOf(d), 1); await unlink(d.file).catch(() => {}); }
    }
    for (const w of this.spaceWaiters.splice(0)) w();
    if (this.records.length === 0) for (const w of this.drainWaiters.splice(0)) w();
  }

  private drainWaiters: Array<() => void> = [];
  /** Resolves once every spooled batch is acknowledged. */
  drained(): Promise<void> {
    if (this.records.length === 0) return Promise.resolve();
    return new Promise((r) => this.drainWaiters.push(r));
  }

  private async writeMeta(): Promise<void> {
    const tmp = path.join(this.dir, `${META}.tmp`);
    await writeFile(tmp, JSON.stringify({ last_seq: this.lastSeq, acked_seq: this.ackedSeq }) + '\n', { mode: 0o600 });
    const fh = await open(tmp, 'r');
    try { await fh.sync(); } finally { await fh.close(); }
    await rename(tmp, path.join(this.dir, META));
    await this.syncDir();
  }

  private async syncDir(): Promise<void> {
    const d = await open(this.dir, 'r');
    try { await d.sync(); } catch { /* some filesystems refuse directory fsync */ } finally { await d.close(); }
  }

  /** Flushes the ack pointer and closes the open segment. */
  async close(): Promise<void> {
    await this.writing;
    await this.writeMeta();
    await this.tail?.fh.close();
    this.tail = null;
  }
}
