/**
 * The agent stream: WebSocket at /api/v1/agents/stream.
 *
 *   agent scan → spool{seq, fsync} ──wss──▶ upgrade: failed-auth limit per IP → Bearer <host>.<token>
 *        ▲                                   + instance digest (clone check) + client cert (--mtls): refused before any frame
 *        │                                   │ frame rate limit
 *        │                                   ▼
 *        └────────── ack{seq} ◀── commit ◀── FrameWriter: the writer thread with its own connection (database file)
 *                                            or the main thread (':memory:'); CommitQueue (group commit: frames of many
 *                                            agents, one savepoint each) → parse (size, UTF-8, depth) → validate (shared
 *                                            schemas) → InventoryStore.apply: items, host_items, match → alerts, last_seq
 *
 * A frame is acknowledged only after the transaction holding it commits; a replayed seq is acknowledged
 * again without being applied (exactly-once effect). Bad frames get an error frame and change
 * nothing; repeated violations close the connection (1008). After a failed commit the
 * connection takes nothing more (1011): later batches must not overtake the failed one.
 * Backpressure: while acks pile up unsent (the agent does not read), we stop reading its socket.
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  PROTOCOL_VERSION, WireErrors,
  type AckFrame, type ErrorFrame, type WelcomeFrame, type WireErrorCode,
} from '@chainwatch/shared';
import type { CollectorService } from '../service.js';
import { verifyAgentToken } from '../store/auth.js';
import { metrics } from '../metrics.js';
import { InlineFrameWriter, type FrameWriter } from './frame-writer.js';
import { WorkerFrameWriter } from './worker-writer.js';
import { DEFLATE, deferInflate } from './ws-deflate.js';
import { transportContext, type TransportContext, type TransportSettings } from './guard.js';

export interface IngestOptions {
  svc: CollectorService;
  maxFrameBytes: number;
  heartbeatS: number;
  maxViolations: number;
  transport?: Partial<TransportSettings> | undefined;
  /** Store frames in a writer thread (default: whenever the database is a file). */
  writerThread?: boolean | undefined;
}

const PATH = '/api/v1/agents/stream';
/** How long a stopping collector keeps committing frames already received; the rest are resent by their agents. */
const SHUTDOWN_DRAIN_MS = 5000;
/** Unsent bytes to one agent past which we stop reading from it, and below which we resume. */
const HIGH_WATER = 1024 * 1024, LOW_WATER = 256 * 1024;
/** Connections pinged (or found dead) per event-loop turn. */
const PING_SLICE = 256;

async function forEachInSlices<T>(list: T[], fn: (x: T) => void): Promise<void> {
  for (let i = 0; i < list.length; i += PING_SLICE) {
    if (i > 0) await new Promise((r) => setImmediate(r));
    for (const x of list.slice(i, i + PING_SLICE)) fn(x);
  }
}

/** How long a refused client gets to read the answer and close before its socket is destroyed. */
const REFUSED_LINGER_MS = 10_000;
const STATUS_TEXT: Record<number, string> = { 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 429: 'Too Many Requests' };

/**
 * Answers an upgrade request with an HTTP error and closes. What the client sent after its
 * headers is read and dropped: left unread, the client's FIN is never seen, the socket never
 * closes, and the server's close (graceful shutdown) waits for it forever.
 */
function refuse(socket: Duplex, status: number, code: WireErrorCode, message: string): void {
  const text = STATUS_TEXT[status] ?? 'Forbidden';
  const body = JSON.stringify({ statusCode: status, code, error: text, message });
  socket.on('error', () => undefined);
  socket.resume();
  setTimeout(() => socket.destroy(), REFUSED_LINGER_MS).unref();
  socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`
    + `X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`);
}

/** `Bearer <host_id>.<token>` → parts, or null. */
function agentCredentials(req: IncomingMessage): { hostId: string; token: string } | null {
  const m = /^Bearer\s+([0-9a-f-]{36})\.(\S+)$/i.exec(req.headers.authorization ?? '');
  return m ? { hostId: m[1]!.toLowerCase(), token: m[2]! } : null;
}

/** With --mtls: the TLS layer verified the chain; the certificate must also be this host's current one. */
function clientCertOk(req: IncomingMessage, hostId: string, serial: string | null): boolean {
  const sock = req.socket as TLSSocket;
  if (typeof sock.getPeerCertificate !== 'function' || !sock.authorized) return false;
  const cert = sock.getPeerCertificate();
  const cn = Array.isArray(cert.subject?.CN) ? cert.subject.CN[0] : cert.subject?.CN;
  return cn === hostId && serial !== null && cert.serialNumber?.toLowerCase().replace(/^0+/, '') === serial.replace(/^0+/, '');
}

type Auth = { ok: true; hostId: string; lastSeq: number; rotate: boolean } | { ok: false; status: number; code: WireErrorCode };

function authenticate(svc: CollectorService, ctx: TransportContext, req: IncomingMessage, ip: string): Auth {
  if (ctx.limiter.blocked(ip)) return { ok: false, status: 429, code: 'CW_RATE_LIMITED' };
  const cred = agentCredentials(req);
  if (!cred) { ctx.limiter.fail(ip); return { ok: false, status: 401, code: 'CW_AUTH_MISSING' }; }
  const instance = typeof req.headers['x-chainwatch-instance'] === 'string' && /^[0-9a-f]{64}$/.test(req.headers['x-chainwatch-instance'])
    ? req.headers['x-chainwatch-instance'] : null;
  const auth = verifyAgentToken(svc.db, cred.hostId, cred.token, instance);
  if (!auth.ok) {
    ctx.limiter.fail(ip);
    svc.log.warn({ host_id: cred.hostId, reason: auth.reason, ip }, 'agent authentication failed');
    if (auth.reason === 'revoked') return { ok: false, status: 403, code: 'CW_HOST_REVOKED' };
    if (auth.reason === 'clone' || auth.reason === 'flagged') return { ok: false, status: 409, code: 'CW_HOST_FLAGGED' };
    return { ok: false, status: 401, code: 'CW_AUTH_BAD_TOKEN' };
  }
  if (ctx.mtls && !clientCertOk(req, auth.hostId, auth.certSerial)) {
    ctx.limiter.fail(ip);
    svc.log.warn({ host_id: auth.hostId, ip }, 'agent without a valid client certificate refused');
    return { ok: false, status: 401, code: 'CW_AUTH_CLIENT_CERT' };
  }
  if (ctx.sessions.has(auth.hostId)) {
    svc.log.warn({ host_id: auth.hostId, ip }, 'second connection for one agent identity refused');
    return { ok: false, status: 409, code: 'CW_AUTH_DUPLICATE_SESSION' };
  }
  return { ok: true, hostId: auth.hostId, lastSeq: auth.lastSeq, rotate: auth.rotate };
}

export function registerIngest(app: FastifyInstance, opts: IngestOptions): { connected(): number; writerHeap(): { used: number; total: number } | null; close(): Promise<void> } {
  const { svc } = opts;
  const ctx = transportContext(svc.db, opts.transport ?? {});
  // No UTF-8 check here: every message is parsed from bytes by a strict decoder (store/frame-apply.ts), and
  // compressed ones can only be checked once inflated, on the writer thread (deferInflate).
  const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxFrameBytes, perMessageDeflate: DEFLATE, clientTracking: true, skipUTF8Validation: true });
  const told = new WeakMap<WebSocket, { rotate: boolean; alive: boolean }>();
  const writer: FrameWriter = (opts.writerThread ?? !svc.db.memory)
    ? new WorkerFrameWriter(svc, { maxFrameBytes: opts.maxFrameBytes })
    : new InlineFrameWriter(svc, { maxFrameBytes: opts.maxFrameBytes });
  let closing = false, connections = 0;

  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== PATH) return refuse(socket, 404, 'CW_NOT_FOUND', 'no WebSocket endpoint here');
    if (closing) return refuse(socket, 409, 'CW_AUTH_DUPLICATE_SESSION', 'collector shutting down');
    const ip = req.socket.remoteAddress ?? 'unknown';
    const auth = authenticate(svc, ctx, req, ip);
    if (!auth.ok) return refuse(socket, auth.status, auth.code, WireErrors[auth.code]);
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, auth.hostId, auth.lastSeq, auth.rotate));
  });

  function onConnection(ws: WebSocket, hostId: string, lastSeq: number, rotate: boolean): void {
    const log = app.log.child({ host_id: hostId });
    const conn = ++connections;
    ctx.sessions.set(hostId, ws);
    told.set(ws, { rotate, alive: true });
    let violations = 0, broken = false, paused = false, queueHeld = false;
    const wasDeflated = deferInflate(ws);
    // Two reasons to stop reading this agent: its acks pile up unsent, or the commit queue is full.
    const flow = {
      pause: () => { queueHeld = true; ws.pause(); },
      resume: () => { queueHeld = false; if (!paused) ws.resume(); },
    };
    let tokens = ctx.frameRate * 2, refill = Date.now();
    const send = (f: WelcomeFrame | AckFrame | ErrorFrame) => {
      if (ws.readyState !== ws.OPEN) return;
      ws.send(JSON.stringify(f), () => { if (paused && ws.bufferedAmount < LOW_WATER) { paused = false; if (!queueHeld) ws.resume(); } });
      if (!paused && ws.bufferedAmount > HIGH_WATER) { paused = true; ws.pause(); log.warn({ buffered: ws.bufferedAmount }, 'agent not reading; pausing its input'); }
    };
    const reject = (code: WireErrorCode, message: string, seq?: number) => {
      violations++;
      metrics.frameRejected(code);
      log.warn({ code, detail: message.slice(0, 300), violations }, 'frame rejected');
      send({ v: PROTOCOL_VERSION, type: 'error', code, message: message.slice(0, 2048), ...(seq !== undefined ? { seq } : {}) });
      if (violations >= opts.maxViolations) ws.close(1008, 'too many invalid frames');
    };
    const breakOff = (): void => { broken = true; writer.cancel(conn); };
    /** Token bucket: a flood of tiny frames is refused before any parsing work. */
    const withinRate = (): boolean => {
      const now = Date.now();
      tokens = Math.min(ctx.frameRate * 2, tokens + ((now - refill) / 1000) * ctx.frameRate);
      refill = now;
      return --tokens >= 0;
    };
    send({ v: PROTOCOL_VERSION, type: 'welcome', host_id: hostId, last_seq: lastSeq, heartbeat_s: opts.heartbeatS, ...(rotate ? { rotate_token: true } : {}) });
    writer.open(hostId, flow);

    ws.on('message', (data: Buffer) => {
      const deflated = wasDeflated?.() ?? false;
      if (broken || closing) return;
      const state = told.get(ws);
      if (state) state.alive = true;
      if (!withinRate()) {
        breakOff();
        log.warn('frame rate limit exceeded; closing');
        send({ v: PROTOCOL_VERSION, type: 'error', code: 'CW_PROTO_RATE', message: WireErrors.CW_PROTO_RATE });
        ws.close(1008, 'frame rate limit');
        return;
      }
      writer.submit(conn, hostId, data, deflated, flow, (err, out, seq) => {
        if (err || !out) {
          // Given up by the shutdown drain: the agent resends it to the next collector; the socket closes with 1001.
          if (broken || closing) return;
          breakOff();
          log.error({ err, seq }, 'batch not stored');
          send({ v: PROTOCOL_VERSION, type: 'error', code: 'CW_STORE_FAILED', message: WireErrors.CW_STORE_FAILED, ...(seq !== undefined ? { seq } : {}) });
          ws.close(1011, 'store failed; reconnect and resend');
        } else if (out.kind === 'rejected') reject(out.code, out.message, out.seq);
        else if (out.kind === 'stored') {
          const { frame: f, res } = out;
          if (res.applied) metrics.batchCommitted(res.items, res.alerts);
          log.info({ seq: f.seq, scan: f.scan_id, mode: f.mode, part: f.part, final: f.final, applied: res.applied, items: res.items, alerts: res.alerts, removed: res.removed }, 'batch committed');
          send({ v: PROTOCOL_VERSION, type: 'ack', seq: f.seq, applied: res.applied });
        }
      });
    });
    ws.on('pong', () => { const s = told.get(ws); if (s) s.alive = true; });
    ws.on('close', () => { writer.forget(conn, flow); if (ctx.sessions.get(hostId) === ws) ctx.sessions.delete(hostId); });
    ws.on('error', (err) => log.warn({ err }, 'agent connection error'));
  }

  const sweep = setInterval(() => sweepSessions(svc, ctx, told), Math.min(opts.heartbeatS * 1000, 2000));
  // In slices, an event-loop turn apart: 10,000 TLS writes in one loop would hold up the API and every agent for their length.
  const liveness = setInterval(() => { void forEachInSlices([...ctx.sessions.values()], (ws) => {
    const s = told.get(ws);
    if (s && !s.alive) { ws.terminate(); return; }
    if (s) s.alive = false;
    if (ws.readyState === ws.OPEN) ws.ping();
  }); }, opts.heartbeatS * 2000);
  sweep.unref(); liveness.unref();

  return {
    connected: () => ctx.sessions.size,
    writerHeap: () => writer.threadHeap(),
    close: async () => {
      closing = true;
      clearInterval(sweep); clearInterval(liveness);
      // Frames already received are committed and acknowledged before the sockets close, for
      // as long as SHUTDOWN_DRAIN_MS allows: up to 24 MB may wait, and a stop must stay prompt.
      app.log.info('ingest closing: draining the writer');
      const givenUp = await writer.drain(SHUTDOWN_DRAIN_MS);
      app.log.info({ connections: wss.clients.size, frames_left_to_resend: givenUp }, 'ingest drained; closing agent connections');
      await new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.close(1001, 'collector shutting down');
        const force = setTimeout(() => { for (const ws of wss.clients) ws.terminate(); }, 5000);
        wss.close(() => { clearTimeout(force); resolve(); });
      });
      await writer.close();
      app.log.info('ingest writer closed');
    },
  };
}

/**
 * Applies changes made elsewhere (API or `chainwatch-collector hosts revoke` on the same
 * database file) to live connections: revoked hosts are disconnected (a flagged host keeps
 * only the connection of the machine it was first bound to, so nothing to do here); a host asked
 * to rotate is disconnected once so its next welcome carries `rotate_token`.
 */
function sweepSessions(svc: CollectorService, ctx: TransportContext, told: WeakMap<WebSocket, { rotate: boolean }>): void {
  if (ctx.sessions.size === 0) return;
  const rows = svc.db.prepare('SELECT id, revoked_at, flagged, rotate_requested FROM hosts WHERE revoked_at IS NOT NULL OR flagged IS NOT NULL OR rotate_requested = 1')
    .all() as Array<{ id: string; revoked_at: string | null; flagged: string | null; rotate_requested: number }>;
  for (const r of rows) {
    const ws = ctx.sessions.get(r.id);
    if (!ws) continue;
    if (r.revoked_at) { svc.log.warn({ host_id: r.id }, 'host revoked; closing its connection'); ws.close(4003, 'host revoked'); ctx.sessions.delete(r.id); }
    else if (r.rotate_requested && !told.get(ws)?.rotate) ws.close(4002, 'token rotation requested');
  }
}
