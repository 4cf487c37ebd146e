// DigestIndex against a plain Map as the oracle: random inserts, replacements and deletions
// (deletion by backward shift is the subtle part), fingerprint collisions, growth, and keys
// that are not digests.
import t from 'tap';
import { createHash } from 'node:crypto';
import { DigestIndex, digestOffset } from '../../src/match/digest-index.js';

const sha = (s: string, alg = 'sha256') => createHash(alg).update(s).digest('hex');

/** Every key of the oracle is found with its value, and the sizes agree. */
function agrees(ix: DigestIndex<number>, oracle: Map<string, number>, probes: string[]): boolean {
  if (ix.size !== oracle.size) return false;
  for (const k of oracle.keys()) if (ix.get(k, digestOffset(k)) !== oracle.get(k)) return false;
  for (const k of probes) if (!oracle.has(k) && ix.get(k, digestOffset(k)) !== undefined) return false;
  return true;
}

t.test('digestOffset takes hash and thumbprint keys long enough for a fingerprint, nothing else', async (t) => {
  t.equal(digestOffset(`h:${sha('a')}`), 2);
  t.equal(digestOffset(`h:${sha('a', 'md5')}`), 2);
  t.equal(digestOffset(`thumb:${sha('a', 'sha1')}`), 6);
  t.equal(digestOffset('h:abc'), -1, 'too short');
  t.equal(digestOffset('fn:setup.exe'), -1);
  t.equal(digestOffset(`serial:${sha('a')}`), -1);
  t.equal(digestOffset(`sw:${'a'.repeat(40)}`), -1);
});

t.test('random inserts, replacements and deletions agree with a Map at every step', async (t) => {
  const ix = new DigestIndex<number>(), oracle = new Map<string, number>();
  // A small key space (lots of re-inserts and deletes of present keys), three digest lengths, thumbprints.
  const space = Array.from({ length: 3000 }, (_, i) => i % 7 === 0 ? `thumb:${sha(`k${i}`, 'sha1')}` : `h:${sha(`k${i}`, i % 3 ? 'sha256' : 'md5')}`);
  let seed = 12345;
  const rnd = (n: number) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed % n; };
  let disagreements = 0;
  for (let step = 0; step < 60_000; step++) {
    const k = space[rnd(space.length)]!;
    if (rnd(3) === 0) { if (ix.delete(k, digestOffset(k)) !== oracle.delete(k)) disagreements++; }
    else { if (!ix.set(k, digestOffset(k), step)) disagreements++; oracle.set(k, step); }
    if (step % 1000 === 0 && !agrees(ix, oracle, space)) disagreements++;
  }
  t.equal(disagreements, 0, 'no operation answered differently, no check of the whole key space failed');
  t.ok(agrees(ix, oracle, space), `agrees with the Map after 60,000 operations (${oracle.size} keys held)`);
  for (const k of [...oracle.keys()]) { ix.delete(k, digestOffset(k)); oracle.delete(k); }
  t.equal(ix.size, 0, 'empty after deleting everything');
  t.ok(space.every((k) => ix.get(k, digestOffset(k)) === undefined), 'and nothing is found');
});

t.test('keys sharing the 64-bit fingerprint are told apart by the whole key', async (t) => {
  const ix = new DigestIndex<string>();
  const stem = sha('stem').slice(0, 16);
  const keys = Array.from({ length: 50 }, (_, i) => `h:${stem}${sha(`tail${i}`).slice(16)}`);
  for (const k of keys) ix.set(k, 2, k.slice(-6));
  t.ok(keys.every((k) => ix.get(k, 2) === k.slice(-6)), 'each colliding key finds its own value');
  t.equal(ix.get(`h:${stem}${sha('other').slice(16)}`, 2), undefined, 'a key with the same fingerprint that was never stored is absent');
  for (const k of keys.filter((_, i) => i % 2 === 0)) ix.delete(k, 2);
  t.ok(keys.every((k, i) => ix.get(k, 2) === (i % 2 ? k.slice(-6) : undefined)), 'deleting half of a collision run leaves the others reachable');
  t.equal(ix.size, 25);
});

t.test('grows from empty to 200,000 keys, every key found, misses stay misses', async (t) => {
  const ix = new DigestIndex<number>();
  const n = 200_000;
  for (let i = 0; i < n; i++) ix.set(`h:${sha(`g${i}`)}`, 2, i);
  let found = 0, falseHits = 0;
  for (let i = 0; i < n; i++) if (ix.get(`h:${sha(`g${i}`)}`, 2) === i) found++;
  for (let i = 0; i < 20_000; i++) if (ix.get(`h:${sha(`miss${i}`)}`, 2) !== undefined) falseHits++;
  t.equal(found, n);
  t.equal(falseHits, 0);
});

t.test('keys whose digits are not hex are refused, reported as such, and never found', async (t) => {
  const ix = new DigestIndex<number>();
  const bad = `h:${'zz'.repeat(32)}`;
  t.equal(ix.set(bad, 2, 1), false, 'set refuses it');
  t.equal(ix.get(bad, 2), null, 'get says it is not a digest (the caller looks elsewhere)');
  t.equal(ix.delete(bad, 2), false);
  t.equal(ix.size, 0);
  const upper = `h:${sha('u').toUpperCase()}`;
  ix.set(`h:${sha('u')}`, 2, 7);
  t.equal(ix.get(upper, 2), undefined, 'upper-case digits share the fingerprint but not the key: not the same key, as in a Map');
});
