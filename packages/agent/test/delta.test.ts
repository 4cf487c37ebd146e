import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { InventoryItem } from '@chainwatch/shared';
import { DeltaStore, itemDigest } from '../src/delta.js';

const sw = (name: string, version: string): InventoryItem => ({ kind: 'software', key: `software:dpkg:system:${name}:amd64`, source: 'dpkg', name, version, arch: 'amd64' });
const host: InventoryItem = { kind: 'host', key: 'host', hostname: 'h', os: { platform: 'linux', name: 'x', version: '1' }, kernel: 'k', arch: 'x64', ips: [], agent_version: '0' };
async function* from(items: InventoryItem[]) { yield* items; }
async function run(store: DeltaStore, items: InventoryItem[], ack = true, full = false) {
  const scan = store.begin(full);
  const sent: string[] = [];
  for await (const i of scan.filter(from(items))) sent.push(`${i.key}=${i.kind === 'software' ? i.version : ''}`);
  const removed = scan.removed();
  if (ack) scan.commit(full); else scan.abort();
  return { sent, removed };
}

t.test('only changes travel after the first acknowledged inventory', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cw-delta-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new DeltaStore(path.join(dir, 'delta.sqlite'));
  t.teardown(() => store.close());
  t.equal(store.hasBaseline(), false);
  const first = await run(store, [host, sw('a', '1'), sw('b', '1'), sw('c', '1')]);
  t.equal(first.sent.length, 4, 'first scan sends everything');
  t.equal(store.hasBaseline(), true);

  const same = await run(store, [host, sw('a', '1'), sw('b', '1'), sw('c', '1')]);
  t.same(same.sent, ['host='], 'unchanged rescan sends only host facts');
  t.same(same.removed, []);

  const changed = await run(store, [host, sw('a', '2'), sw('c', '1'), sw('d', '1')], false);
  t.same(changed.sent.sort(), ['host=', 'software:dpkg:system:a:amd64=2', 'software:dpkg:system:d:amd64=1']);
  t.same(changed.removed, ['software:dpkg:system:b:amd64']);
  const retry = await run(store, [host, sw('a', '2'), sw('c', '1'), sw('d', '1')]);
  t.same(retry.sent.sort(), changed.sent.sort(), 'an unacknowledged delta is recomputed, not lost');
  t.same(retry.removed, changed.removed);
  t.same((await run(store, [host, sw('a', '2'), sw('c', '1'), sw('d', '1')])).sent, ['host='], 'baseline moved after ack');

  const full = await run(store, [host, sw('a', '2'), sw('c', '1')], true, true);
  t.equal(full.sent.length, 3, 'a full scan sends every item');
  t.same(full.removed, ['software:dpkg:system:d:amd64'], 'and still knows what went away');
  t.ok(store.lastFullAt() > 0);
  store.reset();
  t.equal(store.hasBaseline(), false, 'reset forces a full inventory');
});

t.test('digest ignores field order', async (t) => {
  const a = { kind: 'software', key: 'k', source: 'dpkg', name: 'n', version: '1' } as InventoryItem;
  const b = { version: '1', name: 'n', source: 'dpkg', key: 'k', kind: 'software' } as InventoryItem;
  t.same(itemDigest(a), itemDigest(b));
});
