// The integer host-item layout (migration 4): existing pairs move over with their history and
// their scan, the host_items view still reads and writes, a delta scan's final part confirms
// what the host still holds, and the match cache follows indicator changes.
import t from 'tap';
import Database from 'better-sqlite3';
import { MIGRATIONS } from '../../src/store/migrations/index.js';
import { migrate } from '../../src/store/db.js';
import { harness, software, file, sha, valid } from '../fixtures/harness.js';

const hostItem = (hostname: string, agentVersion: string) => valid({
  kind: 'host' as const, key: 'host', hostname, os: { platform: 'linux', name: 'Debian', version: '12' },
  kernel: '6.1.0', arch: 'x86_64', ips: [], agent_version: agentVersion,
});

t.test('migration 4 keeps pairs, history and the scan in progress', async (t) => {
  const db = new Database(':memory:');
  for (let v = 0; v < 3; v++) db.exec(MIGRATIONS[v]!);
  db.pragma('user_version = 3');
  const item = db.prepare(`INSERT INTO items (id, digest, kind, ikey, data) VALUES (?, randomblob(32), 'file', ?, '{}')`);
  for (const id of [1, 2, 3]) item.run(id, `file:/f${id}`);
  const hi = db.prepare('INSERT INTO host_items (host_id, item_id, first_seen, last_seen, removed_at, scan_id) VALUES (?, ?, ?, ?, ?, ?)');
  hi.run('h-a', 1, '2026-01-01T00:00:00.000Z', '2026-02-01T00:00:00.000Z', null, 'old');
  hi.run('h-a', 2, '2026-01-01T00:00:00.000Z', '2026-03-01T00:00:00.000Z', null, 'cur');
  hi.run('h-a', 3, '2026-01-01T00:00:00.000Z', '2026-01-15T00:00:00.000Z', '2026-01-20T00:00:00.000Z', 'old');
  hi.run('h-b', 1, '2026-01-05T00:00:00.000Z', '2026-03-01T00:00:00.000Z', null, 'b1');
  migrate(db);
  t.equal(db.prepare('SELECT count(*) FROM host_inv').pluck().get(), 4);
  t.same(db.prepare(`SELECT item_id, first_seen, last_seen, removed_at FROM host_items WHERE host_id = 'h-a' ORDER BY item_id`).all(), [
    { item_id: 1, first_seen: '2026-01-01T00:00:00.000Z', last_seen: '2026-02-01T00:00:00.000Z', removed_at: null },
    { item_id: 2, first_seen: '2026-01-01T00:00:00.000Z', last_seen: '2026-03-01T00:00:00.000Z', removed_at: null },
    { item_id: 3, first_seen: '2026-01-01T00:00:00.000Z', last_seen: '2026-01-15T00:00:00.000Z', removed_at: '2026-01-20T00:00:00.000Z' },
  ], 'history moved over');
  t.same(db.prepare(`SELECT scan_id, scan FROM host_nums WHERE host_id = 'h-a'`).get(), { scan_id: 'cur', scan: 1 }, 'latest scan is current');
  t.same(db.prepare(`SELECT item, scan FROM host_inv WHERE host = (SELECT num FROM host_nums WHERE host_id = 'h-a') ORDER BY item`).raw().all(), [[1, 0], [2, 1], [3, 0]]);
  db.prepare(`INSERT INTO host_items (host_id, item_id, first_seen, last_seen, removed_at, scan_id) VALUES ('h-c', 2, '2026-04-01T00:00:00.123Z', '2026-04-01T00:00:00.123Z', NULL, 's')`).run();
  db.prepare(`DELETE FROM host_items WHERE host_id = 'h-b' AND item_id = 1`).run();
  t.same(db.prepare('SELECT host_id, item_id FROM host_items ORDER BY host_id, item_id').raw().all(), [['h-a', 1], ['h-a', 2], ['h-a', 3], ['h-c', 2]], 'view writes through');
  t.same(db.prepare(`SELECT first_seen FROM host_items WHERE host_id = 'h-c'`).pluck().get(), '2026-04-01T00:00:00.123Z', 'text in, text out');
});

t.test('migration 11 turns host pair times into integer milliseconds, exactly', async (t) => {
  const db = new Database(':memory:');
  for (let v = 0; v < 10; v++) db.exec(MIGRATIONS[v]!);
  db.pragma('user_version = 10');
  db.prepare(`INSERT INTO items (id, digest, kind, ikey, data) VALUES (1, randomblob(32), 'file', 'file:/f', '{}'), (2, randomblob(32), 'file', 'file:/g', '{}')`).run();
  db.exec(`INSERT INTO host_nums (num, host_id, scan, confirmed_at) VALUES (1, 'h-a', 1, '2026-05-02T10:00:00.999Z'), (2, 'h-b', 1, NULL)`);
  const pair = db.prepare('INSERT INTO host_inv (host, item, first_seen, last_seen, removed_at, scan) VALUES (?, ?, ?, ?, ?, 1)');
  pair.run(1, 1, '2026-05-01T00:00:00.001Z', '2026-05-02T00:00:00.000Z', null);
  pair.run(1, 2, '2026-05-01T00:00:00.002Z', '2026-05-01T12:00:00.500Z', '2026-05-01T13:00:00.000Z');
  pair.run(2, 1, 'garbage', '2026-05-03T00:00:00.000Z', null);
  db.exec(MIGRATIONS[10]!);
  db.pragma('user_version = 11');
  t.same(db.prepare('SELECT host, item, first_seen, last_seen, removed_at FROM host_inv ORDER BY host, item').raw().all(), [
    [1, 1, Date.parse('2026-05-01T00:00:00.001Z'), Date.parse('2026-05-02T00:00:00.000Z'), null],
    [1, 2, Date.parse('2026-05-01T00:00:00.002Z'), Date.parse('2026-05-01T12:00:00.500Z'), Date.parse('2026-05-01T13:00:00.000Z')],
    [2, 1, 0, Date.parse('2026-05-03T00:00:00.000Z'), null],
  ], 'integers to the millisecond; unparseable legacy text becomes 0');
  t.same(db.prepare('SELECT host_id, confirmed_at FROM host_nums ORDER BY num').raw().all(), [['h-a', Date.parse('2026-05-02T10:00:00.999Z')], ['h-b', null]]);
  t.same(db.prepare(`SELECT item_id, first_seen, last_seen, removed_at FROM host_items WHERE host_id = 'h-a' ORDER BY item_id`).raw().all(), [
    [1, '2026-05-01T00:00:00.001Z', '2026-05-02T10:00:00.999Z', null],
    [2, '2026-05-01T00:00:00.002Z', '2026-05-01T12:00:00.500Z', '2026-05-01T13:00:00.000Z'],
  ], 'the view shows ISO text, a held pair\'s last sighting counting its host\'s confirmation');
  t.same(db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'host_inv' AND sql IS NOT NULL ORDER BY name`).pluck().all(),
    ['host_inv_bucket_item', 'host_inv_removed', 'host_inv_removed_bucket'], 'the indexes are back');
  db.prepare(`UPDATE host_items SET removed_at = '2026-06-01T00:00:00.000Z' WHERE host_id = 'h-b' AND item_id = 1`).run();
  t.equal(db.prepare('SELECT removed_at FROM host_inv WHERE host = 2').pluck().get(), Date.parse('2026-06-01T00:00:00.000Z'), 'the view writes through in milliseconds');
});

t.test('migration 12 moves removals out of host_inv into host_removed; the view reads and writes both', async (t) => {
  const db = new Database(':memory:');
  for (let v = 0; v < 11; v++) db.exec(MIGRATIONS[v]!);
  db.pragma('user_version = 11');
  db.prepare(`INSERT INTO items (id, digest, kind, ikey, data) VALUES (1, randomblob(32), 'file', 'file:/f', '{}'), (2, randomblob(32), 'file', 'file:/g', '{}')`).run();
  db.exec(`INSERT INTO host_nums (num, host_id, scan, confirmed_at) VALUES (1, 'h-a', 1, ${Date.parse('2026-05-02T10:00:00.999Z')})`);
  const pair = db.prepare('INSERT INTO host_inv (host, item, first_seen, last_seen, removed_at, scan) VALUES (1, ?, ?, ?, ?, 1)');
  pair.run(1, Date.parse('2026-05-01T00:00:00.001Z'), Date.parse('2026-05-02T00:00:00.000Z'), null);
  pair.run(2, Date.parse('2026-05-01T00:00:00.002Z'), Date.parse('2026-05-01T12:00:00.500Z'), Date.parse('2026-05-01T13:00:00.000Z'));
  const before = db.prepare(`SELECT item_id, first_seen, last_seen, removed_at FROM host_items ORDER BY item_id`).raw().all();
  migrate(db);
  t.same(db.prepare(`SELECT item_id, first_seen, last_seen, removed_at FROM host_items ORDER BY item_id`).raw().all(), before, 'the view shows the same pairs');
  t.same(db.prepare('SELECT * FROM host_inv ORDER BY item').raw().all(), [
    [1, 1, Date.parse('2026-05-01T00:00:00.001Z'), Date.parse('2026-05-02T00:00:00.000Z'), 1],
    [1, 2, Date.parse('2026-05-01T00:00:00.002Z'), Date.parse('2026-05-01T12:00:00.500Z'), 1],
  ], 'host_inv keeps every pair, without a removal column');
  t.same(db.prepare('SELECT * FROM host_removed').raw().all(), [[1, 2, Date.parse('2026-05-01T13:00:00.000Z'), Date.parse('2026-05-01T12:00:00.500Z')]], 'the removal moved');
  t.same(db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name IN ('host_inv', 'host_removed') AND sql IS NOT NULL ORDER BY name`).pluck().all(),
    ['host_inv_bucket_item', 'host_removed_at', 'host_removed_bucket']);
  db.prepare(`UPDATE host_items SET removed_at = '2026-06-01T00:00:00.000Z' WHERE item_id = 1`).run();
  db.prepare(`UPDATE host_items SET removed_at = NULL, last_seen = '2026-06-02T00:00:00.000Z' WHERE item_id = 2`).run();
  db.prepare(`INSERT INTO host_items (host_id, item_id, first_seen, last_seen, removed_at, scan_id) VALUES ('h-b', 1, '2026-04-01T00:00:00.000Z', '2026-04-02T00:00:00.000Z', '2026-04-03T00:00:00.000Z', 's')`).run();
  t.same(db.prepare('SELECT host, item, removed_at FROM host_removed ORDER BY host, item').raw().all(),
    [[1, 1, Date.parse('2026-06-01T00:00:00.000Z')], [2, 1, Date.parse('2026-04-03T00:00:00.000Z')]], 'the view writes removals through');
  db.prepare(`DELETE FROM host_items WHERE host_id = 'h-b'`).run();
  t.same(db.prepare('SELECT count(*) FROM host_removed WHERE host = 2').pluck().get(), 0, 'a deleted pair takes its removal along');
});

t.test('a delta that replaces items writes removals, not the host\'s pair rows; a returning item is held again with its first sighting', async (t) => {
  const h = await harness(t);
  h.host('h1');
  const items = Array.from({ length: 40 }, (_, i) => software(`Pkg${i}`, '1.0'));
  h.scan('h1', items);
  const pairs = () => h.svc.db.prepare('SELECT item, first_seen, last_seen, scan FROM host_inv ORDER BY item').raw().all();
  const stored = pairs();
  await new Promise((r) => setTimeout(r, 5));
  t.equal(h.scan('h1', [software('Pkg3', '2.0'), software('Pkg17', '2.0')], 'delta').removed, 2, 'two versions replaced');
  const after = pairs();
  t.same(after.slice(0, stored.length), stored, 'no stored pair rewritten');
  t.equal(after.length, stored.length + 2, 'the new versions added');
  t.equal(h.svc.db.prepare('SELECT count(*) FROM host_removed').pluck().get(), 2);
  const v1 = (n: number) => h.svc.db.prepare(`SELECT hi.first_seen, hi.removed_at FROM host_items hi JOIN items it ON it.id = hi.item_id
    WHERE it.ikey = ? AND json_extract(it.data, '$.version') = '1.0'`).get(`software:windows_registry:machine:Pkg${n}`) as { first_seen: string; removed_at: string | null };
  const firstSeen = v1(3).first_seen;
  t.ok(v1(3).removed_at);
  await new Promise((r) => setTimeout(r, 5));
  t.equal(h.scan('h1', [software('Pkg3', '1.0')], 'delta').removed, 1, 'going back replaces 2.0');
  t.same(v1(3), { first_seen: firstSeen, removed_at: null }, 'held again, first sighting kept');
  t.equal(h.svc.db.prepare('SELECT count(*) FROM host_removed').pluck().get(), 2, 'Pkg3 2.0 and Pkg17 1.0 removed');
});

t.test('delta final confirms held items; full final removes unseen ones', async (t) => {
  const h = await harness(t);
  h.host('h1');
  const a = file('C:/a.dll', 'a'), b = file('C:/b.dll', 'b'), c = file('C:/c.dll', 'c');
  h.scan('h1', [a, b, c]);
  const rows = () => h.svc.db.prepare(`SELECT it.ikey, hi.last_seen, hi.removed_at FROM host_items hi JOIN items it ON it.id = hi.item_id WHERE hi.host_id = 'h1' ORDER BY it.ikey`).all() as Array<{ ikey: string; last_seen: string; removed_at: string | null }>;
  const before = rows();
  await new Promise((r) => setTimeout(r, 5));
  const r = h.scan('h1', [], 'delta', [c.key]);
  t.equal(r.removed, 1);
  const after = rows();
  t.ok(after[0]!.last_seen > before[0]!.last_seen && after[1]!.last_seen > before[1]!.last_seen, 'present items confirmed by the delta final');
  t.equal(after[2]!.last_seen, before[2]!.last_seen, 'removed item keeps its last sighting');
  t.ok(after[2]!.removed_at);
  t.equal(h.scan('h1', [a]).removed, 1, 'full final removes b');
  t.same(rows().map((x) => x.removed_at !== null), [false, true, true]);
});

t.test('a delta confirms with one host row (stored pairs untouched); removal keeps the confirmed sighting', async (t) => {
  const h = await harness(t);
  h.host('h1');
  const a = file('C:/a.dll', 'a'), b = file('C:/b.dll', 'b');
  h.scan('h1', [a, b]);
  const raw = () => h.svc.db.prepare('SELECT item, last_seen, scan FROM host_inv ORDER BY item').all();
  const view = () => h.svc.db.prepare(`SELECT last_seen, removed_at FROM host_items WHERE host_id = 'h1' ORDER BY item_id`).all() as Array<{ last_seen: string; removed_at: string | null }>;
  const stored = raw(), first = view();
  await new Promise((r) => setTimeout(r, 5));
  h.scan('h1', [], 'delta');
  t.same(raw(), stored, 'no pair rewritten by the confirmation');
  const confirmed = new Date(h.svc.db.prepare(`SELECT confirmed_at FROM host_nums WHERE host_id = 'h1'`).pluck().get() as number).toISOString();
  t.ok(confirmed > first[0]!.last_seen);
  t.same(view().map((r) => r.last_seen), [confirmed, confirmed], 'the view shows the confirmation');
  await new Promise((r) => setTimeout(r, 5));
  h.scan('h1', [], 'delta', [b.key]);
  const after = view();
  t.ok(after[1]!.removed_at, 'b removed');
  t.ok(after[1]!.last_seen >= confirmed && after[1]!.last_seen < after[1]!.removed_at!, 'b keeps its last confirmed sighting, before its removal');
});

t.test('a delta that sends a key with new content retires the host\'s older content under that key', async (t) => {
  const h = await harness(t);
  h.host('h1'); h.host('h2');
  const v1 = software('Tool', '1.0'), v2 = software('Tool', '2.0'), other = software('Other', '1.0');
  h.scan('h1', [v1, other]);
  h.scan('h2', [v1]);
  const r = h.scan('h1', [v2], 'delta');
  t.equal(r.removed, 1, 'the old version counted as removed');
  const held = (host: string) => h.svc.db.prepare(`SELECT json_extract(it.data, '$.version') AS v, json_extract(it.data, '$.name') AS n FROM host_items hi
    JOIN items it ON it.id = hi.item_id WHERE hi.host_id = ? AND hi.removed_at IS NULL ORDER BY n, v`).all(host);
  t.same(held('h1'), [{ n: 'Other', v: '1.0' }, { n: 'Tool', v: '2.0' }], 'one current row per key');
  t.same(held('h2'), [{ n: 'Tool', v: '1.0' }], 'other hosts keep their version');
  t.equal(h.scan('h1', [v2], 'delta').removed, 0, 'resending the same content replaces nothing');
});

t.test('a delta with new host facts retires that host\'s previous host item only (by id, not by the shared key)', async (t) => {
  const h = await harness(t);
  for (const id of ['h1', 'h2', 'h3']) { h.host(id); h.scan(id, [hostItem(id, '1.0.0'), software('Tool', '1.0')]); }
  const held = (host: string) => h.svc.db.prepare(`SELECT json_extract(it.data, '$.agent_version') FROM host_items hi JOIN items it ON it.id = hi.item_id
    WHERE hi.host_id = ? AND hi.removed_at IS NULL AND it.kind = 'host'`).pluck().all(host);
  const pointer = (host: string) => h.svc.db.prepare(`SELECT json_extract(it.data, '$.agent_version') FROM host_nums n JOIN items it ON it.id = n.host_item
    WHERE n.host_id = ?`).pluck().get(host);
  t.equal(h.scan('h1', [hostItem('h1', '1.0.0')], 'delta').removed, 0, 'unchanged facts replace nothing');
  t.equal(h.scan('h1', [hostItem('h1', '1.1.0')], 'delta').removed, 1, 'the old host item counted as removed');
  t.same(held('h1'), ['1.1.0'], 'one current host item');
  t.equal(pointer('h1'), '1.1.0');
  t.same([held('h2'), held('h3')], [['1.0.0'], ['1.0.0']], 'other hosts keep theirs');
  t.same(h.svc.db.prepare(`SELECT agent_version FROM hosts WHERE id = 'h1'`).pluck().get(), '1.1.0', 'host facts follow');
  t.equal(h.scan('h2', [hostItem('h2', '1.1.0'), software('Tool', '1.0')]).removed, 1, 'a full scan removes the unseen old host item');
  t.same(held('h2'), ['1.1.0']);
  t.equal(pointer('h2'), '1.1.0');
});

t.test('migration 8 points each host at the host item it holds', async (t) => {
  const db = new Database(':memory:');
  for (let v = 0; v < 7; v++) db.exec(MIGRATIONS[v]!);
  db.pragma('user_version = 7');
  const item = db.prepare(`INSERT INTO items (id, digest, kind, ikey, data) VALUES (?, randomblob(32), ?, ?, '{}')`);
  item.run(1, 'host', 'host'); item.run(2, 'host', 'host'); item.run(3, 'host', 'host'); item.run(4, 'file', 'file:/f');
  db.exec(`INSERT INTO host_nums (num, host_id, scan) VALUES (1, 'h-a', 1), (2, 'h-b', 1), (3, 'h-c', 1)`);
  const pair = db.prepare(`INSERT INTO host_inv (host, item, first_seen, last_seen, removed_at, scan) VALUES (?, ?, 'x', 'x', ?, 1)`);
  pair.run(1, 1, '2026-01-01T00:00:00.000Z'); pair.run(1, 2, null); pair.run(1, 4, null);
  pair.run(2, 3, null); pair.run(3, 4, null);
  migrate(db);
  t.same(db.prepare('SELECT host_id, host_item FROM host_nums ORDER BY num').raw().all(), [['h-a', 2], ['h-b', 3], ['h-c', null]],
    'the held host item, not a removed one; none for a host without one');
});

t.test('indicators pushed after a scan are matched on the next rescan (match cache invalidated)', async (t) => {
  const h = await harness(t);
  h.host('h1');
  const items = [software('SomeTool', '1.0'), file('C:/later.dll', 'later')];
  t.equal(h.scan('h1', items).alerts, 0);
  await h.call('admin', 'POST', '/api/v1/indicators?feed=x', { indicators: [{ id: 'T.Later', type: 'sha256', value: sha('later'), severity: 'high' }] });
  t.equal(h.scan('h1', items).alerts, 1, 'live match after the push');
  await h.call('admin', 'PUT', '/api/v1/feeds/x', { indicators: [{ id: 'T.Other', type: 'sha256', value: sha('other'), severity: 'high' }] });
  t.equal(h.scan('h1', items).alerts, 0, 'replaced feed no longer matches');
});
