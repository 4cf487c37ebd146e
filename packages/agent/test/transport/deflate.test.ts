/**
 * What the agent puts on the wire: its inventory frames compressed with AGENT_DEFLATE (zlib
 * level 1) at the window the collector asks for. The real agent process talks to a loopback
 * server that negotiates as the collector does; the raw bytes of each compressed frame are
 * compared with zlib's own output for the message they carry.
 */
import t from 'tap';
import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fakeCollector, runAgentOnce } from '../helpers/fake-collector.js';

/** As the collector negotiates (collector/src/plugins/ws-deflate.ts): no context takeover, an 8 KB agent window. */
const COLLECTOR_SIDE = { serverNoContextTakeover: true, clientNoContextTakeover: true, clientMaxWindowBits: 13, threshold: 1024 };
const WINDOW_BITS = 13;

interface WireFrame { compressed: boolean; opcode: number; payload: Buffer }

/** RFC 6455 frames from a client's raw byte stream, unmasked. */
function wireFrames(buf: Buffer): WireFrame[] {
  const out: WireFrame[] = [];
  for (let o = 0; o + 2 <= buf.length;) {
    const b0 = buf[o]!, b1 = buf[o + 1]!;
    let len = b1 & 0x7f, p = o + 2;
    if (len === 126) { len = buf.readUInt16BE(p); p += 2; } else if (len === 127) { len = Number(buf.readBigUInt64BE(p)); p += 8; }
    const mask = b1 & 0x80 ? buf.subarray(p, p += 4) : null;
    if (p + len > buf.length) break;
    const payload = Buffer.from(buf.subarray(p, p + len));
    if (mask) for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!;
    out.push({ compressed: (b0 & 0x40) !== 0, opcode: b0 & 0x0f, payload });
    o = p + len;
  }
  return out;
}

/** permessage-deflate's payload for one message without context takeover: a sync-flushed raw deflate stream less its 4-byte tail. */
function deflated(message: Buffer, level: number): Buffer {
  const z = zlib.deflateRawSync(message, { level, windowBits: WINDOW_BITS, finishFlush: zlib.constants.Z_SYNC_FLUSH });
  return z.subarray(0, z.length - 4);
}

t.test('inventory frames go out compressed at zlib level 1', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cw-deflate-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const root = path.join(dir, 'root');
  await mkdir(path.join(root, 'var/lib/dpkg'), { recursive: true });
  const status = Array.from({ length: 80 }, (_, i) => `Package: pkg${i}\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.${i}-2\nMaintainer: Team ${i % 7} <t${i % 7}@example.org>\n`).join('\n');
  await writeFile(path.join(root, 'var/lib/dpkg/status'), status);
  const hostId = '81111111-2222-4333-8444-555555555566';
  const fc = await fakeCollector(t, dir, hostId, COLLECTOR_SIDE);
  const raw: Buffer[] = [];
  const messages: Buffer[] = [];
  fc.wss.on('connection', (ws, req: IncomingMessage) => {
    // Attached before the welcome (the agent sends nothing until it has one), and ahead of ws's
    // own listener, which unmasks payloads in place: a copy of the bytes as they arrived.
    req.socket.prependListener('data', (chunk: Buffer) => raw.push(Buffer.from(chunk)));
    ws.send(JSON.stringify({ v: 1, type: 'welcome', host_id: hostId, last_seq: 0, heartbeat_s: 60 }));
    ws.on('message', (d: Buffer) => {
      messages.push(d);
      const f = JSON.parse(d.toString()) as { type: string; seq: number };
      if (f.type === 'inventory') ws.send(JSON.stringify({ v: 1, type: 'ack', seq: f.seq, applied: true }));
    });
  });
  const out = await runAgentOnce(fc, root);
  if (out.code !== 0) t.comment(out.stderr.slice(-1500));
  t.equal(out.code, 0, 'the agent delivered its inventory and exited');

  const data = wireFrames(Buffer.concat(raw)).filter((f) => f.opcode === 1 || f.opcode === 2);
  t.equal(data.length, messages.length, 'one wire frame per message (no fragments)');
  const inventories = data.map((f, i) => ({ f, m: messages[i]! })).filter(({ m }) => m.toString().includes('"type":"inventory"'));
  t.ok(inventories.length >= 1, 'inventory frames were sent');
  for (const { f, m } of inventories) {
    t.ok(f.compressed, `a ${m.length}-byte inventory frame is compressed`);
    const level1 = deflated(m, 1), level6 = deflated(m, 6);
    t.not(level1.length, level6.length, 'the two levels give different bytes for this message (the check can tell them apart)');
    t.ok(f.payload.equals(level1), `wire payload (${f.payload.length} B) is zlib level 1's output (${level1.length} B; level 6: ${level6.length} B)`);
  }
});
