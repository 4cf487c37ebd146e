/**
 * One simulated agent, speaking what packages/agent/src/transport/{client,session}.ts speak:
 * Bearer <host_id>.<token> on wss /api/v1/agents/stream, the welcome's last_seq settles what
 * the collector already committed and everything above it is resent in order, at most
 * `window` batches unacknowledged, a heartbeat frame + ws ping every heartbeat_s.
 *
 * Frames are built lazily, when the worker's byte budget lets this agent send (the budget
 * bounds the simulator's memory; a real agent holds its own spool on its own disk), by joining
 * pre-serialised item strings — no per-item JSON work on the hot path — and, where the link
 * negotiated permessage-deflate, by joining pre-compressed runs (packed-frames.ts) into a message
 * written as is instead of compressing each frame again. The budget counts bytes,
 * not frames: a storm's small deltas are not held to the count of a sync's large frames.
 */
import WebSocket from 'ws';
import { AGENT_DEFLATE, PROTOCOL_VERSION } from '@chainwatch/shared';
import type { Histogram } from './histogram.js';
import { linkTakesPacked, packedPart, partText, planParts, type FrameHead, type Part, type PieceCache, type Run } from './packed-frames.js';
import { countError, type PhaseStats } from './stats.js';

export interface ScanJob { mode: 'full' | 'delta'; scanId: string; make: () => { runs: Run[]; removed: string[] } }
/**
 * A frame until it is acknowledged. Its payload is built again for a resend rather than kept: held
 * for the seconds an ack takes, thousands of 64 KB strings outlived V8's young generation, were
 * copied into the old one and kept its collector busy (a worker spent ~a quarter of its main
 * thread in GC).
 */
interface Built { seq: number; chars: number; items: number; sentAt: number; first: string | Buffer | null; payload: (packed: boolean) => string | Buffer }
interface Chunked { job: ScanJob; parts: Part[]; next: number }

/** Worker-wide context every agent shares. */
export interface AgentContext {
  wsUrl: string; ca: string; deflate: boolean; window: number;
  /** Compressed runs of base-image items, shared by the worker's agents (packed-frames.ts). */
  pieces: PieceCache;
  stats(): PhaseStats; latency(): Histogram;
  /** Whether the worker's byte budget has room for another frame; false = queued, `pump()` is called when it has. */
  mayBuild(a: SimAgent): boolean;
  /** A built frame's bytes are held (charge) until it is acknowledged or settled (release). */
  charge(bytes: number): void;
  release(bytes: number): void;
  onIdle(a: SimAgent): void;
}

/** ws's frame writer (not in its typings): a packed frame is already compressed, so it goes out as is. */
interface WsSender { _state: number; sendFrame(list: Buffer[], cb?: (err?: Error) => void): void }
interface FrameOptions { fin: boolean; rsv1: boolean; opcode: number; mask: boolean; readOnly: boolean }
const Sender = (WebSocket as unknown as { Sender: { frame(data: Buffer, o: FrameOptions): Buffer[] } }).Sender;

export class SimAgent {
  token = '';
  ws: WebSocket | null = null;
  welcomed = false;
  everWelcomed = false;
  heartbeatMs = 60_000;
  lastHeartbeat = 0;
  /** Highest seq assigned; the collector stores the last it committed (welcome.last_seq). */
  seq = 0;
  ackedSeq = 0;
  deltas = 0;
  /** Terminate the link right after the next frame goes out (reconnect + resend drill). */
  dropAfterSend = false;
  stopping = false;
  private readonly jobs: ScanJob[] = [];
  private chunked: Chunked | null = null;
  /** Built frames not yet acknowledged, in seq order; `sent` marks those on the current link. */
  private readonly unacked: Built[] = [];
  private sentOnLink = 0;
  /** The current link takes packed (pre-compressed) frames: see linkTakesPacked. */
  private packed = false;
  private welcomeWaiters: Array<(e?: Error) => void> = [];

  constructor(readonly host: number, readonly hostId: string, private readonly ctx: AgentContext) {}

  get idle(): boolean { return this.jobs.length === 0 && this.chunked === null && this.unacked.length === 0; }

  /** Opens the link; resolves on welcome, rejects if the link fails first. */
  connect(): Promise<void> {
    const ws = new WebSocket(this.ctx.wsUrl, {
      ca: this.ctx.ca, perMessageDeflate: this.ctx.deflate ? AGENT_DEFLATE : false, handshakeTimeout: 60_000, maxPayload: 4 * 1024 * 1024,
      headers: { authorization: `Bearer ${this.hostId}.${this.token}` },
    });
    this.ws = ws; this.welcomed = false; this.sentOnLink = 0; this.packed = false;
    ws.once('open', () => { this.packed = this.ctx.deflate && linkTakesPacked(ws.extensions); });
    const p = new Promise<void>((resolve, reject) => { this.welcomeWaiters.push((e) => (e ? reject(e) : resolve())); });
    ws.on('message', (d: Buffer) => this.onFrame(ws, d));
    ws.on('unexpected-response', (_req, res) => { countError(this.ctx.stats(), `HTTP_${res.statusCode}`); ws.terminate(); });
    ws.on('error', (err: NodeJS.ErrnoException) => countError(this.ctx.stats(), err.code ?? 'WS_ERROR'));
    ws.on('close', () => this.onClose(ws));
    return p;
  }

  enqueue(job: ScanJob): void { this.jobs.push(job); this.pump(); }

  heartbeat(now: number): void {
    if (!this.ws || !this.welcomed || now - this.lastHeartbeat < this.heartbeatMs) return;
    this.lastHeartbeat = now;
    this.ws.send(`{"v":${PROTOCOL_VERSION},"type":"heartbeat","seq":${this.seq}}`);
    this.ws.ping();
    this.ctx.stats().heartbeats++;
  }

  close(): Promise<void> {
    this.stopping = true;
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => { ws.once('close', () => resolve()); ws.close(1000, 'done'); setTimeout(() => { ws.terminate(); }, 5000).unref(); });
  }

  private onFrame(ws: WebSocket, data: Buffer): void {
    let f: { type?: string; seq?: number; applied?: boolean; last_seq?: number; heartbeat_s?: number; code?: string };
    try { f = JSON.parse(data.toString('utf8')) as typeof f; } catch { countError(this.ctx.stats(), 'BAD_JSON_FROM_COLLECTOR'); return; }
    if (f.type === 'welcome') this.onWelcome(f.last_seq ?? 0, f.heartbeat_s ?? 60);
    else if (f.type === 'ack') this.onAck(f.seq ?? -1, f.applied !== false);
    else if (f.type === 'error') {
      countError(this.ctx.stats(), f.code ?? 'ERROR');
      // As the agent does: a store failure means reconnect and resend.
      if (f.code === 'CW_STORE_FAILED') ws.terminate();
    }
  }

  private onWelcome(lastSeq: number, heartbeatS: number): void {
    const st = this.ctx.stats();
    this.welcomed = true; this.everWelcomed = true;
    this.heartbeatMs = heartbeatS * 1000;
    this.lastHeartbeat = Date.now();
    // Committed before the link dropped, ack lost on the way: settled, never resent.
    while (this.unacked.length && this.unacked[0]!.seq <= lastSeq) { this.ctx.release(this.unacked.shift()!.chars); st.settledByWelcome++; }
    this.ackedSeq = Math.max(this.ackedSeq, lastSeq);
    this.seq = Math.max(this.seq, lastSeq);
    for (const w of this.welcomeWaiters.splice(0)) w();
    this.pump();
  }

  private onAck(seq: number, applied: boolean): void {
    const i = this.unacked.findIndex((b) => b.seq === seq);
    if (i < 0) { countError(this.ctx.stats(), 'ACK_UNKNOWN_SEQ'); return; }
    const [b] = this.unacked.splice(i, 1) as [Built];
    this.sentOnLink--;
    const st = this.ctx.stats(), now = Date.now();
    st.framesAcked++; st.itemsAcked += b.items; st.lastAck = now;
    if (!applied) st.duplicatesAcked++;
    this.ctx.latency().record(performance.now() - b.sentAt);
    this.ackedSeq = Math.max(this.ackedSeq, seq);
    this.ctx.release(b.chars);
    this.pump();
    if (this.idle) this.ctx.onIdle(this);
  }

  private onClose(ws: WebSocket): void {
    if (this.ws !== ws) return;
    const wasWelcomed = this.welcomed;
    this.ws = null; this.welcomed = false; this.sentOnLink = 0;
    for (const w of this.welcomeWaiters.splice(0)) w(new Error('link closed before welcome'));
    if (this.stopping || !wasWelcomed) return;
    // Unplanned loss (or the drill): back off briefly, reconnect, resend from last_seq.
    this.ctx.stats().reconnects++;
    const retry = () => { if (!this.stopping) this.connect().catch(() => setTimeout(retry, 500 + Math.random() * 1500)); };
    setTimeout(retry, 100 + Math.random() * 400);
  }

  /** Sends what the window allows: first frames built earlier and not yet on this link, then new ones. */
  pump(): void {
    const ws = this.ws;
    if (!ws || !this.welcomed || ws.readyState !== WebSocket.OPEN) return;
    const st = this.ctx.stats();
    while (this.sentOnLink < this.unacked.length && this.sentOnLink < this.ctx.window) {
      const b = this.unacked[this.sentOnLink++]!;
      st.resent++;
      this.send(ws, b);
    }
    while (this.sentOnLink < this.ctx.window && (this.chunked || this.jobs.length)) {
      if (!this.ctx.mayBuild(this)) return;
      const b = this.buildNext();
      this.ctx.charge(b.chars);
      this.unacked.push(b); this.sentOnLink++;
      st.framesSent++;
      this.send(ws, b);
      if (this.dropAfterSend) {
        this.dropAfterSend = false;
        // Sometimes before the collector commits, sometimes after: both must end with the batch stored once.
        setTimeout(() => ws.terminate(), Math.random() * 30);
        return;
      }
    }
  }

  private send(ws: WebSocket, b: Built): void {
    const st = this.ctx.stats();
    if (!st.firstSend) st.firstSend = Date.now();
    st.bytesSent += b.chars;
    b.sentAt = performance.now();
    const payload = b.first ?? b.payload(this.packed);
    b.first = null;
    if (typeof payload === 'string') { ws.send(payload, { binary: false }); return; }
    // Every frame of a packed link goes this way, so ws never has a message of ours queued behind a
    // compression (its sender's state stays 0, DEFAULT) and frames leave in seq order.
    const sender = (ws as unknown as { _sender: WsSender })._sender;
    if (sender._state !== 0) { countError(st, 'WS_SENDER_BUSY'); ws.terminate(); return; }
    sender.sendFrame(Sender.frame(payload, { fin: true, rsv1: true, opcode: 1, mask: true, readOnly: false }));
  }

  private buildNext(): Built {
    if (!this.chunked) {
      const job = this.jobs.shift()!;
      const { runs, removed } = job.make();
      this.chunked = { job, parts: planParts(runs, removed), next: 0 };
    }
    const c = this.chunked;
    const part = c.next++, p = c.parts[part]!, final = c.next === c.parts.length;
    if (final) this.chunked = null;
    const head: FrameHead = { seq: ++this.seq, scanId: c.job.scanId, mode: c.job.mode, part, final };
    const pieces = this.ctx.pieces;
    const payload = (packed: boolean): string | Buffer => (packed ? packedPart(head, p, pieces) : partText(head, p));
    const first = payload(this.packed);
    const chars = typeof first === 'string' ? first.length : partChars(head, p);
    return { seq: head.seq, chars, items: p.items, sentAt: 0, first, payload };
  }
}

/** A part's text length without building the text (the budget and bytes_sent count text, as before packing). */
function partChars(h: FrameHead, p: Part): number {
  let n = 0;
  for (const r of p.runs) n += r.chars;
  return partText(h, { runs: [], items: 0, removed: p.removed }).length + Math.max(0, n - 1);
}
