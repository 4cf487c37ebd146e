/**
 * Wire-level helpers for transport tests: database snapshots ("nothing changed"), direct
 * enrollment, raw WebSocket sessions to the collector, and big fixture roots.
 */
import path from 'node:path';
import net from 'node:net';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import WebSocket from 'ws';
import Database from 'better-sqlite3';
import { api, type RunningCollector } from './processes.js';

/** Row counts of every table except audit/hosts, plus host count and sequence sum. */
export function snapshot(dbFile: string): Record<string, number> {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('audit', 'hosts')`).pluck().all() as string[];
    const out: Record<string, number> = {};
    for (const tb of tables) out[tb] = (db.prepare(`SELECT count(*) FROM "${tb}"`).pluck().get() as number);
    out.host_seq = (db.prepare('SELECT coalesce(sum(last_seq), 0) FROM hosts').pluck().get() as number);
    out.hosts = (db.prepare('SELECT count(*) FROM hosts').pluck().get() as number);
    return out;
  } finally { db.close(); }
}

export function dbQuery<T = unknown>(dbFile: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try { return db.prepare(sql).all(...params) as T[]; } finally { db.close(); }
}

export async function caOf(c: RunningCollector): Promise<string | undefined> {
  return c.fingerprint ? readFile(path.join(path.dirname(c.db), 'tls', 'ca.pem'), 'utf8') : undefined;
}

export async function enroll(c: RunningCollector, hostId: string, secret = c.secret): Promise<string> {
  const r = await api(c, null, 'POST', '/api/v1/agents/enroll', { enroll_secret: secret, host_id: hostId, hostname: 'probe' });
  if (r.status !== 200) throw new Error(JSON.stringify(r.json));
  return r.json.token as string;
}

export interface Conn { ws: WebSocket; next(ms?: number): Promise<any>; status?: number; body?: string; closed: Promise<number>; extensions?: string }

export async function connect(c: RunningCollector, auth: string | null, headers: Record<string, string> = {}, options: WebSocket.ClientOptions = {}): Promise<Conn> {
  const ca = await caOf(c);
  const ws = new WebSocket(c.url.replace(/^http/, 'ws') + '/api/v1/agents/stream', { ca, ...options, headers: { ...(auth ? { authorization: auth } : {}), ...headers } });
  const frames: any[] = [];
  const waiters: Array<(f: any) => void> = [];
  ws.on('message', (d) => { const f = JSON.parse(d.toString()); const w = waiters.shift(); if (w) w(f); else frames.push(f); });
  const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
  ws.on('error', () => {});
  const next = (ms = 10_000) => new Promise<any>((res, rej) => {
    const f = frames.shift(); if (f) return res(f);
    const timer = setTimeout(() => rej(new Error('no frame in time')), ms);
    waiters.push((x) => { clearTimeout(timer); res(x); });
  });
  let extensions: string | undefined;
  ws.once('upgrade', (res) => { extensions = String(res.headers['sec-websocket-extensions'] ?? ''); });
  return new Promise((resolve) => {
    ws.once('open', () => resolve({ ws, next, closed, ...(extensions !== undefined ? { extensions } : {}) }));
    ws.once('unexpected-response', (_req, res) => {
      let body = ''; res.on('data', (ch: Buffer) => { body += ch.toString(); });
      res.on('end', () => resolve({ ws, next, status: res.statusCode!, body, closed }));
    });
  });
}

export const invFrame = (seq: number, items: unknown[], extra: Record<string, unknown> = {}) =>
  JSON.stringify({ v: 1, type: 'inventory', seq, scan_id: `s${seq}`, mode: 'delta', part: 0, final: true, items, ...extra });
export const sw = (name: string, version = '1') => ({ kind: 'software', key: `software:dpkg:system:${name}:all`, source: 'dpkg', name, version, arch: 'all' });

/** A root whose dpkg status lists `n` packages: a large inventory without any test-only agent code. */
export async function bigDpkgRoot(root: string, n: number, hostname = 'big-host'): Promise<void> {
  await mkdir(path.join(root, 'var/lib/dpkg'), { recursive: true });
  await mkdir(path.join(root, 'etc'), { recursive: true });
  await writeFile(path.join(root, 'etc/hostname'), hostname + '\n');
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    parts.push(`Package: pkg-${i}\nStatus: install ok installed\nPriority: optional\nSection: misc\nMaintainer: t <t@example.invalid>\nArchitecture: amd64\nVersion: 1.${i % 97}-${i}\nDescription: fixture package ${i} ${'x'.repeat(i % 40)}\n`);
  }
  await writeFile(path.join(root, 'var/lib/dpkg/status'), parts.join('\n'));
}

export function freePort(): Promise<number> {
  return new Promise((resolve) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); }); });
}

export async function waitFor(cond: () => boolean | Promise<boolean>, ms = 30_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
