import t from 'tap';
import zlib from 'node:zlib';
import { MAX_ITEMS_PER_FRAME, FRAME_TARGET_BYTES } from '@chainwatch/shared';
import { loadCatalog } from '../src/catalog.js';
import { FleetModel } from '../src/fleet-data.js';
import { PieceCache, inflatePacked, linkTakesPacked, packedPart, partText, planParts, run, type FrameHead } from '../src/packed-frames.js';

const catalog = loadCatalog('/var/lib/dpkg/status', '/var/lib/dpkg/info', 4000);
const head = (part: number, final: boolean): FrameHead => ({ seq: 40 + part, scanId: 'full-3', mode: 'full', part, final });

t.test('a packed frame inflates to the frame text, byte for byte', async (t) => {
  const m = new FleetModel(catalog, { seed: 5, items: 3000, matchShare: 0.5, runTag: 'packed' });
  const cache = new PieceCache();
  let frames = 0;
  for (let h = 0; h < 16; h++) {
    const parts = planParts(m.hostRuns(h), []);
    parts.forEach((p, i) => {
      const text = partText(head(i, i === parts.length - 1), p);
      const packed = packedPart(head(i, i === parts.length - 1), p, cache);
      if (inflatePacked(packed) !== text) t.fail(`host ${h} part ${i} differs`);
      // What the collector does with it (store/frame-inflate.ts): inflate with an 8 KB window, sync flush.
      const mine = zlib.inflateRawSync(Buffer.concat([packed, Buffer.from([0, 0, 0xff, 0xff])]), { windowBits: 13, finishFlush: zlib.constants.Z_SYNC_FLUSH });
      if (mine.toString() !== text) t.fail(`host ${h} part ${i}: collector-style inflate differs`);
      frames++;
    });
  }
  t.ok(frames > 16 * 3, `${frames} frames of 16 hosts checked`);
  t.ok(cache.hits > cache.misses * 2, `image runs compressed once and reused (${cache.hits} hits, ${cache.misses} misses)`);
  // A delta (nothing cached), a frame that starts with a cached run (no leading comma), removed keys.
  const d = m.delta(2, 1, 40);
  const [dp] = planParts([run(d.items)], ['file:/gone', 'software:dpkg:system:x:amd64']);
  t.equal(inflatePacked(packedPart(head(0, true), dp!, cache)), partText(head(0, true), dp!), 'delta with removed keys');
  const runs = m.hostRuns(4).slice(1, 3).filter((r) => r.key !== null);
  const p = planParts(runs, [])[0]!;
  t.equal(inflatePacked(packedPart(head(1, false), p, cache)), partText(head(1, false), p), 'frame opening on a cached run');
  t.ok(JSON.parse(partText(head(1, false), p)).items.length === p.items, 'and it is JSON');
});

t.test('packing costs little in size', async (t) => {
  const m = new FleetModel(catalog, { seed: 5, items: 3000, matchShare: 0, runTag: 'size' });
  const cache = new PieceCache();
  let whole = 0, packed = 0;
  for (const [i, p] of planParts(m.hostRuns(1), []).entries()) {
    whole += zlib.deflateRawSync(partText(head(i, false), p), { level: 1, windowBits: 13 }).length;
    packed += packedPart(head(i, false), p, cache).length;
  }
  t.ok(packed < whole * 1.25, `packed ${packed} bytes vs ${whole} compressed whole`);
});

t.test('runs split only when one alone is over a frame bound', async (t) => {
  const big = Array.from({ length: MAX_ITEMS_PER_FRAME + 5 }, (_, i) => `{"k":${i}}`);
  const parts = planParts([run(['{"host":1}']), run(big, 'x'), run(['{"a":1}'])], []);
  t.same(parts.flatMap((p) => p.runs.flatMap((r) => r.items)), ['{"host":1}', ...big, '{"a":1}'], 'every item once, in order');
  t.ok(parts.every((p) => p.items <= MAX_ITEMS_PER_FRAME), 'item bound held');
  const pieces = parts.flatMap((p) => p.runs).filter((r) => r.items[0]?.startsWith('{"k"'));
  t.same(pieces.map((r) => [r.items.length, r.key]), [[MAX_ITEMS_PER_FRAME, null], [5, null]], 'the run over the item bound split in two, neither cached whole');
  const wide = Array.from({ length: 10 }, (_, i) => `"${String(i).repeat(FRAME_TARGET_BYTES / 4)}"`);
  const w = planParts([run(wide, 'y')], []);
  t.ok(w.length >= 3 && w.every((p) => p.runs.reduce((n, r) => n + r.chars, 0) <= FRAME_TARGET_BYTES), `a wide run split by bytes (${w.length} parts)`);
  const r = planParts([run(['{"a":1}'])], Array.from({ length: MAX_ITEMS_PER_FRAME + 1 }, (_, i) => `file:/r${i}`));
  t.same(r.map((p) => [p.items, p.removed.length]), [[1, MAX_ITEMS_PER_FRAME], [0, 1]], 'removed keys beyond one frame go in the next');
});

t.test('which links take packed frames', async (t) => {
  t.ok(linkTakesPacked('permessage-deflate; client_no_context_takeover; server_no_context_takeover; client_max_window_bits=13'), 'the collector\'s terms');
  t.ok(linkTakesPacked('permessage-deflate; client_no_context_takeover'), 'default window (15 bits)');
  t.notOk(linkTakesPacked('permessage-deflate; server_no_context_takeover'), 'context takeover on our side: each message refers to the last');
  t.notOk(linkTakesPacked('permessage-deflate; client_no_context_takeover; client_max_window_bits=10'), 'a window smaller than the pieces\'');
  t.notOk(linkTakesPacked(''), 'no compression negotiated');
});
