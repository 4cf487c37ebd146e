// Transport bench: ingest throughput over wss + permessage-deflate with several connections,
// a fleet of agents connecting at once (every inventory stored), and a reconnect storm.
// No peer tool: the figures stand against the targets. One run each (no comparison to repeat).
// Env: CW_BENCH_CONNS (4), CW_BENCH_ITEMS (200000; quick 50000), CW_BENCH_FLEET (2000; quick 300).
// Last stdout line: result JSON.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import https from 'node:https';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { measure, pick, report, round } from './lib/common.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CONNS = Number(process.env.CW_BENCH_CONNS ?? 4), ITEMS = Number(process.env.CW_BENCH_ITEMS ?? pick(200_000, 50_000)), FLEET = Number(process.env.CW_BENCH_FLEET ?? pick(2000, 300));
const dir = mkdtempSync(path.join(os.tmpdir(), 'cw-bench-transport-'));
const db = path.join(dir, 'db', 'c.db'), ready = path.join(dir, 'ready.json'), secret = 'bench-secret-' + Date.now();
const col = spawn(process.execPath, [path.join(REPO, 'packages/collector/bin/chainwatch-collector.js'), 'start', '--db', db, '--port', '0', '--enroll-secret', secret,
  '--ready-file', ready, '--auth-fail-limit', '0', '--frame-rate', '100000', '--enroll-rate', '1000000'], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, CHAINWATCH_LOG_LEVEL: 'warn' } });
while (!existsSync(ready)) await new Promise((r) => setTimeout(r, 100));
const { url } = JSON.parse(readFileSync(ready, 'utf8'));
const ca = readFileSync(path.join(dir, 'db', 'tls', 'ca.pem'), 'utf8');
const agent = new https.Agent({ ca, keepAlive: true, maxSockets: 16 });

function post(p, body) {
  return new Promise((resolve, reject) => {
    const req = https.request(url + p, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      let t = ''; res.on('data', (c) => { t += c; }); res.on('end', () => resolve(JSON.parse(t)));
    });
    req.on('error', reject); req.end(JSON.stringify(body));
  });
}
const enroll = async () => { const id = randomUUID(); const r = await post('/api/v1/agents/enroll', { enroll_secret: secret, host_id: id, hostname: 'bench' }); return `${id}.${r.token}`; };
const item = (h, i) => ({ kind: 'file', key: `file:/usr/lib/h${h % 50}/lib${i}.so`, path: `/usr/lib/h${h % 50}/lib${i}.so`, size: 1000 + i, sha256: (i.toString(16).padStart(8, '0')).repeat(8) });

/** One agent session: sends `batches` arrays of items, resolves when all are acked. */
function session(cred, batches) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace('https', 'wss') + '/api/v1/agents/stream', { ca, perMessageDeflate: true, headers: { authorization: `Bearer ${cred}` } });
    let seq = 0, acked = 0;
    ws.on('message', (d) => {
      const f = JSON.parse(d.toString());
      if (f.type === 'welcome') { seq = f.last_seq; batches.forEach((items, i) => ws.send(JSON.stringify({ v: 1, type: 'inventory', seq: ++seq, scan_id: 'b', mode: 'full', part: i, final: i === batches.length - 1, items }))); if (!batches.length) { ws.close(); resolve(0); } }
      else if (f.type === 'ack') { if (++acked === batches.length) { ws.close(); resolve(acked); } }
      else if (f.type === 'error') { ws.close(); reject(new Error(f.code)); }
    });
    ws.on('unexpected-response', (_q, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.on('error', reject);
  });
}
const chunk = (arr, n) => Array.from({ length: Math.ceil(arr.length / n) }, (_, i) => arr.slice(i * n, (i + 1) * n));

// 1. Throughput: CONNS connections, ITEMS items total, batches of 1000.
const creds = await Promise.all(Array.from({ length: CONNS }, enroll));
const per = Math.ceil(ITEMS / CONNS);
const work = creds.map((c, h) => chunk(Array.from({ length: per }, (_, i) => item(h, i)), 1000));
let t0 = performance.now();
await Promise.all(creds.map((c, i) => session(c, work[i])));
const ingestS = (performance.now() - t0) / 1000;

// 2. Fleet: FLEET agents enroll and send a 50-item inventory, all at once.
t0 = performance.now();
const fleet = [];
for (let i = 0; i < FLEET; i += 100) fleet.push(...await Promise.all(Array.from({ length: Math.min(100, FLEET - i) }, enroll)));
const enrollS = (performance.now() - t0) / 1000;
t0 = performance.now();
const results = await Promise.allSettled(fleet.map((c, h) => session(c, [Array.from({ length: 50 }, (_, i) => item(h, i))])));
const fleetS = (performance.now() - t0) / 1000;
const fleetOk = results.filter((r) => r.status === 'fulfilled').length;
const storedHosts = Number(execFileSync('sqlite3', [db, 'SELECT count(*) FROM hosts WHERE last_seq >= 1'], { encoding: 'utf8' }).trim() || 0) - CONNS;

// 3. Reconnect storm: the whole fleet reconnects at once (replayed batch acknowledged, not applied).
t0 = performance.now();
const storm = await Promise.allSettled(fleet.map((c) => session(c, [])));
const stormS = (performance.now() - t0) / 1000;
const stormOk = storm.filter((r) => r.status === 'fulfilled').length;

col.kill('SIGTERM');
await new Promise((r) => col.once('exit', r));
rmSync(dir, { recursive: true, force: true });
const m = { connections: CONNS, items: per * CONNS, ingest_s: round(ingestS), items_per_s: Math.round((per * CONNS) / ingestS),
  fleet: FLEET, fleet_enroll_s: round(enrollS), fleet_stream_s: round(fleetS), fleet_acked: fleetOk, fleet_stored: storedHosts,
  storm_reconnect_s: round(stormS), storm_welcomed: stormOk };
const targets = { items_per_s: '>= 20000', fleet_stored: `== ${FLEET}`, storm_welcomed: `== ${FLEET}`, storm_reconnect_s: '<= 60' };
const measures = [
  measure({ what: `ingest over wss + permessage-deflate, ${CONNS} connections`, unit: 'items/s', better: 'higher', ours: [m.items_per_s], d: 0, target: '>= 20000', check: (v) => v >= 20000 }),
  measure({ what: `fleet of ${FLEET} agents streaming at once, inventories stored`, unit: 'hosts', better: 'higher', ours: [storedHosts], d: 0, target: `== ${FLEET}`, check: (v) => v === FLEET }),
  measure({ what: `reconnect storm of ${FLEET} agents`, unit: 's', better: 'lower', ours: [stormS], target: `<= 60, all ${FLEET} welcomed`, check: (v) => v <= 60 && stormOk === FLEET }),
];
report('transport', m, targets, m.items_per_s >= 20000 && storedHosts === FLEET && stormOk === FLEET && stormS <= 60, { measures });
