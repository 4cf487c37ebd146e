import t from 'tap';
import { Writable } from 'node:stream';
import { NdjsonWriter } from '../../src/cli/ndjson-writer.js';

/** A stream that records each write and asks for drain after every one when `slow`. */
function sink(slow: boolean): { out: Writable; writes: string[] } {
  const writes: string[] = [];
  const out = new Writable({
    highWaterMark: slow ? 1 : 1 << 20,
    write(chunk: Buffer, _enc, cb) { writes.push(chunk.toString()); setImmediate(cb); },
  });
  return { out, writes };
}

const items = Array.from({ length: 3000 }, (_, i) => ({ kind: 'file', key: `file:/usr/lib/f${i}`, path: `/usr/lib/ü/f${i}`, size: i, note: 'x'.repeat(i % 50) }));

for (const slow of [false, true]) {
  t.test(`every item one JSON line, in order, in few writes (${slow ? 'slow' : 'fast'} reader)`, async (t) => {
    const { out, writes } = sink(slow);
    const w = new NdjsonWriter(out);
    let waits = 0;
    for (const it of items) { const p = w.write(it); if (p) { waits++; await p; } }
    await w.flush();
    await new Promise<void>((r) => out.end(r));
    t.same(writes.join('').split('\n').slice(0, -1).map((l) => JSON.parse(l)), items);
    t.ok(writes.length > 1 && writes.length < items.length / 50, `${writes.length} writes for ${items.length} items`);
    if (slow) t.ok(waits > 0, 'waited for drain'); else t.equal(waits, 0, 'no waiting when the stream keeps up');
  });
}

t.test('flush with nothing gathered writes nothing', async (t) => {
  const { out, writes } = sink(false);
  t.equal(new NdjsonWriter(out).flush(), undefined);
  t.same(writes, []);
});
