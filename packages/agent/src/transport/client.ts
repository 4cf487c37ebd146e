/**
 * The agent's side of the collector link: trust (pinned CA), enrollment, one WebSocket
 * session, and batches that count as delivered only once the collector acknowledges them
 * (it acknowledges after its SQLite commit).
 *
 *   scan → chunk (≤ MAX_ITEMS_PER_FRAME) → frame{seq} → ws → collector validates, commits → ack{seq}
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import WebSocket from 'ws';
import type { Logger } from 'pino';
import {
  PROTOCOL_VERSION, MAX_ITEMS_PER_FRAME, parseCollectorFrame,
  type CollectorFrame, type InventoryFrame, type InventoryItem, type EnrollResponse,
} from '@chainwatch/shared';
import { AgentError } from '../errors.js';
import { AGENT_VERSION } from '../version.js';
import type { AgentState, StateStore } from '../state.js';
import { fetchPinnedCa, normalizeFingerprint, tlsServerName } from './tls.js';
import { postJson } from './http.js';

export interface ClientOptions {
  collector: string;
  enrollSecret?: string | undefined;
  caFingerprint?: string | undefined;
  caFile?: string | undefined;
  insecure?: boolean | undefined;
  store: StateStore;
  log: Logger;
  ackTimeoutMs?: number;
  /** Frames in flight before waiting for acks. */
  window?: number;
}

const MAX_FRAME_BYTES = 4 * 1024 * 1024;

export class CollectorClient {
  private state!: AgentState;
  private ca: string | undefined;
  private readonly base: URL;

  constructor(private readonly opts: ClientOptions) {
    this.base = new URL(opts.collector);
    if (!['https:', 'http:', 'wss:', 'ws:'].includes(this.base.protocol)) {
      throw new AgentError('CW_AGENT_USAGE', `collector URL must be https:// (or http:// with --insecure), got ${this.base.protocol}`);
    }
    if (this.base.protocol === 'wss:') this.base.protocol = 'https:';
    if (this.base.protocol === 'ws:') this.base.protocol = 'http:';
    if (this.base.protocol === 'http:' && !opts.insecure) {
      throw new AgentError('CW_AGENT_USAGE', 'refusing plain http:// without --insecure: inventory and credentials would travel in clear text');
    }
  }

  get hostId(): string { return this.state.host_id; }

  /** Loads state, settles TLS trust and enrolls if this agent has no credentials yet. */
  async prepare(): Promise<void> {
    this.state = await this.opts.store.load();
    if (this.base.protocol === 'http:') {
      this.opts.log.warn({ collector: this.base.origin }, 'INSECURE: plain ws:// link, no TLS');
    } else {
      await this.settleTrust();
    }
    if (!this.state.token || this.state.collector !== this.base.origin) await this.enroll();
  }

  private async settleTrust(): Promise<void> {
    const { caFingerprint, caFile } = this.opts;
    if (caFile) { this.ca = await readFile(caFile, 'utf8'); return; }
    if (caFingerprint) {
      const pin = normalizeFingerprint(caFingerprint);
      if (this.state.ca_pem && this.state.ca_fingerprint === pin) { this.ca = this.state.ca_pem; return; }
      this.ca = await fetchPinnedCa(this.base.hostname, Number(this.base.port || 443), pin);
      this.state.ca_pem = this.ca; this.state.ca_fingerprint = pin;
      await this.opts.store.save(this.state);
      return;
    }
    if (this.state.ca_pem) this.ca = this.state.ca_pem; // pinned on an earlier run
  }

  private async enroll(): Promise<void> {
    if (!this.opts.enrollSecret) throw new AgentError('CW_TRANSPORT_ENROLL', 'not enrolled yet and no --enroll-secret given');
    let res;
    try {
      res = await postJson({ url: this.base, ca: this.ca }, '/api/v1/agents/enroll', {
        enroll_secret: this.opts.enrollSecret, host_id: this.state.host_id, hostname: os.hostname().slice(0, 255), agent_version: AGENT_VERSION,
      });
    } catch (err) {
      throw new AgentError('CW_TRANSPORT_CONNECT', `${this.base.origin}: ${(err as Error).message}`);
    }
    if (res.status !== 200) {
      const j = res.json as { code?: string; message?: string } | null;
      throw new AgentError('CW_TRANSPORT_ENROLL', `HTTP ${res.status} ${j?.code ?? ''} ${j?.message ?? ''}`.trim());
    }
    const body = res.json as EnrollResponse;
    this.state.token = body.token; this.state.host_id = body.host_id; this.state.collector = this.base.origin;
    await this.opts.store.save(this.state);
    this.opts.log.info({ host_id: body.host_id }, 'enrolled');
  }

  /** Opens a session; resolves once the collector's welcome arrived. */
  async connect(): Promise<Session> {
    const url = new URL('/api/v1/agents/stream', this.base);
    url.protocol = this.base.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(url, {
      headers: { authorization: `Bearer ${this.state.host_id}.${this.state.token}` },
      perMessageDeflate: true,
      maxPayload: MAX_FRAME_BYTES,
      handshakeTimeout: 15_000,
      ...(url.protocol === 'wss:' ? { ca: this.ca, servername: tlsServerName(url.hostname), rejectUnauthorized: true } : {}),
    });
    const session = new Session(ws, this.state, this.opts.store, this.opts.log, this.opts.ackTimeoutMs ?? 120_000, this.opts.window ?? 8);
    await session.opened();
    return session;
  }
}

interface Pending { resolve(): void; reject(err: Error): void; timer: NodeJS.Timeout }

/** One WebSocket session: sends batches with sequence numbers, settles them on acks. */
export class Session {
  private readonly pending = new Map<number, Pending>();
  private welcome: Promise<void>;
  private closedErr: Error | null = null;
  onRescan: (() => void) | null = null;

  constructor(private readonly ws: WebSocket, private readonly state: AgentState, private readonly store: StateStore,
    private readonly log: Logger, private readonly ackTimeoutMs: number, private readonly window: number) {
    this.welcome = new Promise((resolve, reject) => {
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => { body += c.toString('utf8').slice(0, 2000); });
        res.on('end', () => reject(new AgentError('CW_TRANSPORT_REJECTED', `HTTP ${res.statusCode}: ${body.slice(0, 300)}`)));
      });
      ws.once('error', (err) => reject(new AgentError('CW_TRANSPORT_CONNECT', err.message)));
      ws.on('message', (data, isBinary) => this.onFrame(data as Buffer, isBinary, resolve));
      ws.on('close', (code, reason) => this.failAll(new AgentError('CW_TRANSPORT_CONNECT', `connection closed (${code} ${reason.toString()})`), reject));
    });
  }

  opened(): Promise<void> { return this.welcome; }

  private onFrame(data: Buffer, _isBinary: boolean, welcomed: () => void): void {
    const r = parseCollectorFrame(data, { maxBytes: MAX_FRAME_BYTES });
    if (!r.ok) { this.log.warn({ code: r.code, detail: r.message }, 'ignored invalid frame from collector'); return; }
    const f: CollectorFrame = r.value;
    switch (f.type) {
      case 'welcome':
        this.log.debug({ last_seq: f.last_seq }, 'welcome');
        if (f.last_seq > this.state.acked_seq) this.state.acked_seq = f.last_seq;
        if (f.last_seq > this.state.seq) this.state.seq = f.last_seq;
        welcomed();
        break;
      case 'ack': this.settle(f.seq, null); break;
      case 'error':
        if (f.seq !== undefined) this.settle(f.seq, new AgentError('CW_TRANSPORT_REJECTED', `${f.code}: ${f.message}`));
        else this.log.warn({ code: f.code, detail: f.message }, 'collector error');
        break;
      case 'rescan': this.onRescan?.(); break;
      case 'config': this.log.info({ config: f }, 'config from collector'); break;
    }
  }

  private settle(seq: number, err: Error | null): void {
    const p = this.pending.get(seq);
    if (!p) return;
    this.pending.delete(seq);
    clearTimeout(p.timer);
    if (err) p.reject(err); else p.resolve();
  }

  private failAll(err: Error, rejectWelcome: (e: Error) => void): void {
    this.closedErr = err;
    rejectWelcome(err);
    for (const seq of [...this.pending.keys()]) this.settle(seq, err);
  }

  /** Sends one frame and resolves when the collector acknowledged it. */
  private sendFrame(frame: InventoryFrame): Promise<void> {
    if (this.closedErr) return Promise.reject(this.closedErr);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.settle(frame.seq, new AgentError('CW_TRANSPORT_TIMEOUT', `no ack for batch ${frame.seq}`)), this.ackTimeoutMs);
      this.pending.set(frame.seq, { resolve, reject, timer });
      this.ws.send(JSON.stringify(frame), (err) => { if (err) this.settle(frame.seq, err); });
    });
  }

  /**
   * Sends a whole inventory as one scan (chunked frames, at most `window` unacknowledged),
   * and resolves when every chunk is acknowledged. Returns the number of items sent.
   */
  async sendInventory(items: AsyncIterable<InventoryItem>, mode: 'full' | 'delta' = 'full'): Promise<number> {
    const scanId = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    const inflight = new Set<Promise<void>>();
    let part = 0, total = 0;
    let chunk: InventoryItem[] = [];
    let chunkBytes = 0;
    const flush = async (final: boolean) => {
      const frame: InventoryFrame = { v: PROTOCOL_VERSION, type: 'inventory', seq: ++this.state.seq, scan_id: scanId, mode, part: part++, final, items: chunk };
      chunk = []; chunkBytes = 0;
      const p = this.sendFrame(frame).then(() => { if (frame.seq > this.state.acked_seq) this.state.acked_seq = frame.seq; });
      inflight.add(p);
      void p.finally(() => inflight.delete(p)).catch(() => {});
      if (inflight.size >= this.window) await Promise.race(inflight);
    };
    for await (const item of items) {
      const size = JSON.stringify(item).length;
      if (chunk.length >= MAX_ITEMS_PER_FRAME || chunkBytes + size > MAX_FRAME_BYTES / 2) await flush(false);
      chunk.push(item); chunkBytes += size; total++;
    }
    await flush(true);
    await Promise.all(inflight);
    await this.store.save(this.state);
    return total;
  }

  close(): void { this.ws.close(1000, 'done'); }
}
