/**
 * The agent stream: WebSocket at /api/v1/agents/stream.
 *
 *   agent scan → chunk → frame{seq} ──wss──▶ upgrade: Bearer <host>.<token> checked (401 before any frame)
 *        ▲                                   │ parse (size, UTF-8, depth) → validate (shared schemas)
 *        │                                   ▼
 *        └────────── ack{seq} ◀── commit ◀── InventoryStore.apply: items, host_items, match → alerts, last_seq
 *
 * A frame is acknowledged only after its transaction commits; a replayed seq is acknowledged
 * again without being applied (exactly-once effect). Bad frames get an error frame and change
 * nothing; repeated violations close the connection (1008).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  PROTOCOL_VERSION, parseAgentFrame, WireErrors,
  type AckFrame, type ErrorFrame, type WelcomeFrame, type WireErrorCode,
} from '@chainwatch/shared';
import type { CollectorService } from '../service.js';
import { verifyAgentToken } from '../store/auth.js';
import { nowIso } from '../store/db.js';

export interface IngestOptions {
  svc: CollectorService;
  maxFrameBytes: number;
  heartbeatS: number;
  maxViolations: number;
}

const PATH = '/api/v1/agents/stream';

function refuse(socket: Duplex, status: number, code: WireErrorCode, message: string): void {
  const body = JSON.stringify({ statusCode: status, code, error: status === 401 ? 'Unauthorized' : status === 409 ? 'Conflict' : 'Forbidden', message });
  socket.end(`HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : status === 409 ? 'Conflict' : status === 404 ? 'Not Found' : 'Forbidden'}\r\n`
    + `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/** `Bearer <host_id>.<token>` → parts, or null. */
function agentCredentials(req: IncomingMessage): { hostId: string; token: string } | null {
  const m = /^Bearer\s+([0-9a-f-]{36})\.(\S+)$/i.exec(req.headers.authorization ?? '');
  return m ? { hostId: m[1]!.toLowerCase(), token: m[2]! } : null;
}

export function registerIngest(app: FastifyInstance, opts: IngestOptions): { connected(): number; close(): Promise<void> } {
  const { svc } = opts;
  const sessions = new Map<string, WebSocket>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxFrameBytes, perMessageDeflate: true, clientTracking: true });

  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== PATH) return refuse(socket, 404, 'CW_NOT_FOUND', 'no WebSocket endpoint here');
    const cred = agentCredentials(req);
    if (!cred) return refuse(socket, 401, 'CW_AUTH_MISSING', 'send Authorization: Bearer <host_id>.<token>');
    const auth = verifyAgentToken(svc.db, cred.hostId, cred.token);
    if (!auth.ok) {
      app.log.warn({ host_id: cred.hostId, reason: auth.reason, ip: req.socket.remoteAddress }, 'agent authentication failed');
      return refuse(socket, auth.reason === 'revoked' ? 403 : 401, auth.reason === 'revoked' ? 'CW_HOST_REVOKED' : 'CW_AUTH_BAD_TOKEN', WireErrors[auth.reason === 'revoked' ? 'CW_HOST_REVOKED' : 'CW_AUTH_BAD_TOKEN']);
    }
    if (sessions.has(auth.hostId)) {
      app.log.warn({ host_id: auth.hostId, ip: req.socket.remoteAddress }, 'second connection for one agent identity refused');
      return refuse(socket, 409, 'CW_AUTH_DUPLICATE_SESSION', WireErrors.CW_AUTH_DUPLICATE_SESSION);
    }
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, auth.hostId, auth.lastSeq));
  });

  function onConnection(ws: WebSocket, hostId: string, lastSeq: number): void {
    const log = app.log.child({ host_id: hostId });
    sessions.set(hostId, ws);
    let violations = 0;
    const send = (f: WelcomeFrame | AckFrame | ErrorFrame) => ws.send(JSON.stringify(f));
    const reject = (code: WireErrorCode, message: string, seq?: number) => {
      violations++;
      log.warn({ code, detail: message.slice(0, 300), violations }, 'frame rejected');
      send({ v: PROTOCOL_VERSION, type: 'error', code, message: message.slice(0, 2048), ...(seq !== undefined ? { seq } : {}) });
      if (violations >= opts.maxViolations) ws.close(1008, 'too many invalid frames');
    };
    send({ v: PROTOCOL_VERSION, type: 'welcome', host_id: hostId, last_seq: lastSeq, heartbeat_s: opts.heartbeatS });
    svc.db.prepare('UPDATE hosts SET last_seen = ? WHERE id = ?').run(nowIso(), hostId);

    ws.on('message', (data: Buffer, isBinary) => {
      const r = parseAgentFrame(isBinary ? data : data.toString('utf8'), { maxBytes: opts.maxFrameBytes });
      if (!r.ok) {
        const seq = (() => { try { const s = (JSON.parse(data.toString('utf8')) as { seq?: unknown }).seq; return Number.isSafeInteger(s) ? s as number : undefined; } catch { return undefined; } })();
        return reject(r.code, r.message, seq);
      }
      const frame = r.value;
      if (frame.type === 'heartbeat') {
        svc.db.prepare('UPDATE hosts SET last_seen = ? WHERE id = ?').run(nowIso(), hostId);
        return;
      }
      try {
        const res = svc.ingest(hostId, frame);
        log.info({ seq: frame.seq, part: frame.part, final: frame.final, applied: res.applied, items: res.items, alerts: res.alerts, removed: res.removed }, 'batch committed');
        send({ v: PROTOCOL_VERSION, type: 'ack', seq: frame.seq, applied: res.applied });
      } catch (err) {
        log.error({ err, seq: frame.seq }, 'batch not stored');
        send({ v: PROTOCOL_VERSION, type: 'error', code: 'CW_STORE_FAILED', message: WireErrors.CW_STORE_FAILED, seq: frame.seq });
      }
    });
    ws.on('close', () => { if (sessions.get(hostId) === ws) sessions.delete(hostId); });
    ws.on('error', (err) => log.warn({ err }, 'agent connection error'));
  }

  return {
    connected: () => sessions.size,
    close: () => new Promise<void>((resolve) => {
      for (const ws of wss.clients) ws.close(1001, 'collector shutting down');
      wss.close(() => resolve());
    }),
  };
}
