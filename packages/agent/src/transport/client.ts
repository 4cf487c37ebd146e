/**
 * The agent's side of the collector link: trust (pinned CA), enrollment, token rotation and
 * one WebSocket session that drains the on-disk spool. A batch counts as delivered only once
 * the collector acknowledges it (it acknowledges after its SQLite commit).
 *
 *   scan → chunk (≤ MAX_ITEMS_PER_FRAME) → spool.append (seq, fsync) ─┐
 *   welcome{last_seq} → spool.ack(last_seq) → resend everything above ┴→ ws → collector commits → ack{seq} → spool.ack
 *
 * Inbound frames are parsed with the shared schemas and only five typed frames mean anything
 * (welcome, ack, error, rescan, config with bounded values). Nothing received can name a
 * command or a path; anything else is logged and ignored.
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import WebSocket from 'ws';
import type { Logger } from 'pino';
import { AGENT_DEFLATE, type EnrollResponse } from '@chainwatch/shared';
import { AgentError } from '../errors.js';
import { AGENT_VERSION } from '../version.js';
import type { AgentState, StateStore } from '../state.js';
import { fetchPinnedCa, normalizeFingerprint, tlsServerName, tlsVerifyFailure } from './tls.js';
import { postJson } from './http.js';
import { instanceDigest } from './identity.js';
import { makeCsr } from './csr.js';
import type { Spool } from './spool.js';
import { Session } from './session.js';

export { Session };

export interface ClientOptions {
  collector: string;
  enrollSecret?: string | undefined;
  caFingerprint?: string | undefined;
  caFile?: string | undefined;
  insecure?: boolean | undefined;
  /** Root being inventoried: its machine id is the instance identity (see identity.ts). */
  root?: string | undefined;
  store: StateStore;
  log: Logger;
  /** No ack for this long while batches are in flight → the link is presumed dead. Default 120 s. */
  ackTimeoutMs?: number;
  /** Batches in flight before waiting for acks; default 8. */
  window?: number;
}

export const MAX_FRAME_BYTES = 4 * 1024 * 1024;

export class CollectorClient {
  private state!: AgentState;
  private ca: string | undefined;
  private instance = '';
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
  get seqFloor(): number { return Math.max(this.state.seq, this.state.acked_seq); }

  /** Loads state, settles TLS trust and enrolls if this agent has no credentials yet. */
  async prepare(): Promise<void> {
    this.state = await this.opts.store.load();
    this.instance = await instanceDigest(this.state.host_id, this.opts.root);
    if (this.base.protocol === 'http:') {
      this.opts.log.warn({ collector: this.base.origin }, 'INSECURE: plain ws:// link, no TLS — inventory and credentials travel in clear text');
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

  private async call(path: string, body: unknown, auth?: string): Promise<{ status: number; json: unknown }> {
    try {
      return await postJson({ url: this.base, ca: this.ca, auth, clientCert: this.clientCert() }, path, body);
    } catch (err) {
      throw tlsVerifyFailure(err, this.ca !== undefined) ?? new AgentError('CW_TRANSPORT_CONNECT', `${this.base.origin}: ${(err as Error).message}`);
    }
  }

  private clientCert(): { cert: string; key: string } | undefined {
    return this.state.client_cert && this.state.client_key ? { cert: this.state.client_cert, key: this.state.client_key } : undefined;
  }

  private async enroll(): Promise<void> {
    if (!this.opts.enrollSecret) throw new AgentError('CW_TRANSPORT_ENROLL', 'not enrolled yet and no --enroll-secret given');
    const csr = this.base.protocol === 'https:' ? makeCsr(this.state.host_id) : null;
    const res = await this.call('/api/v1/agents/enroll', {
      enroll_secret: this.opts.enrollSecret, host_id: this.state.host_id, hostname: os.hostname().slice(0, 255), agent_version: AGENT_VERSION,
      instance: this.instance, ...(csr ? { csr: csr.csrPem } : {}),
    });
    if (res.status !== 200) {
      const j = res.json as { code?: string; message?: string } | null;
      throw new AgentError('CW_TRANSPORT_ENROLL', `HTTP ${res.status} ${j?.code ?? ''} ${j?.message ?? ''}`.trim());
    }
    const body = res.json as EnrollResponse;
    this.state.token = body.token; this.state.host_id = body.host_id; this.state.collector = this.base.origin;
    delete this.state.client_cert; delete this.state.client_key;
    if (csr && body.client_cert) { this.state.client_cert = body.client_cert; this.state.client_key = csr.keyPem; }
    await this.opts.store.save(this.state);
    this.opts.log.info({ host_id: body.host_id, client_cert: Boolean(body.client_cert) }, 'enrolled');
  }

  /**
   * Asks the collector for a new token (and client certificate) and keeps it. The old token
   * stays valid until the new one is first used, so a crash between the two steps locks
   * nobody out; afterwards the old one is retired and presenting it flags the host.
   */
  async rotate(): Promise<void> {
    const csr = this.state.client_cert ? makeCsr(this.state.host_id) : null;
    const res = await this.call('/api/v1/agents/rotate', csr ? { csr: csr.csrPem } : {}, this.authHeader());
    if (res.status !== 200) throw new AgentError('CW_TRANSPORT_IDENTITY', `token rotation refused: HTTP ${res.status}`);
    const body = res.json as EnrollResponse;
    this.state.token = body.token;
    if (csr && body.client_cert) { this.state.client_cert = body.client_cert; this.state.client_key = csr.keyPem; }
    await this.opts.store.save(this.state);
    this.opts.log.info({ host_id: this.state.host_id }, 'token rotated');
  }

  private authHeader(): string { return `Bearer ${this.state.host_id}.${this.state.token}`; }

  /** Opens a session; resolves once the collector's welcome arrived and the spool resend began. */
  async connect(spool: Spool): Promise<Session> {
    const url = new URL('/api/v1/agents/stream', this.base);
    url.protocol = this.base.protocol === 'https:' ? 'wss:' : 'ws:';
    const cc = this.clientCert();
    const ws = new WebSocket(url, {
      headers: { authorization: this.authHeader(), 'x-chainwatch-instance': this.instance },
      perMessageDeflate: AGENT_DEFLATE,
      maxPayload: MAX_FRAME_BYTES,
      handshakeTimeout: 15_000,
      ...(url.protocol === 'wss:' ? { ca: this.ca, servername: tlsServerName(url.hostname), rejectUnauthorized: true, ...(cc ?? {}) } : {}),
    });
    const session = new Session(ws, spool, this.opts.log, { ackTimeoutMs: this.opts.ackTimeoutMs ?? 120_000, window: this.opts.window ?? 8, caPinned: this.ca !== undefined });
    await session.opened();
    return session;
  }
}

