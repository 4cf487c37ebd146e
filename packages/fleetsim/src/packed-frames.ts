/**
 * Inventory frames compressed from pieces, most of them compressed once per run.
 *
 * Here the simulator shares the collector's CPUs, so what it spends stands in for CPU the
 * collector would have on a machine of its own. Deflating every frame as ws does (level 1) was
 * about a third of a worker's main thread in a CPU profile of a sync: the same base-image items,
 * compressed again for each of 10,000 hosts. A DEFLATE stream is a sequence of blocks, and a piece compressed on its own and ended
 * with a sync flush ends byte-aligned and refers to nothing before it, so pieces can be joined:
 * a frame is its header compressed fresh, then each run of image items (compressed once, cached,
 * with and without its leading comma), then anything host-specific compressed fresh. The
 * collector negotiates permessage-deflate without context takeover on the agent's side
 * (collector plugins/ws-deflate.ts), so each message has to stand on its own bytes — which a
 * joined message does, the same as one compressed whole. The inflated text is byte for byte
 * what `partText` builds (tested).
 */
import zlib from 'node:zlib';
import { FRAME_TARGET_BYTES, MAX_ITEMS_PER_FRAME, PROTOCOL_VERSION } from '@chainwatch/shared';

/** A run of serialised items; `key` names runs whose text is the same wherever they appear (cacheable). */
export interface Run { items: string[]; chars: number; key: string | null }
export interface Part { runs: Run[]; items: number; removed: string[] }
export interface FrameHead { seq: number; scanId: string; mode: 'full' | 'delta'; part: number; final: boolean }

/** The window the collector allows agents (ws-deflate.ts: clientMaxWindowBits): pieces are compressed for it. */
const WINDOW_BITS = 13;
/** That window and the agent's level. */
const DEFLATE_OPTS: zlib.ZlibOptions = { level: 1, windowBits: WINDOW_BITS, finishFlush: zlib.constants.Z_SYNC_FLUSH };
/** What a sync flush ends with, and what permessage-deflate leaves off the end of a message (RFC 7692 §7.2.1). */
const FLUSH_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

export function run(items: string[], key: string | null = null): Run {
  let chars = 0;
  for (const it of items) chars += it.length + 1;
  return { items, chars, key };
}

/**
 * Splits runs into frames of at most MAX_ITEMS_PER_FRAME items and about FRAME_TARGET_BYTES,
 * as the agent's outbox does by item; a run is split only when it alone is over either bound.
 */
export function planParts(runs: Run[], removed: string[]): Part[] {
  const parts: Part[] = [];
  let cur: Part = { runs: [], items: 0, removed: [] }, chars = 0;
  const push = (r: Run) => {
    if (cur.items > 0 && (cur.items + r.items.length > MAX_ITEMS_PER_FRAME || chars + r.chars > FRAME_TARGET_BYTES)) { parts.push(cur); cur = { runs: [], items: 0, removed: [] }; chars = 0; }
    cur.runs.push(r); cur.items += r.items.length; chars += r.chars;
  };
  for (const r of runs) {
    if (r.items.length <= MAX_ITEMS_PER_FRAME && r.chars <= FRAME_TARGET_BYTES) { push(r); continue; }
    for (let i = 0; i < r.items.length;) {
      let n = 0, c = 0;
      while (i + n < r.items.length && n < MAX_ITEMS_PER_FRAME && (n === 0 || c + r.items[i + n]!.length + 1 <= FRAME_TARGET_BYTES)) c += r.items[i + n++]!.length + 1;
      push(run(r.items.slice(i, i + n)));
      i += n;
    }
  }
  parts.push(cur);
  for (let i = 0; i < removed.length; i += MAX_ITEMS_PER_FRAME) {
    if (i > 0 || parts[parts.length - 1]!.removed.length) parts.push({ runs: [], items: 0, removed: [] });
    parts[parts.length - 1]!.removed = removed.slice(i, i + MAX_ITEMS_PER_FRAME);
  }
  return parts;
}

/**
 * Whether this link takes packed frames: permessage-deflate negotiated without context takeover
 * on our side and with at least the 8 KB window the pieces are compressed for.
 */
export function linkTakesPacked(extensions: string): boolean {
  const pmd = extensions.split(',').map((e) => e.trim()).find((e) => e.startsWith('permessage-deflate'));
  if (!pmd || !/(^|;)\s*client_no_context_takeover\s*(;|$)/.test(pmd)) return false;
  const bits = /client_max_window_bits\s*=\s*"?(\d+)/.exec(pmd);
  return !bits || Number(bits[1]) >= WINDOW_BITS;
}

function headText(h: FrameHead): string {
  return `{"v":${PROTOCOL_VERSION},"type":"inventory","seq":${h.seq},"scan_id":"${h.scanId}","mode":"${h.mode}","part":${h.part},"final":${h.final},"items":[`;
}
function tailText(removed: string[]): string { return removed.length ? `],"removed":${JSON.stringify(removed)}}` : ']}'; }

/** The frame as text: what the agent sends (and what a packed frame inflates to). */
export function partText(h: FrameHead, p: Part): string {
  let s = headText(h), first = true;
  for (const r of p.runs) for (const it of r.items) { s += first ? it : ',' + it; first = false; }
  return s + tailText(p.removed);
}

/** Compressed runs by key, with and without a leading comma; shared by every agent of a worker. */
export class PieceCache {
  private readonly pieces = new Map<string, [Buffer?, Buffer?]>();
  hits = 0;
  misses = 0;
  get(r: Run, lead: boolean): Buffer {
    let e = this.pieces.get(r.key!);
    if (!e) this.pieces.set(r.key!, e = []);
    const i = lead ? 0 : 1;
    if (e[i]) { this.hits++; return e[i]!; }
    this.misses++;
    return e[i] = deflatePiece((lead ? ',' : '') + r.items.join(','));
  }
}

function deflatePiece(text: string): Buffer { return zlib.deflateRawSync(text, DEFLATE_OPTS); }

/**
 * The frame as a permessage-deflate payload: cached runs as they are, everything between them
 * (header, host-specific runs, tail) compressed fresh, one piece per stretch.
 */
export function packedPart(h: FrameHead, p: Part, cache: PieceCache): Buffer {
  const out: Buffer[] = [];
  let fresh = headText(h), first = true;
  for (const r of p.runs) {
    if (r.items.length === 0) continue;
    if (r.key === null) {
      for (const it of r.items) { fresh += first ? it : ',' + it; first = false; }
      continue;
    }
    if (fresh) out.push(deflatePiece(fresh));
    fresh = '';
    out.push(cache.get(r, !first));
    first = false;
  }
  out.push(deflatePiece(fresh + tailText(p.removed)));
  const all = Buffer.concat(out);
  // Every piece ends with a sync flush; the message drops the last one's marker (the receiver appends it).
  return all.subarray(0, all.length - FLUSH_TAIL.length);
}

/** Inflates a packed payload as a permessage-deflate receiver does (for tests and checks). */
export function inflatePacked(payload: Buffer): string {
  return zlib.inflateRawSync(Buffer.concat([payload, FLUSH_TAIL]), { windowBits: WINDOW_BITS, finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString('utf8');
}
