// deferInflate: compressed agent messages reach the server's handler as sent, flagged, and
// inflate elsewhere to the same bytes; plain ones pass as they are. Against the ws version
// installed (it reads ws's own fields), with a client configured as the agent's.
import t, { type Test } from 'tap';
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { WebSocketServer, WebSocket } from 'ws';
import { AGENT_DEFLATE } from '@chainwatch/shared';
import { DEFLATE, deferInflate } from '../../src/plugins/ws-deflate.js';
import { inflateFrame } from '../../src/store/frame-inflate.js';

const frame = (n: number): string => JSON.stringify({ n, items: Array.from({ length: 200 }, (_, i) => ({ kind: 'file', path: `/usr/lib/f${i}.so`, n })) });

/** A loopback server with `deflate` and a client configured as the agent's; both ends of the connection. */
async function pair(t: Test, deflate: typeof DEFLATE | Record<string, unknown>, clientDeflate: boolean | Record<string, unknown> = true): Promise<{ client: WebSocket; server: WebSocket }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: deflate, skipUTF8Validation: true });
  await once(wss, 'listening');
  t.teardown(() => new Promise<void>((r) => wss.close(() => r())));
  const accepted = once(wss, 'connection') as Promise<[WebSocket]>;
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, { perMessageDeflate: clientDeflate });
  t.teardown(() => client.terminate());
  await once(client, 'open');
  const [server] = await accepted;
  return { client, server };
}

/** Messages as the server's handler sees them: bytes and whether they came compressed. */
function collect(server: WebSocket, wasDeflated: () => boolean): Array<{ data: Buffer; deflated: boolean }> {
  const got: Array<{ data: Buffer; deflated: boolean }> = [];
  server.on('message', (data: Buffer) => got.push({ data, deflated: wasDeflated() }));
  return got;
}
const until = async (cond: () => boolean): Promise<void> => { while (!cond()) await new Promise((r) => setTimeout(r, 5)); };

t.test('deferInflate: compressed messages arrive as sent and inflate to the same bytes', async (t) => {
  const { client, server } = await pair(t, DEFLATE, AGENT_DEFLATE);
  const wasDeflated = deferInflate(server);
  if (!wasDeflated) { t.fail('permessage-deflate without client context takeover was negotiated'); return; }
  const got = collect(server, wasDeflated);
  const big = [frame(1), frame(2), frame(3)], small = '{"v":1,"type":"heartbeat","seq":0}';
  // Back to back: several frames in one socket read, through the receiver's loop.
  client.send(big[0]!); client.send(small); client.send(big[1]!); client.send(big[2]!);
  // One message in two fragments: one DEFLATE stream, joined before inflating.
  const half = frame(4).length >> 1;
  client.send(frame(4).slice(0, half), { fin: false }); client.send(frame(4).slice(half), { fin: true });
  await until(() => got.length === 5);
  t.same(got.map((g) => g.deflated), [true, false, true, true, true], 'flagged per message: the small one went plain');
  const texts = got.map((g) => {
    if (!g.deflated) return g.data.toString('utf8');
    t.ok(g.data.length < Buffer.byteLength(big[0]!) / 3, `compressed bytes handed over (${g.data.length})`);
    const r = inflateFrame(g.data, 1 << 20);
    return r.ok ? r.value.toString('utf8') : `not inflated: ${r.code}`;
  });
  t.same(texts, [big[0], small, big[1], big[2], frame(4)], 'every message inflates to what was sent, in order');
  t.equal((server as unknown as { _extensions: Record<string, { _inflate?: unknown }> })._extensions['permessage-deflate']!._inflate ?? null, null, 'ws made no inflater');
});

t.test('deferInflate: with context takeover on the agent side, ws inflates as before', async (t) => {
  const { client, server } = await pair(t, { ...DEFLATE, clientNoContextTakeover: false });
  t.equal(deferInflate(server), null, 'its messages depend on the ones before: not handed over');
  const got = once(server, 'message');
  client.send(frame(1));
  t.equal(String((await got)[0]), frame(1));
});

t.test('deferInflate: a compressed frame of bytes that are not DEFLATE is handed over and refused when inflated', async (t) => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: DEFLATE, skipUTF8Validation: true });
  await once(wss, 'listening');
  t.teardown(() => new Promise<void>((r) => wss.close(() => r())));
  const received = new Promise<{ data: Buffer; deflated: boolean }>((resolve) => wss.on('connection', (ws) => {
    const wasDeflated = deferInflate(ws)!;
    ws.on('message', (data: Buffer) => resolve({ data, deflated: wasDeflated() }));
  }));
  const sock = net.connect((wss.address() as AddressInfo).port, '127.0.0.1');
  t.teardown(() => sock.destroy());
  sock.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n'
    + `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; client_max_window_bits\r\n\r\n`);
  const [head] = await once(sock, 'data') as [Buffer];
  t.match(head.toString(), /^HTTP\/1.1 101[\s\S]*permessage-deflate/);
  const payload = Buffer.from([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0xff]), mask = randomBytes(4);
  // FIN + RSV1 (compressed) + text; masked, as a client must.
  sock.write(Buffer.concat([Buffer.from([0xc1, 0x80 | payload.length]), mask, payload.map((b, i) => b ^ mask[i & 3]!)]));
  const m = await received;
  t.ok(m.deflated);
  t.same([...m.data], [...payload], 'handed over as received');
  t.match(inflateFrame(m.data, 1 << 20), { ok: false, code: 'CW_PROTO_BAD_DEFLATE' });
});
