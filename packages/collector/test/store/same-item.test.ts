// sameItem walks two items instead of serialising them: it must agree with canonicalJson (the
// digest's text) on every pair, whatever the key order, nesting or undefined fields.
import t from 'tap';
import { canonicalJson, type InventoryItem } from '@chainwatch/shared';
import { sameItem } from '../../src/store/inventory.js';

function rng(seed: number): () => number {
  return () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x80000000; };
}

/** A random JSON value of bounded depth (what JSON.parse can give), undefined fields included in objects. */
function value(r: () => number, depth: number): unknown {
  const k = Math.floor(r() * (depth > 0 ? 8 : 5));
  switch (k) {
    case 0: return null;
    case 1: return Math.floor(r() * 3);
    case 2: return ['a', 'b', '1', ''][Math.floor(r() * 4)];
    case 3: return r() < 0.5;
    case 4: return [0, -0, 1.5][Math.floor(r() * 3)];
    case 5: case 6: { const o: Record<string, unknown> = {}; for (let i = Math.floor(r() * 4); i > 0; i--) o[`k${Math.floor(r() * 4)}`] = r() < 0.15 ? undefined : value(r, depth - 1); return o; }
    default: return Array.from({ length: Math.floor(r() * 3) }, () => value(r, depth - 1));
  }
}

/** The same value with object keys in another order (and sometimes one small change). */
function reordered(v: unknown, r: () => number, change: boolean): unknown {
  if (Array.isArray(v)) return v.map((e, i) => reordered(e, r, change && i === 0));
  if (v === null || typeof v !== 'object') return change && r() < 0.5 ? (typeof v === 'number' ? v + 1 : typeof v === 'string' ? v + 'x' : v === null ? {} : !v) : v;
  const keys = Object.keys(v).sort(() => r() - 0.5);
  const o: Record<string, unknown> = {};
  keys.forEach((key, i) => { o[key] = reordered((v as Record<string, unknown>)[key], r, change && i === 0); });
  if (change && r() < 0.3) o.extra = r() < 0.5 ? undefined : 1;
  return o;
}

t.test('sameItem agrees with canonicalJson', async (t) => {
  const r = rng(7);
  let same = 0, differ = 0;
  for (let i = 0; i < 20_000; i++) {
    const a = { kind: 'file', key: 'file:/x', nested: value(r, 4) } as unknown as InventoryItem;
    const b = (r() < 0.3 ? { kind: 'file', key: 'file:/x', nested: value(r, 4) } : reordered(a, r, r() < 0.5)) as InventoryItem;
    const want = canonicalJson(a) === canonicalJson(b);
    if (sameItem(a, b) !== want || sameItem(b, a) !== want) { t.fail(`disagree: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`); return; }
    if (want) same++; else differ++;
  }
  t.ok(same > 2000 && differ > 2000, `${same} equal and ${differ} different pairs agreed`);
  t.ok(sameItem({ kind: 'host', key: 'host', os: { name: 'x', id: 'y' } } as unknown as InventoryItem, { key: 'host', os: { id: 'y', name: 'x', v: undefined }, kind: 'host' } as unknown as InventoryItem), 'key order and undefined fields do not count');
  t.notOk(sameItem({ kind: 'x', key: 'k', a: [] } as unknown as InventoryItem, { kind: 'x', key: 'k', a: {} } as unknown as InventoryItem), 'an array is not an object');
  t.notOk(sameItem({ kind: 'x', key: 'k', a: [1, 2] } as unknown as InventoryItem, { kind: 'x', key: 'k', a: [2, 1] } as unknown as InventoryItem), 'arrays compare in order');
});
