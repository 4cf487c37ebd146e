// Spec: packages/agent/src/signing/catalog-index.ts
// The compact member index must answer exactly as a Map of hex digests would (the index it
// replaced): first catalog wins, lookups in either case, digest lengths kept apart, growth
// through many rehashes, and about 28 bytes per member instead of ~170.
import t from 'tap';
import v8 from 'node:v8';
import vm from 'node:vm';
import { randomBytes } from 'node:crypto';
import { CatalogIndex, type CatalogVerdict } from '../../src/signing/catalog-index.js';

const cat = (path: string): CatalogVerdict => ({ path, judged: { verdict: 'valid', reason: path, info: null } });

t.test('answers as a Map of hex digests would', async (t) => {
  const index = new CatalogIndex();
  const reference = new Map<string, string>();
  const all: string[] = [];
  for (let c = 0; c < 40; c++) {
    // Overlapping member lists: every catalog repeats a few digests of the one before.
    const members = [...Array.from({ length: 2500 }, (_, i) => randomBytes(i % 3 === 0 ? 20 : 32).toString('hex')), ...all.slice(-10)];
    index.add(cat(`c${c}.cat`), members);
    for (const m of members) if (!reference.has(m)) reference.set(m, `c${c}.cat`);
    all.push(...members);
  }
  t.equal(index.size, reference.size, 'one entry per distinct digest');
  let wrong = 0;
  for (const [hex, path] of reference) {
    if (index.get(hex)?.path !== path) wrong++;
    if (index.get(hex.toUpperCase())?.path !== path) wrong++;
  }
  t.equal(wrong, 0, 'every digest finds the first catalog that listed it, in either case');
  let found = 0;
  for (let i = 0; i < 20000; i++) if (index.get(randomBytes(i % 2 ? 20 : 32).toString('hex'))) found++;
  t.equal(found, 0, 'unlisted digests are not found');
});

t.test('digest lengths are apart; text that is not a digest is ignored', async (t) => {
  const index = new CatalogIndex();
  const sha256 = randomBytes(32).toString('hex');
  index.add(cat('a.cat'), [sha256, 'not hex at all', 'abc', '']);
  t.equal(index.size, 1);
  t.equal(index.get(sha256)?.path, 'a.cat');
  t.equal(index.get(sha256.slice(0, 40)), undefined, 'a SHA-1-long prefix of a SHA-256 is another digest');
  t.equal(index.get('zz'.repeat(32)), undefined);
});

t.test('a million members fit in a few tens of MB', async (t) => {
  // Collected before each reading: the member lists built here are garbage once added, and
  // counting them made this check fail whenever the GC had not run yet.
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const settle = async (): Promise<NodeJS.MemoryUsage> => { gc(); await new Promise((r) => setImmediate(r)); gc(); return process.memoryUsage(); };
  const before = await settle();
  const index = new CatalogIndex();
  const probe: string[] = [];
  for (let c = 0; c < 400; c++) {
    const members = Array.from({ length: 2500 }, (_, i) => randomBytes(i % 2 ? 20 : 32).toString('hex'));
    probe.push(members[c % 2500]!);
    index.add(cat(`c${c}.cat`), members);
  }
  const after = await settle();
  const grew = (after.heapUsed - before.heapUsed) + (after.arrayBuffers - before.arrayBuffers);
  t.equal(index.size, 1_000_000);
  t.ok(probe.every((hex, c) => index.get(hex)?.path === `c${c}.cat`), 'sampled members found');
  t.ok(grew < 40 * 1024 * 1024, `index of 1M members grew the heap and buffers by ${(grew / 1048576).toFixed(1)} MiB`);
});
