// A delta replaces the host's older content under each key it sends. The writer keeps every item
// id under a key once read (InventoryStore's KeyEntry), so a delta storm does not look each key
// up again: these check the replacement against a plain model of what each host holds, through
// random full scans and deltas, with a second store on the same file inserting items the first
// never saw (as another writer would), and with keys past the number of ids kept.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { canonicalJson, type InventoryFrame, type InventoryItem } from '@chainwatch/shared';
import { openDb, type DB } from '../../src/store/db.js';
import { InventoryStore } from '../../src/store/inventory.js';
import { IndicatorStore } from '../../src/store/indicators.js';
import { enrollHost } from '../../src/store/auth.js';
import { software, file } from '../fixtures/harness.js';

type Item = InventoryFrame['items'][number];

function setup(t: { teardown(fn: () => unknown): void }, hosts: string[]) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cw-key-ids-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const dbs: DB[] = [];
  const open = () => { const db = openDb(path.join(dir, 'c.db')); dbs.push(db); return db; };
  t.teardown(() => { for (const db of dbs) db.close(); });
  const first = open();
  for (const h of hosts) enrollHost(first, h, h, 'test');
  const matcher = new IndicatorStore(first).loadMatcher();
  const seq = new Map<string, number>();
  /** A store on its own connection, applying frames with the next seq of each host. */
  const store = (db = open()) => {
    const inv = new InventoryStore(db);
    return (host: string, items: Item[], mode: 'full' | 'delta', removed: string[] = []) => {
      const n = (seq.get(host) ?? 0) + 1;
      seq.set(host, n);
      const frame = { v: 1, type: 'inventory', seq: n, scan_id: `s${n}`, mode, part: 0, final: true, items, ...(removed.length ? { removed } : {}) } as InventoryFrame;
      const r = inv.apply(host, frame, matcher);
      if (!r.applied) throw new Error('frame not applied');
      return r;
    };
  };
  /** What the host holds now, key → item content as stored. */
  const held = (host: string): Record<string, unknown> => {
    const rows = first.prepare(`SELECT it.ikey, it.data FROM host_inv hi JOIN host_nums n ON n.num = hi.host JOIN items it ON it.id = hi.item
      WHERE n.host_id = ? AND NOT EXISTS (SELECT 1 FROM host_removed r WHERE r.host = hi.host AND r.item = hi.item)`).raw().all(host) as Array<[string, string]>;
    const out: Record<string, unknown> = {};
    for (const [k, d] of rows) { if (k in out) throw new Error(`${host} holds two items under ${k}`); out[k] = JSON.parse(d); }
    return out;
  };
  return { store, held, open };
}

const canon = (items: Record<string, InventoryItem>) => JSON.parse(JSON.stringify(items)) as Record<string, unknown>;

for (const [label, foreign] of [['one store', 0], ['two stores on one file', 0.5]] as const) t.test(`random full scans and deltas, by ${label}, hold what the hosts sent`, async (t) => {
  const hosts = ['h1', 'h2', 'h3', 'h4'];
  const { store, held } = setup(t, hosts);
  const writers = [store(), store()];
  const model = new Map<string, Record<string, InventoryItem>>(hosts.map((h) => [h, {}]));
  let x = 12345, checked = 0;
  const rnd = (n: number) => { x = (x * 1103515245 + 12345) % 2 ** 31; return x % n; };
  // Few keys, few versions: variants repeat across hosts and come back after being replaced; and
  // now and then a version never seen, inserted after the writers have read the key's ids.
  const version = (step: number) => (rnd(4) === 0 ? 100 + step : rnd(3));
  const item = (k: number, v: number): Item => (k % 2 ? software(`pkg${k}`, `1.${v}`) : file(`/opt/f${k}`, `content ${k}.${v}`));
  for (let step = 0; step < 600; step++) {
    const h = hosts[rnd(hosts.length)]!, w = writers[rnd(100) < foreign * 100 ? 1 : 0]!, m = model.get(h)!;
    if (rnd(8) === 0) {
      const items: Item[] = [];
      for (let k = 0; k < 12; k++) if (rnd(3)) items.push(item(k, version(step)));
      w(h, items, 'full');
      model.set(h, Object.fromEntries(items.map((i) => [i.key, i as InventoryItem])));
    } else {
      const keys = new Set<number>();
      for (let n = rnd(4) + 1; n > 0; n--) keys.add(rnd(12));
      const items = [...keys].map((k) => item(k, version(step)));
      const gone = [item(rnd(12), 0).key].filter((k) => !items.some((i) => i.key === k) && rnd(3) === 0);
      w(h, items, 'delta', gone);
      for (const i of items) m[i.key] = i as InventoryItem;
      for (const k of gone) delete m[k];
    }
    const want = canon(model.get(h)!), got = held(h);
    // One assertion per step would be 600 lines of output: report the first difference only.
    if (canonicalJson(got) !== canonicalJson(want)) {
      t.same(got, want, `step ${step}: ${h} holds what it sent`);
      return;
    }
    checked++;
  }
  t.equal(checked, 600, 'every step checked');
  for (const h of hosts) t.same(held(h), canon(model.get(h)!), `${h} holds what it sent last`);
});

t.test('an item another store inserted under a key is replaced by the next delta with that key', async (t) => {
  const { store, held } = setup(t, ['a']);
  const w1 = store(), w2 = store();
  w1('a', [software('x', '1')], 'full');
  w1('a', [software('x', '2')], 'delta'); // w1 now keeps the ids under software:…:x
  w2('a', [software('x', '3')], 'delta'); // an id w1 has not seen
  const r = w1('a', [software('x', '4')], 'delta');
  t.equal(r.removed, 1, 'the foreign version was removed');
  t.same(Object.values(held('a')).map((i) => (i as { version: string }).version), ['4']);
});

t.test('a variant inserted after the key\'s ids were read is replaced too', async (t) => {
  const { store, held } = setup(t, ['a']);
  const w = store();
  w('a', [software('x', '1')], 'full');
  w('a', [software('x', '2')], 'delta'); // reads the ids under the key
  w('a', [software('x', '3'), file('/etc/y', 'y')], 'full'); // inserts a new one under it
  const r = w('a', [software('x', '4')], 'delta');
  t.equal(r.removed, 1);
  t.same(Object.keys(held('a')).sort(), ['file:/etc/y', 'software:windows_registry:machine:x']);
  t.equal((held('a')['software:windows_registry:machine:x'] as { version: string }).version, '4');
});

t.test('a key with more variants than are kept still replaces exactly', async (t) => {
  const hosts = Array.from({ length: 80 }, (_, i) => `h${i}`);
  const { store, held } = setup(t, hosts);
  const w = store();
  hosts.forEach((h, i) => w(h, [software('common', `1.${i}`), file('/etc/x', h)], 'full'));
  // The first delta reads 80 ids under the key: too many to keep, so this and later deltas look the key up.
  for (const [i, h] of hosts.slice(0, 5).entries()) {
    const r = w(h, [software('common', `2.${i}`)], 'delta');
    t.equal(r.removed, 1, `${h}: its one older version removed`);
    t.same(held(h), canon({ 'software:windows_registry:machine:common': software('common', `2.${i}`), 'file:/etc/x': file('/etc/x', h) }));
  }
  t.equal((held('h79')['software:windows_registry:machine:common'] as { version: string }).version, '1.79', 'other hosts keep theirs');
});
