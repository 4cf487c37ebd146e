/**
 * One agent frame, from raw bytes to stored: inflate when it came compressed (frame-inflate.ts)
 * → parse (size, UTF-8, depth) → validate (shared schemas) → heartbeat or
 * InventoryStore.apply. The same code runs on the collector's main
 * thread (':memory:' databases) and in the ingest writer thread (store/ingest-worker.ts), inside
 * the commit queue's transaction; what it returns travels back to the connection as is.
 */
import { parseAgentFrame, type InventoryFrame, type WireErrorCode } from '@chainwatch/shared';
import type { DB } from './db.js';
import { nowIso } from './db.js';
import type { BatchResult, InventoryStore } from './inventory.js';
import type { Matcher } from '../match/engine.js';
import { inflateFrame } from './frame-inflate.js';

/** What a frame came to, reported to its connection after the group commits. */
export type FrameOutcome =
  | { kind: 'rejected'; code: WireErrorCode; message: string; seq: number | undefined }
  | { kind: 'heartbeat' }
  | { kind: 'stored'; frame: FrameHead; res: BatchResult };

/** The frame without its items: what the connection logs and acknowledges. */
export type FrameHead = Pick<InventoryFrame, 'seq' | 'scan_id' | 'mode' | 'part' | 'final'>;

export class FrameApplier {
  private readonly hostSeen;

  constructor(db: DB, private readonly inventory: InventoryStore, private readonly matcher: () => Matcher, private readonly maxFrameBytes: number) {
    this.hostSeen = db.prepare('UPDATE hosts SET last_seen = ? WHERE id = ?');
  }

  /** A connection opened or a heartbeat came: the host was seen now. */
  touch(hostId: string): void { this.hostSeen.run(nowIso(), hostId); }

  /**
   * Runs inside a transaction; throws only when storing fails (the frame's savepoint rolls back).
   * `deflated`: `data` is the message as the agent compressed it (plugins/ws-deflate.ts).
   */
  apply(hostId: string, data: Buffer, seen: { seq?: number }, deflated = false): FrameOutcome {
    let raw = data;
    if (deflated) {
      const inflated = inflateFrame(data, this.maxFrameBytes);
      if (!inflated.ok) return { kind: 'rejected', code: inflated.code, message: inflated.message, seq: undefined };
      raw = inflated.value;
    }
    // Bytes, not a string: the parser decodes UTF-8 strictly (the WebSocket layer does not check it).
    const r = parseAgentFrame(raw, { maxBytes: this.maxFrameBytes });
    if (!r.ok) return { kind: 'rejected', code: r.code, message: r.message, seq: seqOf(raw) };
    if (r.value.type === 'heartbeat') { this.touch(hostId); return { kind: 'heartbeat' }; }
    const f = r.value;
    seen.seq = f.seq;
    const frame: FrameHead = { seq: f.seq, scan_id: f.scan_id, mode: f.mode, part: f.part, final: f.final };
    return { kind: 'stored', frame, res: this.inventory.apply(hostId, f, this.matcher()) };
  }
}

/** Best-effort `seq` of a frame that failed validation, so the agent can tell which batch. */
function seqOf(data: Buffer): number | undefined {
  if (data.length > 64 * 1024 * 1024) return undefined;
  try {
    const s = (JSON.parse(data.toString('utf8')) as { seq?: unknown } | null)?.seq;
    return Number.isSafeInteger(s) && (s as number) >= 0 ? s as number : undefined;
  } catch { return undefined; }
}
