/**
 * Credentials: API tokens (with roles), enroll secrets, and per-agent tokens. Every secret is
 * 32 random bytes, shown once, and stored only as its SHA-256: with that much entropy a fast
 * hash is enough (no password stretching needed), and a stolen database yields no credential.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { DB } from './db.js';
import { cachedStatement, nowIso } from './db.js';

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
  const row = cachedStatement(db, 'SELECT id, role FROM api_tokens WHERE hash = ? AND revoked_at IS NULL').get(hashSecret(token)) as { id: number; role: Role } | undefined;
  return row ?? null;
}

export function listApiTokens(db: DB) {
  return db.prepare('SELECT id, role, label, created_at, last_used, revoked_at FROM api_tokens ORDER BY id').all();
}

export function touchApiToken(db: DB, id: number): void {
  db.prepare('UPDATE api_tokens SET last_used = ? WHERE id = ?').run(nowIso(), id);
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

export function listEnrollSecrets(db: DB) {
  return db.prepare('SELECT id, label, created_at, expires_at, max_uses, uses, revoked_at FROM enroll_secrets ORDER BY id').all();
}

export function revokeEnrollSecret(db: DB, id: number): boolean {
  return db.prepare('UPDATE enroll_secrets SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(nowIso(), id).changes === 1;
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

/** Registers a new host with its own id, its instance digest and a fresh token (stored hashed). */
export function enrollHost(db: DB, hostId: string, hostname: string, agentVersion: string | null, instance: string | null = null): EnrollOutcome {
  const existing = db.prepare('SELECT revoked_at FROM hosts WHERE id = ?').get(hostId) as { revoked_at: string | null } | undefined;
  if (existing) return { ok: false, reason: existing.revoked_at ? 'revoked' : 'conflict' };
  const token = newSecret('cwa');
  db.prepare('INSERT INTO hosts (id, hostname, agent_version, token_hash, enrolled_at, instance) VALUES (?, ?, ?, ?, ?, ?)')
    .run(hostId, hostname, agentVersion, hashSecret(token), nowIso(), instance);
  return { ok: true, token };
}

export type AgentAuth =
  | { ok: true; hostId: string; lastSeq: number; rotate: boolean; certSerial: string | null }
  | { ok: false; reason: 'unknown' | 'revoked' | 'flagged' | 'clone' };

const sameHash = (hex: string | null, token: string): boolean => {
  if (!hex) return false;
  const a = Buffer.from(hex, 'hex'), b = Buffer.from(hashSecret(token), 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
};

interface HostCred { token_hash: string; prev_token_hash: string | null; pending_token_hash: string | null; revoked_at: string | null;
  last_seq: number; flagged: string | null; instance: string | null; rotate_requested: number; cert_serial: string | null }

/**
 * Checks an agent's credentials and its instance digest. A retired (rotated-out) token or a
 * second machine's instance digest means the identity is used from two places: the host is
 * flagged (kept, visible in the API and audit) and that connection refused. The first use of
 * a pending rotated token completes the rotation.
 */
export function verifyAgentToken(db: DB, hostId: string, token: string, instance: string | null = null): AgentAuth {
  const row = db.prepare(`SELECT token_hash, prev_token_hash, pending_token_hash, revoked_at, last_seq, flagged, instance, rotate_requested, cert_serial
    FROM hosts WHERE id = ?`).get(hostId) as HostCred | undefined;
  if (!row) return { ok: false, reason: 'unknown' };
  if (sameHash(row.prev_token_hash, token)) {
    flagHost(db, hostId, 'a rotated-out token was presented: the credentials are in use on more than one machine');
    return { ok: false, reason: 'clone' };
  }
  const pending = sameHash(row.pending_token_hash, token);
  if (!pending && !sameHash(row.token_hash, token)) return { ok: false, reason: 'unknown' };
  if (row.revoked_at) return { ok: false, reason: 'revoked' };
  if (instance && row.instance && instance !== row.instance) {
    flagHost(db, hostId, 'the same host identity connected from a different machine (instance digest changed)');
    return { ok: false, reason: 'clone' };
  }
  if (instance && !row.instance) db.prepare('UPDATE hosts SET instance = ? WHERE id = ?').run(instance, hostId);
  if (pending) {
    db.prepare(`UPDATE hosts SET prev_token_hash = token_hash, token_hash = pending_token_hash, pending_token_hash = NULL,
      rotate_requested = 0, token_rotated_at = ? WHERE id = ?`).run(nowIso(), hostId);
    audit(db, `host:${hostId}`, 'host.token_rotated', hostId);
  }
  return { ok: true, hostId, lastSeq: row.last_seq, rotate: row.rotate_requested === 1 && !pending, certSerial: row.cert_serial };
}

/** Marks a host as suspected clone (first reason kept) and audits it. */
export function flagHost(db: DB, hostId: string, reason: string): void {
  const r = db.prepare('UPDATE hosts SET flagged = ? WHERE id = ? AND flagged IS NULL').run(JSON.stringify({ reason, at: nowIso() }), hostId);
  if (r.changes) audit(db, 'collector', 'host.flag', hostId, { reason });
}

/** Issues a new agent token, valid alongside the current one until first used. */
export function rotateAgentToken(db: DB, hostId: string): string {
  const token = newSecret('cwa');
  db.prepare('UPDATE hosts SET pending_token_hash = ? WHERE id = ?').run(hashSecret(token), hostId);
  return token;
}

/** Asks a host to rotate at its next connection. */
export function requestRotation(db: DB, hostId: string): boolean {
  return db.prepare('UPDATE hosts SET rotate_requested = 1 WHERE id = ? AND revoked_at IS NULL').run(hostId).changes === 1;
}

export function revokeHost(db: DB, hostId: string): boolean {
  return db.prepare('UPDATE hosts SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(nowIso(), hostId).changes === 1;
}

/** Clears a clone flag; the next connection's instance digest becomes the host's. */
export function clearFlag(db: DB, hostId: string): boolean {
  return db.prepare('UPDATE hosts SET flagged = NULL, instance = NULL WHERE id = ? AND flagged IS NOT NULL').run(hostId).changes === 1;
}

export function audit(db: DB, actor: string, action: string, target: string | null = null, detail: unknown = null): void {
  db.prepare('INSERT INTO audit (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)')
    .run(nowIso(), actor, action, target, detail === null ? null : JSON.stringify(detail));
}
