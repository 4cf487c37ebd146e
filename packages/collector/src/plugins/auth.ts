/**
 * API authentication: `Authorization: Bearer <token>`, looked up by hash. Roles are ordered
 * (viewer < analyst < admin); each route names the least role it needs.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { DB } from '../store/db.js';
import { verifyApiToken, type Role } from '../store/auth.js';
import { Errors } from '../errors.js';

const RANK: Record<Role, number> = { viewer: 0, analyst: 1, admin: 2 };

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

/** preHandler factory: 401 without a valid token, 403 when the role ranks below `min`. */
export function requireRole(db: DB, min: Role, action: string) {
  return async (req: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const token = bearer(req);
    if (!token) throw new Errors.CW_AUTH_MISSING();
    const p = verifyApiToken(db, token);
    if (!p) throw new Errors.CW_AUTH_BAD_TOKEN();
    if (RANK[p.role] < RANK[min]) throw new Errors.CW_AUTH_FORBIDDEN(p.role, action);
    req.principal = { tokenId: p.id, role: p.role };
  };
}

export const actorOf = (req: FastifyRequest): string => req.principal ? `token:${req.principal.tokenId}` : 'anonymous';
