/**
 * Hostile and broken input over real sockets: each gets a clear error and leaves the
 * database exactly as it was.
 */
import t from 'tap';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import WebSocket from 'ws';
import Database from 'better-sqlite3';
import { startCollector, runCollector, api, tempDir, cleanup, type RunningCollector } from '../helpers/processes.js';

/** Row counts of every table: "nothing changed" means these are equal. */
function snapshot(dbFile: string): Record<string, number> {
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

async function enroll(c: RunningCollector, hostId: string): Promise<string> {
  const r = await api(c, null, 'POST', '/api/v1/agents/enroll', { enroll_secret: c.secret, host_id: hostId, hostname: 'probe' });
  if (r.status !== 200) throw new Error(JSON.stringify(r.json));
  return r.json.token as string;
}

async function connect(c: RunningCollector, auth: string | null): Promise<{ ws: WebSocket; frames: any[]; next(): Promise<any>; status?: number }> {
  const ca = await readFile(path.join(path.dirname(c.db), 'tls', 'ca.pem'), 'utf8');
  const ws = new WebSocket(c.url.replace('https', 'wss') + '/api/v1/agents/stream', { ca, headers: auth ? { authorization: auth } : {} });
  const frames: any[] = [];
  const waiters: Array<(f: any) => void> = [];
  ws.on('message', (d) => { const f = JSON.parse(d.toString()); const w = waiters.shift(); if (w) w(f); else frames.push(f); });
  const next = () => new Promise<any>((res) => { const f = frames.shift(); if (f) res(f); else waiters.push(res); });
  return new Promise((resolve) => {
    ws.once('open', () => resolve({ ws, frames, next }));
    ws.once('unexpected-response', (_req, res) => resolve({ ws, frames, next, status: res.statusCode! }));
  });
}

t.test('bad input changes nothing', async (t) => {
  const dir = await tempDir();
  t.teardown(() => cleanup(dir));
  const c = await startCollector({ dir });
  t.teardown(() => c.stop());
  const hostId = '11111111-2222-4333-8444-555555555555';
  const token = await enroll(c, hostId);
  const before = snapshot(c.db);

  const s = await connect(c, `Bearer ${hostId}.${token}`);
  const welcome = await s.next();
  t.match(welcome, { type: 'welcome', host_id: hostId, last_seq: 0 });

  s.ws.send('{"v":1,"type":"inventory",');
  t.match(await s.next(), { type: 'error', code: 'CW_PROTO_BAD_JSON' }, 'malformed JSON');
  s.ws.send(JSON.stringify({ v: 1, type: 'run_command', seq: 1, cmd: 'id' }));
  t.match(await s.next(), { type: 'error', code: 'CW_PROTO_UNKNOWN_TYPE' }, 'unknown frame type');
  s.ws.send(JSON.stringify({ v: 1, type: 'inventory', seq: 2, scan_id: 'x', mode: 'full', part: 0, final: true,
    items: [{ kind: 'software', key: 'software:dpkg:system:ok', source: 'dpkg', name: 'ok', version: '1' }, { kind: 'software', key: 'k', name: 42 }] }));
  t.match(await s.next(), { type: 'error', code: 'CW_PROTO_BAD_FRAME', seq: 2, message: /items\/1/ }, 'one bad item rejects the whole batch');
  s.ws.send(JSON.stringify({ v: 1, type: 'inventory', seq: -5, scan_id: 'x', mode: 'full', part: 0, final: true, items: [] }));
  t.match(await s.next(), { type: 'error', code: 'CW_PROTO_BAD_FRAME' }, 'negative sequence');
  s.ws.close();
  t.same(snapshot(c.db), before, 'database unchanged by bad frames');

  const wrongSecret = await api(c, null, 'POST', '/api/v1/agents/enroll', { enroll_secret: 'wrong', host_id: '21111111-2222-4333-8444-555555555555', hostname: 'x' });
  t.equal(wrongSecret.status, 401);
  t.equal(wrongSecret.json.code, 'CW_ENROLL_BAD_SECRET');
  const noToken = await connect(c, null);
  t.equal(noToken.status, 401, 'stream without credentials refused before upgrade');
  const badToken = await connect(c, `Bearer ${hostId}.cwa_forged`);
  t.equal(badToken.status, 401, 'forged agent token refused');
  const noApiToken = await api(c, null, 'POST', '/api/v1/indicators', { indicators: [{ type: 'sha256', value: 'a'.repeat(64) }] });
  t.equal(noApiToken.status, 401);
  t.equal(noApiToken.json.code, 'CW_AUTH_MISSING');
  t.same(snapshot(c.db), before, 'database unchanged by refused requests');

  // The collector is still serving: a valid batch is committed and acknowledged.
  const ok = await connect(c, `Bearer ${hostId}.${token}`);
  await ok.next();
  ok.ws.send(JSON.stringify({ v: 1, type: 'inventory', seq: 3, scan_id: 'y', mode: 'full', part: 0, final: true,
    items: [{ kind: 'software', key: 'software:dpkg:system:ok:all', source: 'dpkg', name: 'ok', version: '1', arch: 'all' }] }));
  t.match(await ok.next(), { type: 'ack', seq: 3, applied: true });
  ok.ws.send(JSON.stringify({ v: 1, type: 'inventory', seq: 3, scan_id: 'y', mode: 'full', part: 0, final: true,
    items: [{ kind: 'software', key: 'software:dpkg:system:ok:all', source: 'dpkg', name: 'ok', version: '1', arch: 'all' }] }));
  t.match(await ok.next(), { type: 'ack', seq: 3, applied: false }, 'a replayed batch is acknowledged, not applied twice');
  ok.ws.close();
  const after = snapshot(c.db);
  t.equal(after.host_items, before.host_items! + 1);
  t.equal(after.host_seq, 3);
});
