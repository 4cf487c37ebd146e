// The writer thread's inflater: a message as ws's sender compresses it (sync flush, trailer
// stripped) comes back whole; one that would unfold past the frame limit stops at the limit;
// bytes that are not DEFLATE are refused by code.
import t from 'tap';
import { constants, deflateRawSync } from 'node:zlib';
import { inflateFrame } from '../../src/store/frame-inflate.js';

/** As a permessage-deflate sender without context takeover: one raw stream, sync-flushed, its 00 00 ff ff removed. */
function compress(text: string | Buffer, level = 1): Buffer {
  const out = deflateRawSync(text, { level, finishFlush: constants.Z_SYNC_FLUSH });
  if (out.subarray(-4).toString('hex') !== '0000ffff') throw new Error('a sync flush ends with the trailer the sender strips');
  return out.subarray(0, -4);
}

t.test('a compressed message inflates to its bytes', async (t) => {
  const msg = JSON.stringify({ v: 1, type: 'inventory', items: Array.from({ length: 500 }, (_, i) => ({ kind: 'file', path: `/usr/lib/f${i}.so` })) });
  for (const level of [1, 6, 9]) {
    const r = inflateFrame(compress(msg, level), 1 << 20);
    t.ok(r.ok, `level ${level}`);
    if (r.ok) t.equal(r.value.toString('utf8'), msg);
  }
  const empty = inflateFrame(compress(''), 1024);
  t.ok(empty.ok && empty.value.length === 0, 'an empty message');
});

t.test('output is bounded while inflating: a small bomb is refused at the limit', async (t) => {
  const bomb = compress(Buffer.alloc(64 << 20, 0x20), 9);
  t.ok(bomb.length < 100_000, `64 MB of spaces compress to ${bomb.length} bytes`);
  const before = process.memoryUsage().arrayBuffers;
  const r = inflateFrame(bomb, 1 << 20);
  t.match(r, { ok: false, code: 'CW_PROTO_TOO_LARGE' });
  t.ok(process.memoryUsage().arrayBuffers - before < 16 << 20, 'not inflated in full first');
  const exact = inflateFrame(compress(Buffer.alloc(4096, 0x20)), 4096);
  t.ok(exact.ok && exact.value.length === 4096, 'exactly the limit is accepted');
  t.match(inflateFrame(compress(Buffer.alloc(4097, 0x20)), 4096), { ok: false, code: 'CW_PROTO_TOO_LARGE' }, 'one byte past it is not');
});

t.test('bytes that are not DEFLATE data are refused with CW_PROTO_BAD_DEFLATE', async (t) => {
  const r = inflateFrame(Buffer.from([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0xff]), 1 << 20);
  t.match(r, { ok: false, code: 'CW_PROTO_BAD_DEFLATE', message: /does not inflate/ });
  t.match(inflateFrame(Buffer.from([0xff, 0xff, 0xff]), 1 << 20), { ok: false, code: 'CW_PROTO_BAD_DEFLATE' }, 'an invalid block type');
});
