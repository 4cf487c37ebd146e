// OwnedFiles must answer exactly as the Map<string, string> it replaced (first owner wins,
// insertion order), here over this host's real dpkg file lists and over awkward names.
import t, { type Test } from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { OwnedFiles } from '../src/owned-files.js';
import { createScanContext } from '../src/scan-context.js';
import { pino } from 'pino';

const INFO = '/var/lib/dpkg/info';

/** Every line of every .list on this host, with its package as owner, in directory order. */
function hostLists(): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const f of readdirSync(INFO).filter((n) => n.endsWith('.list')).sort()) {
    const owner = `dpkg:${f.slice(0, -5).split(':')[0]}`;
    for (const line of readFileSync(`${INFO}/${f}`, 'utf8').split('\n')) if (line) out.push([line, owner]);
  }
  return out;
}

/** The old semantics, written out. */
function asMap(pairs: Iterable<readonly [string, string]>): Map<string, string> {
  const m = new Map<string, string>();
  for (const [p, o] of pairs) if (!m.has(p)) m.set(p, o);
  return m;
}

function sameAsMap(t: Test, owned: OwnedFiles, map: Map<string, string>, probes: string[]): void {
  t.equal(owned.size, map.size, 'size');
  t.same([...owned], [...map], 'entries, in insertion order');
  let wrong = 0;
  for (const [p, o] of map) if (!owned.has(p) || owned.get(p) !== o) wrong++;
  for (const p of probes) if (owned.has(p) !== map.has(p) || owned.get(p) !== map.get(p)) wrong++;
  t.equal(wrong, 0, `has/get agree on ${map.size} members and ${probes.length} probes`);
}

t.test('this host\'s dpkg lists: same answers as the Map', { skip: !safeExists(INFO) && 'no dpkg here' }, async (t) => {
  const pairs = hostLists();
  t.ok(pairs.length > 10_000, `${pairs.length} listed paths`);
  const map = asMap(pairs);
  const owned = new OwnedFiles();
  let added = 0;
  for (const [p, o] of pairs) if (owned.add(p, o)) added++;
  t.equal(added, map.size, 'add() reports new paths only');
  // Near misses: a longer name, a shorter one, a sibling directory, a trailing slash.
  const probes = [...map.keys()].filter((_, i) => i % 7 === 0).flatMap((p) => [p + 'x', p.slice(0, -1), p.replace(/\/([^/]*)$/, '/x/$1'), p + '/']);
  sameAsMap(t, owned, map, probes);
});

t.test('awkward paths', async (t) => {
  const pairs: Array<[string, string]> = [
    ['/usr/bin/ls', 'a'], ['/usr/bin/ls', 'b'], ['relative-name', 'a'], ['', 'a'], ['/', 'a'], ['/x', 'a'],
    ['/usr/share/doc/ünïcödé/ファイル.txt', 'c'], ['/usr/share/doc/ünïcödé', 'c'], ['/a//b', 'a'], ['/a/b/', 'a'],
    ['/emoji/😀.txt', 'd'], ['/usr/bin/ls2', 'b'], ['dir/sub/name', 'e'], ['/' + 'n'.repeat(5000), 'f'],
  ];
  const owned = OwnedFiles.from(pairs);
  sameAsMap(t, owned, asMap(pairs), ['/usr/bin', '/usr/bin/', 'relative', '/y', '/emoji/😀', '/a/b', 'dir/sub', '/usr/share/doc/ünïcödé/']);
  t.equal(owned.pathAt(0), '/usr/bin/ls');
  t.equal(owned.ownerAt(0), 'a', 'first owner wins');
});

t.test('grows past its starting capacity', async (t) => {
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i < 50_000; i++) pairs.push([`/d${i % 300}/f${i}-${'z'.repeat(i % 40)}`, `pkg${i % 17}`]);
  sameAsMap(t, OwnedFiles.from(pairs), asMap(pairs), ['/d1/f1', '/d299/f0', '/d0/f0-']);
});

t.test('a scan context takes a Map (benches, tests) or an OwnedFiles as it is', async (t) => {
  const log = pino({ level: 'silent' });
  const fromMap = createScanContext({ log, owned: new Map([['/a', 'x'], ['/b', 'y']]) });
  t.same([...fromMap.owned], [['/a', 'x'], ['/b', 'y']]);
  const owned = new OwnedFiles();
  t.equal(createScanContext({ log, owned }).owned, owned);
  t.equal(createScanContext({ log }).owned.size, 0);
});

function safeExists(p: string): boolean {
  try { readdirSync(p); return true; } catch { return false; }
}
