/**
 * Scan → spool: every frame the outbox writes is valid under the shared wire schema the
 * collector enforces, carries the items in order, at most about FRAME_TARGET_BYTES of them,
 * and a delta's removed keys ride on the trailing frames, the last one final.
 */
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FRAME_TARGET_BYTES, MAX_ITEMS_PER_FRAME, parseAgentFrame, type InventoryFrame, type InventoryItem } from '@chainwatch/shared';
import { Spool } from '../../src/transport/spool.js';
import { spoolInventory } from '../../src/transport/outbox.js';

const software = (n: number): InventoryItem => ({ kind: 'software', key: `software:dpkg:system:p${n}:amd64`, source: 'dpkg', name: `p${n}`,
  version: `1.${n}-"q"\\u`, arch: 'amd64', vendor: 'Dëbian ✓' } as InventoryItem);
async function* stream(n: number): AsyncGenerator<InventoryItem> { for (let i = 0; i < n; i++) yield software(i); }

async function frames(spool: Spool): Promise<InventoryFrame[]> {
  const out: InventoryFrame[] = [];
  for (let after = 0; ;) {
    const rec = await spool.next(after);
    if (!rec) return out;
    const r = parseAgentFrame(rec.data);
    if (!r.ok) throw new Error(`seq ${rec.seq}: ${r.code} ${r.message}`);
    const f = r.value as InventoryFrame;
    if (f.seq !== rec.seq) throw new Error(`frame seq ${f.seq} in record ${rec.seq}`);
    out.push(f);
    after = rec.seq;
  }
}

t.test('a full scan: schema-valid frames, items in order, bounded size', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cw-outbox-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const spool = await Spool.open(dir);
  const r = await spoolInventory(spool, stream(5000), 'full');
  const fs = await frames(spool);
  t.equal(fs.length, r.frames);
  t.ok(fs.length > 1, `${fs.length} frames`);
  t.same(fs.map((f) => f.part), fs.map((_f, i) => i), 'parts numbered from 0');
  t.same(fs.map((f) => f.final), fs.map((_f, i) => i === fs.length - 1), 'only the last is final');
  t.ok(fs.every((f) => f.scan_id === r.scanId && f.mode === 'full'));
  const items = fs.flatMap((f) => f.items);
  t.same(items, Array.from({ length: 5000 }, (_x, i) => software(i)), 'every item, in order, unchanged by the trip');
  for (const f of fs) {
    t.ok(f.items.length <= MAX_ITEMS_PER_FRAME);
    t.ok(JSON.stringify(f.items).length <= FRAME_TARGET_BYTES + 2000, 'about FRAME_TARGET_BYTES of items at most');
  }
  await spool.close();
});

t.test('a delta: removed keys on trailing frames, the last final; an empty scan is one final frame', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cw-outbox-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const spool = await Spool.open(dir);
  const gone = Array.from({ length: MAX_ITEMS_PER_FRAME + 7 }, (_x, i) => `software:dpkg:system:gone${i}:amd64`);
  await spoolInventory(spool, stream(3), 'delta', () => gone);
  const fs = await frames(spool);
  t.same(fs.flatMap((f) => f.items.map((i) => i.key)), [0, 1, 2].map((n) => software(n).key));
  t.same(fs.flatMap((f) => f.removed ?? []), gone, 'every removed key once, in order');
  t.ok(fs[fs.length - 1]!.final && (fs[fs.length - 1]!.removed?.length ?? 0) > 0);
  await spool.ack(fs[fs.length - 1]!.seq);
  const empty = await spoolInventory(spool, stream(0), 'full');
  const only = (await frames(spool));
  t.equal(only.length, 1);
  t.match(only[0], { seq: empty.lastSeq, final: true, items: [], part: 0 });
  await spool.close();
});
