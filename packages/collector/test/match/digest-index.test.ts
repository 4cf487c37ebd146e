// DigestIndex against a plain Map as the oracle: random inserts, replacements and deletions
// (deletion by backward shift is the subtle part), fingerprint collisions, growth past the size
// that brings the Bloom filter in, and keys that are not digests.
import t from 'tap';
import { createHash } from 'node:crypto';
import { DigestIndex } from '../../src/match/digest-index.js';

const sha = (s: string, alg = 'sha256') => createHash(alg).update(s).digest('hex');

/** Every key of the oracle is found with its value, and the sizes agree. */
function agrees(ix: DigestIndex<number>, oracle: Map<string, number>, probes: string[]): boolean {
  if (ix.size !== oracle.size) return false;
  for (const k of oracle.keys()) if (ix.get(k) !== oracle.get(k)) return false;
  for (const k of probes) if (!oracle.has(k) && ix.get(k) !== undefined) return false;
  return true;
}

t.test('random inserts, replacements and deletions agree with a Map at every step', async (t) => {
  const ix = new DigestIndex<number>(), oracle = new Map<string, number>();
  // A small key space (lots of re-inserts and deletes of present keys), three digest lengths, thumbprints.
  const space = Array.from({ length: 3000 }, (_, i) => i % 7 === 0 ? sha(`k${i}`, 'sha1') : sha(`k${i}`, i % 3 ? 'sha256' : 'md5'));
  let seed = 12345;
  const rnd = (n: number) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed % n; };
  let disagreements = 0;
  for (let step = 0; step < 60_000; step++) {
    const k = space[rnd(space.length)]!;
    if (rnd(3) === 0) { if (ix.delete(k) !== oracle.delete(k)) disagreements++; }
    else { if (!ix.set(k, step)) disagreements++; oracle.set(k, step); }
    if (step % 1000 === 0 && !agrees(ix, oracle, space)) disagreements++;
  }
  t.equal(disagreements, 0, 'no operation answered differently, no check of the whole key space failed');
  t.ok(agrees(ix, oracle, space), `agrees with the Map after 60,000 operations (${oracle.size} keys held)`);
  for (const k of [...oracle.keys()]) { ix.delete(k); oracle.delete(k); }
  t.equal(ix.size, 0, 'empty after deleting everything');
  t.ok(space.every((k) => ix.get(k) === undefined), 'and nothing is found');
});

t.test('keys sharing the 64-bit fingerprint are told apart by the whole key', async (t) => {
  const ix = new DigestIndex<string>();
  const stem = sha('stem').slice(0, 16);
  const keys = Array.from({ length: 50 }, (_, i) => `${stem}${sha(`tail${i}`).slice(16)}`);
  for (const k of keys) ix.set(k, k.slice(-6));
  t.ok(keys.every((k) => ix.get(k) === k.slice(-6)), 'each colliding key finds its own value');
  t.equal(ix.get(`${stem}${sha('other').slice(16)}`), undefined, 'a key with the same fingerprint that was never stored is absent');
  for (const k of keys.filter((_, i) => i % 2 === 0)) ix.delete(k);
  t.ok(keys.every((k, i) => ix.get(k) === (i % 2 ? k.slice(-6) : undefined)), 'deleting half of a collision run leaves the others reachable');
  t.equal(ix.size, 25);
});

t.test('grows from empty to 1,000,000 keys (the Bloom filter comes in at 786k), every key found, misses stay misses, deletions stay deleted', async (t) => {
  const ix = new DigestIndex<number>();
  const n = 1_000_000;
  const keys = Array.from({ length: n }, (_, i) => sha(`g${i}`, i % 2 ? 'sha1' : 'md5'));
  keys.forEach((k, i) => ix.set(k, i));
  let found = 0, falseHits = 0;
  for (let i = 0; i < n; i++) if (ix.get(keys[i]!) === i) found++;
  for (let i = 0; i < 50_000; i++) if (ix.get(sha(`miss${i}`)) !== undefined) falseHits++;
  t.equal(found, n);
  t.equal(falseHits, 0);
  // Delete two thirds: past the size the filter's stale bits trigger a rebuild; the rest stay found.
  for (let i = 0; i < n; i++) if (i % 3) ix.delete(keys[i]!);
  let wrong = 0;
  for (let i = 0; i < n; i++) if (ix.get(keys[i]!) !== (i % 3 ? undefined : i)) wrong++;
  t.equal(wrong, 0, 'after deleting two thirds, exactly the rest is found');
  t.equal(ix.size, Math.ceil(n / 3));
});

t.test('keys that are not digests are refused, reported as such, and never found', async (t) => {
  const ix = new DigestIndex<number>();
  for (const bad of ['zz'.repeat(32), 'abc', `${'0'.repeat(15)}\u00b0${'0'.repeat(48)}`, `${'a'.repeat(15)}G`]) {
    t.equal(ix.set(bad, 1), false, `set refuses ${JSON.stringify(bad.slice(0, 20))}`);
    t.equal(ix.get(bad), null, 'get says it is not a digest (the caller looks elsewhere)');
    t.equal(ix.delete(bad), false);
  }
  t.equal(ix.size, 0);
  ix.set(sha('u'), 7);
  t.equal(ix.get(sha('u').toUpperCase()), undefined, 'upper-case digits share the fingerprint but not the key: not the same key, as in a Map');
  t.equal(ix.get(sha('u')), 7);
});
