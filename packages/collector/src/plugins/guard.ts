/**
 * Transport guards shared by the agent stream, enrollment and the API: the per-IP limiter of
 * failed authentications, the registry of live agent connections (so revoking a host closes
 * its socket), and the mTLS client CA. One context per database handle, so route files that
 * only hold `db` (requireRole) reach the same limiter as the WebSocket upgrade.
 */
import type { WebSocket } from 'ws';
import type { DB } from '../store/db.js';
import type { ClientCa } from '../tls/material.js';

/**
 * Failed authentications per source address in a sliding window. Past `max`, every attempt
 * from that address that needs credentials is answered 429 until the window passes — valid
 * credentials included, so a guess that happens to be right is not told apart from a wrong one.
 */
export class AuthFailureLimiter {
  private readonly fails = new Map<string, number[]>();
  constructor(readonly max: number, readonly windowMs: number) {}

  private recent(ip: string, now: number): number[] {
    const list = (this.fails.get(ip) ?? []).filter((t) => now - t < this.windowMs);
    if (list.length) this.fails.set(ip, list); else this.fails.delete(ip);
    return list;
  }

  blocked(ip: string): boolean { return this.max > 0 && this.recent(ip, Date.now()).length >= this.max; }

  fail(ip: string): void {
    const now = Date.now();
    const list = this.recent(ip, now);
    list.push(now);
    this.fails.set(ip, list);
    if (this.fails.size > 100_000) this.fails.delete(this.fails.keys().next().value!); // bounded memory under a spray of addresses
  }
}

export interface TransportSettings {
  /** Require a collector-issued client certificate on the agent stream. */
  mtls: boolean;
  /** CA that signs agent client certificates (self-made CA); null with operator certificates. */
  clientCa: ClientCa | null;
  /** Failed authentications per IP per minute before 429 (0 = off). Default 30. */
  authFailLimit: number;
  /** Frames per second one agent connection may send (burst = 2 s worth). Default 200. */
  frameRate: number;
  /** Enrollments per minute per IP (a fleet behind one NAT or a load test needs more). Default 60. */
  enrollRate: number;
}

export interface TransportContext extends TransportSettings {
  limiter: AuthFailureLimiter;
  sessions: Map<string, WebSocket>;
}

const contexts = new WeakMap<DB, TransportContext>();

export function transportContext(db: DB, settings: Partial<TransportSettings> = {}): TransportContext {
  let ctx = contexts.get(db);
  if (!ctx) {
    const s: TransportSettings = { mtls: false, clientCa: null, authFailLimit: 30, frameRate: 200, enrollRate: 60, ...settings };
    ctx = { ...s, limiter: new AuthFailureLimiter(s.authFailLimit, 60_000), sessions: new Map() };
    contexts.set(db, ctx);
  } else if (Object.keys(settings).length) {
    Object.assign(ctx, settings);
    if (settings.authFailLimit !== undefined) ctx.limiter = new AuthFailureLimiter(settings.authFailLimit, 60_000);
  }
  return ctx;
}
