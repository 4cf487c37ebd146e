import t from 'tap';
import { validateItem, validateAgentFrame, MAX_ITEMS_PER_FRAME, FRAME_TARGET_BYTES } from '@chainwatch/shared';
import { loadCatalog, parseDpkgStatus } from '../src/catalog.js';
import { FleetModel } from '../src/fleet-data.js';
import { partText, planParts, run } from '../src/packed-frames.js';

const catalog = loadCatalog('/var/lib/dpkg/status', '/var/lib/dpkg/info', 2000);
const spec = { seed: 3, items: 500, matchShare: 0.5, runTag: 'unit' };

t.test('catalog holds real packages and real file md5s', async (t) => {
  t.ok(catalog.packages.length > 50, 'installed packages read');
  t.ok(catalog.packages.some((p) => p.name === 'dpkg'), 'dpkg itself is listed');
  t.ok(catalog.files.length > 100 && catalog.files.every((f) => /^[0-9a-f]{32}$/.test(f.md5) && f.path.startsWith('/')), 'files with md5s');
  t.same(parseDpkgStatus('Package: a\nStatus: deinstall ok config-files\nVersion: 1\n\nPackage: b\nStatus: install ok installed\nVersion: 2.0-1\nArchitecture: amd64\n'),
    [{ name: 'b', version: '2.0-1', arch: 'amd64', maintainer: '', sizeKb: 0 }], 'only installed packages');
});

t.test('every generated item validates against the shared schemas', async (t) => {
  const m = new FleetModel(catalog, spec);
  const kinds = new Set<string>();
  for (let h = 0; h < 12; h++) {
    const items = m.hostItems(h);
    t.equal(items.length, spec.items, `host ${h} holds exactly ${spec.items} items`);
    t.equal(new Set(items.map((s) => (JSON.parse(s) as { key: string }).key)).size, items.length, 'keys unique on a host');
    for (const s of items) {
      const it = JSON.parse(s) as { kind: string };
      kinds.add(it.kind);
      const r = validateItem(it);
      if (!r.ok) t.fail(r.message);
    }
    for (let d = 1; d <= 2; d++) for (const s of m.delta(h, d, 20).items) { const r = validateItem(JSON.parse(s)); if (!r.ok) t.fail(r.message); }
  }
  t.same([...kinds].sort(), ['file', 'host', 'signature', 'software'], 'software, files, signatures and the host');
});

t.test('frames built from the items are valid agent frames', async (t) => {
  const m = new FleetModel(catalog, { ...spec, items: 4500 });
  t.same(m.hostRuns(1).flatMap((r) => r.items), m.hostItems(1), 'runs hold the inventory in order');
  const parts = planParts(m.hostRuns(1), []);
  t.same(parts.flatMap((p) => p.runs.flatMap((r) => r.items)), m.hostItems(1), 'every item once, in order');
  t.ok(parts.length > 4500 / MAX_ITEMS_PER_FRAME, 'cut by size before the item limit');
  t.ok(parts.every((p) => p.items <= MAX_ITEMS_PER_FRAME && p.items === p.runs.reduce((n, r) => n + r.items.length, 0)));
  t.ok(parts.every((p) => p.runs.reduce((n, r) => n + r.chars, 0) <= FRAME_TARGET_BYTES), 'each frame within the target size');
  parts.forEach((p, i) => {
    const r = validateAgentFrame(JSON.parse(partText({ seq: i + 1, scanId: 'scan-1', mode: 'full', part: i, final: i === parts.length - 1 }, p)));
    t.ok(r.ok, r.ok ? `frame ${i} valid` : r.message);
  });
  const d = m.delta(1, 2, 30);
  const [dp] = planParts([run(d.items)], d.removed);
  const f = JSON.parse(partText({ seq: 9, scanId: 'd-2', mode: 'delta', part: 0, final: true }, dp!)) as { removed: string[] };
  t.ok(validateAgentFrame(f).ok, 'delta frame valid');
  t.equal(f.removed.length, 1, 'the previous delta download is removed');
  const hostItems = d.items.map((s) => JSON.parse(s) as { kind: string }).filter((i) => i.kind === 'host');
  t.same(hostItems, m.hostItems(1).map((s) => JSON.parse(s) as { kind: string }).filter((i) => i.kind === 'host'), 'the host item, unchanged, as the agent sends it with every delta');
});

t.test('deterministic by seed, different with another seed', async (t) => {
  const a = new FleetModel(catalog, spec), b = new FleetModel(catalog, spec), c = new FleetModel(catalog, { ...spec, seed: 4 });
  t.same(a.hostItems(5), b.hostItems(5), 'same seed, same host inventory');
  t.same(a.delta(5, 3, 10), b.delta(5, 3, 10), 'same seed, same delta');
  t.same(a.indicators(), b.indicators(), 'same feed');
  t.not(JSON.stringify(a.hostItems(5)), JSON.stringify(c.hostItems(5)), 'another seed, another fleet');
});

t.test('a fleet shares most items and plants what its feed names', async (t) => {
  const m = new FleetModel(catalog, spec);
  const h0 = new Set(m.hostItems(0)), h4 = m.hostItems(4); // same base image
  const shared = h4.filter((s) => h0.has(s)).length;
  t.ok(shared / h4.length > 0.9, `hosts of one image share ${shared} of ${h4.length} items`);
  const values = new Set(m.indicators().flatMap((i) => [i.value, i.name].filter(Boolean)));
  let planted = 0;
  for (let h = 0; h < 40; h++) {
    const p = m.planted(h);
    const hits = m.hostItems(h).filter((s) => [...values].some((v) => s.includes(v!))).length;
    t.equal(hits, p ? 1 : 0, `host ${h}: ${p ? 'one planted item' : 'nothing planted'}`);
    if (p) planted++;
  }
  t.ok(planted > 5 && planted < 35, `about half of 40 hosts planted at share 0.5 (${planted})`);
});
