/**
 * Hostile and broken input on real sockets: each gets a clear error frame or HTTP error,
 * the database is unchanged, and the collector keeps serving a well-behaved agent.
 */
import t from 'tap';
import net from 'node:net';
import tls from 'node:tls';
import path from 'node:path';
import { startCollector, runCollector, api, tempDir, cleanup } from '../helpers/processes.js';
import { snapshot, enroll, connect, invFrame, sw, caOf } from '../helpers/wire.js';

t.test('hostile frames and connections change nothing', async (t) => {
  const dir = await tempDir();
  t.teardown(() => cleanup(dir));
  const c = await startCollector({ dir, extraArgs: ['--max-frame-bytes', '65536', '--frame-rate', '50', '--auth-fail-limit', '8'] });
  t.teardown(() => c.stop());
  const hostId = '61111111-2222-4333-8444-555555555555';
  const token = await enroll(c, hostId);
  const auth = `Bearer ${hostId}.${token}`;
  const before = snapshot(c.db);

  let s = await connect(c, auth);
  t.match(await s.next(), { type: 'welcome', last_seq: 0 });
  // No zlib deflate state per connection on the collector (small frames go out plain), 8 KB agent window,
  // no context carried between the agent's messages (each inflates on its own, on the writer thread).
  t.match(s.extensions, /^permessage-deflate; client_max_window_bits=13; server_no_context_takeover; client_no_context_takeover$/, 'deflate parameters negotiated');
  s.ws.send('['.repeat(5000) + ']'.repeat(5000));
  t.match(await s.next(), { type: 'error', code: 'CW_PROTO_TOO_DEEP' }, 'deep nesting');
  s.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: true });
  t.match(await s.next(), { type: 'error', code: 'CW_PROTO_BAD_JSON' }, 'non-UTF-8');
  s.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
  t.match(await s.next(), { type: 'error', code: 'CW_PROTO_BAD_JSON' }, 'non-UTF-8 in a text frame');
  // Compressed, so only the writer thread, after inflating, can tell.
  s.ws.send(Buffer.concat([Buffer.from('{"v":1,"pad":"'), Buffer.alloc(4096, 0xc3), Buffer.from('"}')]), { binary: false, compress: true });
  t.match(await s.next(), { type: 'error', code: 'CW_PROTO_BAD_JSON' }, 'non-UTF-8 in a compressed text frame');
  s.ws.send(invFrame(1, [{ ...sw('x'), name: 'y'.repeat(70_000) }]), { compress: false });
  t.equal(await s.closed, 1009, 'oversized uncompressed frame closes with 1009');

  s = await connect(c, auth);
  await s.next();
  s.ws.send(invFrame(1, [{ ...sw('bad'), name: 12 }]));
  t.match(await s.next(), { type: 'error', code: 'CW_PROTO_BAD_FRAME', seq: 1 }, 'wrong types');
  s.ws.send(JSON.stringify({ v: 1, type: 'exec', cmd: 'rm -rf /' }));
  t.match(await s.next(), { type: 'error', code: 'CW_PROTO_UNKNOWN_TYPE' });
  s.ws.send(JSON.stringify({ v: 99, type: 'inventory' }));
  t.match(await s.next(), { type: 'error', code: 'CW_PROTO_UNSUPPORTED_VERSION' });
  // 70 KB that compress to a few hundred bytes: within the WebSocket limit, refused while inflating.
  s.ws.send(invFrame(1, [{ ...sw('x'), name: 'y'.repeat(70_000) }]), { compress: true });
  t.match(await s.next(), { type: 'error', code: 'CW_PROTO_TOO_LARGE' }, 'a frame that inflates past the limit');
  s.ws.close();
  t.same(snapshot(c.db), before, 'nothing stored');

  // Flood of tiny frames: CW_PROTO_RATE, then closed.
  s = await connect(c, auth);
  await s.next();
  // Just past the burst allowance (2 × 50): fewer frames left unread when the collector closes, so the
  // close cannot turn into a reset that drops the error frame before the client reads it.
  for (let i = 0; i < 150; i++) s.ws.send(JSON.stringify({ v: 1, type: 'heartbeat', seq: 0 }));
  t.match(await s.next(), { type: 'error', code: 'CW_PROTO_RATE' }, 'frame flood refused');
  t.equal(await s.closed, 1008);

  // Bytes before authentication: a raw socket gets an HTTP error, never a session.
  const ca = await caOf(c);
  const port = Number(new URL(c.url).port);
  const raw = await new Promise<string>((resolve) => {
    const sock = tls.connect({ host: '127.0.0.1', port, ca, servername: undefined as never, checkServerIdentity: () => undefined }, () => {
      sock.write('GET /api/v1/agents/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
      sock.write(Buffer.from([0x81, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f]));
    });
    let out = ''; sock.on('data', (d) => { out += d.toString(); }); sock.on('close', () => resolve(out)); sock.on('error', () => resolve(out));
  });
  t.match(raw, /^HTTP\/1.1 401[\s\S]*CW_AUTH_MISSING/, 'frames before authentication: 401 at the upgrade');

  // Slowloris: headers dribbled one byte at a time are cut off by the headers timeout.
  const started = Date.now();
  const cutAfter = await new Promise<number>((resolve) => {
    const sock = tls.connect({ host: '127.0.0.1', port, ca, checkServerIdentity: () => undefined }, () => {
      const line = 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(1000);
      let i = 0;
      const timer = setInterval(() => { if (i < line.length) sock.write(line[i++]!); }, 500);
      sock.on('close', () => { clearInterval(timer); resolve(Date.now() - started); });
    });
    sock.on('error', () => {});
  });
  t.ok(cutAfter < 20_000, `slowloris connection cut after ${cutAfter} ms`);

  // Data that looks like SQL, control characters and path traversal is stored verbatim.
  s = await connect(c, auth);
  await s.next();
  const nasty = ["x'); DROP TABLE hosts;--", 'a\u0000b\u001b[31mred\u0007', '../../../../etc/passwd', 'C:\\..\\..\\Windows\\win.ini', '\u202egnp.exe'];
  const items = nasty.map((n, i) => ({ ...sw(`n${i}`), name: n }));
  s.ws.send(invFrame(1, items));
  t.match(await s.next(), { type: 'ack', seq: 1, applied: true });
  s.ws.send(invFrame(1, items));
  t.match(await s.next(), { type: 'ack', seq: 1, applied: false }, 'repeated sequence acknowledged, not applied');
  s.ws.send(JSON.stringify({ v: 1, type: 'inventory', seq: -1, scan_id: 'x', mode: 'full', part: 0, final: true, items: [] }));
  t.match(await s.next(), { type: 'error', code: 'CW_PROTO_BAD_FRAME' }, 'negative sequence');
  s.ws.close();
  const admin = (await runCollector(['token', 'create', '--role', 'admin', '--db', c.db])).stdout.trim();
  const inv = await api(c, admin, 'GET', `/api/v1/hosts/${hostId}/inventory?limit=100`);
  t.same(inv.json.items.map((i: any) => i.name).sort(), [...nasty].sort(), 'round trip through the API is byte-exact');
  t.equal(snapshot(c.db).hosts, 1, 'tables intact');

  // Another host's id, forged token; then the failed-auth limit answers 429 for everyone from here.
  const other = '71111111-2222-4333-8444-555555555555';
  await enroll(c, other);
  t.equal((await connect(c, `Bearer ${other}.${token}`)).status, 401, 'token of another host refused');
  for (let i = 0; i < 8; i++) await connect(c, `Bearer ${hostId}.cwa_forged${i}`);
  t.equal((await connect(c, auth)).status, 429, 'failed-auth limit per IP on the upgrade');
  t.equal((await api(c, admin, 'GET', '/api/v1/hosts')).status, 429, 'and on the API');
  t.match(c.logs(), /agent authentication failed/);
  t.notOk(c.logs().includes(token), 'no token in the collector log');
});
