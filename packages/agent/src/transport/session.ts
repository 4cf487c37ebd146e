/**
 * One WebSocket session with the collector: it drains the spool in sequence order (at most
 * `window` batches unacknowledged), settles batches on acks, and keeps the link honest with
 * heartbeats both ways (a heartbeat frame + ws ping from us; anything heard back counts).
 * A session never retries by itself: on any trouble it closes and the caller reconnects,
 * and the next welcome's `last_seq` says where to resume.
 */
import type WebSocket from 'ws';
import type { Logger } from 'pino';
import { PROTOCOL_VERSION, parseCollectorFrame, type CollectorFrame, type ConfigFrame } from '@chainwatch/shared';
import { AgentError } from '../errors.js';
import type { Spool } from './spool.js';
import { tlsVerifyFailure } from './tls.js';

export interface SessionOptions {
  ackTimeoutMs: number;
  window: number;
  /** Whether a collector CA was given or pinned (how a certificate failure is explained). */
  caPinned: boolean;
}

/** Unsent bytes in the socket beyond which we wait: the collector is reading slowly. */
const HIGH_WATER = 4 * 1024 * 1024;
const MAX_FRAME_BYTES = 4 * 1024 * 1024;

export class Session {
  onRescan: (() => void) | null = null;
  onConfig: ((c: ConfigFrame) => void) | null = null;
  /** Set when the collector asked for token rotation in its welcome. */
  rotateRequested = false;
  hostId = '';
  private readonly welcome: Promise<void>;
  private readonly closed: Promise<Error>;
  private readonly stop = new AbortController();
  private inflight: number[] = [];
  private cursor = 0;
  private lastRx = Date.now();
  private lastAck = Date.now();
  private heartbeatMs = 60_000;
  private timer: NodeJS.Timeout | null = null;
  private ackWaiter: (() => void) | null = null;
  private welcomed: (() => void) | null = null;

  constructor(private readonly ws: WebSocket, private readonly spool: Spool, private readonly log: Logger, private readonly opts: SessionOptions) {
    let rejectWelcome: (e: Error) => void = () => {};
    this.welcome = new Promise((resolve, reject) => { this.welcomed = resolve; rejectWelcome = reject; });
    this.welcome.catch(() => {});
    this.closed = new Promise((resolve) => {
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => { body += c.toString('utf8').slice(0, 2000); });
        res.on('end', () => {
          const code = res.statusCode === 401 || res.statusCode === 403 || (res.statusCode === 409 && body.includes('CW_HOST_FLAGGED')) ? 'CW_TRANSPORT_IDENTITY' : 'CW_TRANSPORT_REJECTED';
          const err = new AgentError(code, `HTTP ${res.statusCode}: ${body.slice(0, 300)}`);
          rejectWelcome(err); this.shutdown(); resolve(err);
        });
      });
      ws.on('error', (err) => { const e = tlsVerifyFailure(err, this.opts.caPinned) ?? new AgentError('CW_TRANSPORT_CONNECT', err.message); rejectWelcome(e); this.shutdown(); resolve(e); });
      ws.on('close', (code, reason) => {
        const e = new AgentError('CW_TRANSPORT_CONNECT', `connection closed (${code} ${reason.toString().slice(0, 200)})`);
        rejectWelcome(e); this.shutdown(); resolve(e);
      });
    });
    ws.on('message', (data: Buffer) => this.onFrame(data));
    ws.on('pong', () => { this.lastRx = Date.now(); });
  }

  opened(): Promise<void> { return this.welcome; }
  /** Resolves (never rejects) with why the session ended. */
  done(): Promise<Error> { return this.closed; }

  private onFrame(data: Buffer): void {
    this.lastRx = Date.now();
    const r = parseCollectorFrame(data, { maxBytes: MAX_FRAME_BYTES });
    if (!r.ok) { this.log.warn({ code: r.code, detail: r.message.slice(0, 200) }, 'ignored invalid frame from collector'); return; }
    const f: CollectorFrame = r.value;
    switch (f.type) {
      case 'welcome': return this.onWelcome(f.host_id, f.last_seq, f.heartbeat_s, f.rotate_token === true);
      case 'ack': return this.onAck(f.seq);
      case 'error':
        if (f.seq === undefined) { this.log.warn({ code: f.code, detail: f.message.slice(0, 300) }, 'collector error'); return; }
        if (f.code === 'CW_STORE_FAILED') { this.log.warn({ seq: f.seq }, 'collector could not store a batch; reconnecting to resend'); this.ws.terminate(); return; }
        // The collector will never take this batch (it fails the schema it validates against):
        // skip it instead of blocking every later batch behind it forever.
        this.log.error({ seq: f.seq, code: f.code, detail: f.message.slice(0, 300) }, 'batch rejected by collector; dropped from spool');
        return this.onAck(f.seq);
      case 'rescan': this.onRescan?.(); return;
      case 'config':
        if (f.heartbeat_s) this.heartbeatMs = f.heartbeat_s * 1000;
        this.onConfig?.(f);
        return;
    }
  }

  private onWelcome(hostId: string, lastSeq: number, heartbeatS: number, rotate: boolean): void {
    if (!this.welcomed) { this.log.warn('ignored repeated welcome'); return; }
    const done = this.welcomed; this.welcomed = null;
    this.hostId = hostId;
    this.rotateRequested = rotate;
    this.heartbeatMs = heartbeatS * 1000;
    this.log.debug({ last_seq: lastSeq, spooled: this.spool.pending }, 'welcome');
    void this.spool.ack(lastSeq).then(() => {
      this.cursor = Math.max(lastSeq, this.spool.ackedSeq);
      this.timer = setInterval(() => this.tick(), 1000);
      done();
      void this.pump().catch((err: unknown) => { this.log.warn({ err }, 'spool pump failed'); this.ws.terminate(); });
    });
  }

  private onAck(seq: number): void {
    this.lastAck = Date.now();
    this.inflight = this.inflight.filter((s) => s > seq);
    void this.spool.ack(seq).catch((err: unknown) => this.log.warn({ err }, 'spool ack failed'));
    this.ackWaiter?.();
  }

  /** Heartbeats out, silence and ack timeouts in. */
  private tick(): void {
    const now = Date.now();
    if (now - this.lastRx > 3 * this.heartbeatMs + 5000) { this.log.warn('collector silent; reconnecting'); this.ws.terminate(); return; }
    if (this.inflight.length && now - this.lastAck > this.opts.ackTimeoutMs) { this.log.warn({ inflight: this.inflight.length }, 'no ack in time; reconnecting'); this.ws.terminate(); return; }
    if (now - this.lastHeartbeat >= this.heartbeatMs) {
      this.lastHeartbeat = now;
      this.ws.send(JSON.stringify({ v: PROTOCOL_VERSION, type: 'heartbeat', seq: this.cursor }));
      this.ws.ping();
    }
  }
  private lastHeartbeat = Date.now();

  /** Sends spooled batches in order, keeping at most `window` unacknowledged. */
  private async pump(): Promise<void> {
    const signal = this.stop.signal;
    while (!signal.aborted) {
      if (this.inflight.length >= this.opts.window || this.ws.bufferedAmount > HIGH_WATER) {
        await new Promise<void>((r) => { this.ackWaiter = r; setTimeout(r, 200); });
        continue;
      }
      const rec = await this.spool.next(this.cursor);
      if (signal.aborted) return;
      if (!rec) { await this.spool.waitFor(this.cursor, signal); continue; }
      if (this.inflight.length === 0) this.lastAck = Date.now();
      this.inflight.push(rec.seq);
      this.cursor = rec.seq;
      this.ws.send(rec.data, { binary: false });
    }
  }

  private shutdown(): void {
    this.stop.abort();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  close(code = 1000, reason = 'done'): void { this.shutdown(); this.ws.close(code, reason); }
}
