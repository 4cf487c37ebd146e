/**
 * API authentication: `Authorization: Bearer <token>`, looked up by hash. Roles are ordered
 * (viewer < analyst < admin); each route names the least role it needs. Failed attempts count
 * against the caller's address (plugins/guard.ts); past the limit the answer is 429.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { DB } from '../store/db.js';
import { verifyApiToken, touchApiToken, type Role } from '../store/auth.js';
import { Errors } from '../errors.js';
import { transportContext } from './guard.js';

const RANK: Record<Role, number> = { viewer: 0, analyst: 1, admin: 2 };
/**
 * A token's last_used is kept to the minute, and written only when the write lock is free at
 * once: the ingest writer holds it for whole groups of frames (up to a second), and waiting
 * for it here blocks the event loop — every API request and agent connection — for that long
 * (or, losing the race to the writer's next group again and again, fails the request with
 * SQLITE_BUSY). A busy lock leaves the touch to a later request.
 */
const TOUCH_EVERY_MS = 60_000;
const touchedAt = new WeakMap<DB, Map<number, number>>();

function touch(db: DB, id: number): void {
  let seen = touchedAt.get(db);
  if (!seen) { seen = new Map(); touchedAt.set(db, seen); }
  const now = Date.now();
  if (now - (seen.get(id) ?? -Infinity) < TOUCH_EVERY_MS) return;
  const timeout = db.pragma('busy_timeout', { simple: true }) as number;
  db.pragma('busy_timeout = 0');
  try {
    touchApiToken(db, id);
    seen.set(id, now);
  } catch (err) {
    if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
  } finally { db.pragma(`busy_timeout = ${timeout}`); }
}

export interface Principal { tokenId: number; role: Role }

declare module 'fastify' {
  interface FastifyRequest { principal: Principal | null }
}

export function bearer(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return null;
  const m = /^Bearer\s+(\S+)$/i.exec(h);
  return m ? m[1]! : null;
}

/** preHandler factory: 429 past the failure limit, 401 without a valid token, 403 when the role ranks below `min`. */
export function requireRole(db: DB, min: Role, action: string) {
  return async (req: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const { limiter } = transportContext(db);
    if (limiter.blocked(req.ip)) throw new Errors.CW_RATE_LIMITED();
    const token = bearer(req);
    if (!token) { limiter.fail(req.ip); throw new Errors.CW_AUTH_MISSING(); }
    const p = verifyApiToken(db, token);
    if (!p) { limiter.fail(req.ip); req.log.warn({ ip: req.ip }, 'API authentication failed'); throw new Errors.CW_AUTH_BAD_TOKEN(); }
    if (RANK[p.role] < RANK[min]) throw new Errors.CW_AUTH_FORBIDDEN(p.role, action);
    touch(db, p.id);
    req.principal = { tokenId: p.id, role: p.role };
  };
}

export const actorOf = (req: FastifyRequest): string => req.principal ? `token:${req.principal.tokenId}` : 'anonymous';
