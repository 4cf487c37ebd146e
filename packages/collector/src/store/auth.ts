/**
 * Credentials: API tokens (with roles), enroll secrets, and per-agent tokens. Every secret is
 * 32 random bytes, shown once, and stored only as its SHA-256: with that much entropy a fast
 * hash is enough (no password stretching needed), and a stolen database yields no credential.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { DB } from './db.js';
import { nowIso } from './db.js';

export type Role = 'admin' | 'analyst' | 'viewer';
export const ROLES: readonly Role[] = ['admin', 'analyst', 'viewer'];

export const hashSecret = (s: string): string => createHash('sha256').update(s).digest('hex');
const newSecret = (prefix: string): string => `${prefix}_${randomBytes(32).toString('base64url')}`;

export function createApiToken(db: DB, role: Role, label: string | null = null): { id: number; token: string } {
  const token = newSecret('cwt');
  const r = db.prepare('INSERT INTO api_tokens (hash, role, label, created_at) VALUES (?, ?, ?, ?)').run(hashSecret(token), role, label, nowIso());
  return { id: Number(r.lastInsertRowid), token };
}

export function verifyApiToken(db: DB, token: string): { id: number; role: Role } | null {
  const row = db.prepare('SELECT id, role FROM api_tokens WHERE hash = ? AND revoked_at IS NULL').get(hashSecret(token)) as { id: number; role: Role } | undefined;
  return row ?? null;
}

export function listApiTokens(db: DB) {
  return db.prepare('SELECT id, role, label, created_at, last_used, revoked_at FROM api_tokens ORDER BY id').all();
}

export function revokeApiToken(db: DB, id: number): boolean {
  return db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(nowIso(), id).changes === 1;
}

export function addEnrollSecret(db: DB, secret: string, opts: { label?: string | null; expiresAt?: string | null; maxUses?: number | null } = {}): number {
  const r = db.prepare(`INSERT INTO enroll_secrets (hash, label, created_at, expires_at, max_uses) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT(hash) DO UPDATE SET revoked_at = NULL`).run(hashSecret(secret), opts.label ?? null, nowIso(), opts.expiresAt ?? null, opts.maxUses ?? null);
  return Number(r.lastInsertRowid);
}

export function createEnrollSecret(db: DB, opts: { label?: string | null; expiresAt?: string | null; maxUses?: number | null } = {}): { id: number; secret: string } {
  const secret = newSecret('cwe');
  return { id: addEnrollSecret(db, secret, opts), secret };
}

export function countEnrollSecrets(db: DB): number {
  return (db.prepare('SELECT count(*) AS n FROM enroll_secrets WHERE revoked_at IS NULL').get() as { n: number }).n;
}

/** Checks a presented enroll secret and counts one use; false when unknown, revoked, expired or used up. */
export function consumeEnrollSecret(db: DB, secret: string): boolean {
  const row = db.prepare('SELECT id, expires_at, max_uses, uses, revoked_at FROM enroll_secrets WHERE hash = ?').get(hashSecret(secret)) as
    { id: number; expires_at: string | null; max_uses: number | null; uses: number; revoked_at: string | null } | undefined;
  if (!row || row.revoked_at) return false;
  if (row.expires_at && Date.parse(row.expires_at) < Date.now()) return false;
  if (row.max_uses !== null && row.uses >= row.max_uses) return false;
  db.prepare('UPDATE enroll_secrets SET uses = uses + 1 WHERE id = ?').run(row.id);
  return true;
}

export type EnrollOutcome = { ok: true; token: string } | { ok: false; reason: 'conflict' | 'revoked' };

/** Registers a new host with its own id and a fresh token (stored hashed). */
export function enrollHost(db: DB, hostId: string, hostname: string, agentVersion: string | null): EnrollOutcome {
  const existing = db.prepare('SELECT revoked_at FROM hosts WHERE id = ?').get(hostId) as { revoked_at: string | null } | undefined;
  if (existing) return { ok: false, reason: existing.revoked_at ? 'revoked' : 'conflict' };
  const token = newSecret('cwa');
  db.prepare('INSERT INTO hosts (id, hostname, agent_version, token_hash, enrolled_at) VALUES (?, ?, ?, ?, ?)')
    .run(hostId, hostname, agentVersion, hashSecret(token), nowIso());
  return { ok: true, token };
}

export type AgentAuth = { ok: true; hostId: string; lastSeq: number } | { ok: false; reason: 'unknown' | 'revoked' };

export function verifyAgentToken(db: DB, hostId: string, token: string): AgentAuth {
  const row = db.prepare('SELECT token_hash, revoked_at, last_seq FROM hosts WHERE id = ?').get(hostId) as
    { token_hash: string; revoked_at: string | null; last_seq: number } | undefined;
  if (!row) return { ok: false, reason: 'unknown' };
  const a = Buffer.from(row.token_hash, 'hex'), b = Buffer.from(hashSecret(token), 'hex');
  if (!timingSafeEqual(a, b)) return { ok: false, reason: 'unknown' };
  if (row.revoked_at) return { ok: false, reason: 'revoked' };
  return { ok: true, hostId, lastSeq: row.last_seq };
}

export function audit(db: DB, actor: string, action: string, target: string | null = null, detail: unknown = null): void {
  db.prepare('INSERT INTO audit (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)')
    .run(nowIso(), actor, action, target, detail === null ? null : JSON.stringify(detail));
}
