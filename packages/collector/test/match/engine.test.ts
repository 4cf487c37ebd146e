// The matcher's key routing: hash and thumbprint keys live in the DigestIndex, every other key in
// a Map; an indicator is found, shares its key with others, is replaced and removed the same way
// whichever store holds it.
import t from 'tap';
import type { IndicatorInput } from '@chainwatch/shared';
import { compile, Matcher } from '../../src/match/engine.js';
import { normalizeIndicator } from '../../src/match/indicator.js';
import { cert, certificate, file, software, sha } from '../fixtures/harness.js';

const ind = (input: IndicatorInput) => {
  const r = normalizeIndicator(input, 'test');
  if (!r.ok) throw new TypeError(r.reason);
  return compile(r.indicator);
};
const ids = (m: Matcher, item: Parameters<Matcher['match']>[0]) => m.match(item).map((i) => i.id).sort();

t.test('every kind of key is found: file hashes of each length, name, software, serial and thumbprint', async (t) => {
  const m = new Matcher();
  const f = file('C:/Users/x/Downloads/X_TRADER_r7.17.90p608.exe', 'trojanized installer');
  const c = cert('Trading Technologies', '9b:e8:1f:00');
  for (const input of [
    { id: 'H256', type: 'sha256', value: f.sha256 }, { id: 'H1', type: 'sha1', value: f.sha1!.toUpperCase() }, { id: 'H5', type: 'md5', value: f.md5 },
    { id: 'FN', type: 'filename', value: 'x_trader_r7.17.90p608.exe' },
    { id: 'SW', type: 'software', name: 'X_TRADER', version_range: '<7.18' },
    { id: 'SER', type: 'cert_serial', value: '9BE81F00' }, { id: 'THUMB', type: 'cert_thumbprint', value: c.sha256 },
  ] as IndicatorInput[]) m.add(ind(input));
  t.equal(m.size, 7);
  t.same(ids(m, f), ['FN', 'H1', 'H256', 'H5'], 'a file hits on each of its hashes (any case in the feed) and its name');
  t.same(ids(m, software('X_TRADER', '7.17.90')), ['SW']);
  t.same(ids(m, software('X_TRADER', '7.18.1')), [], 'outside the range');
  t.same(ids(m, certificate('/etc/ssl/tt.pem', c, { privateKey: false })).filter((i) => !i.startsWith('builtin')), ['SER', 'THUMB'], 'a certificate hits on serial and thumbprint');
  t.same(ids(m, file('C:/other.exe', 'other')), [], 'nothing else hits');
});

t.test('indicators sharing a hash are all reported; removing them one by one, and replacing one, keeps the rest', async (t) => {
  const m = new Matcher();
  const f = file('/usr/bin/tool', 'tool');
  m.add(ind({ id: 'A', type: 'sha256', value: f.sha256 }));
  m.add(ind({ id: 'B', type: 'sha256', value: f.sha256 }));
  m.add(ind({ id: 'C', type: 'sha256', value: f.sha256, severity: 'low' }));
  t.same(ids(m, f), ['A', 'B', 'C']);
  m.remove('B');
  t.same(ids(m, f), ['A', 'C']);
  m.add(ind({ id: 'A', type: 'sha256', value: sha('something else') }));
  t.same(ids(m, f), ['C'], 'A now names another hash');
  t.same(ids(m, file('/x', 'something else')), ['A']);
  m.remove('C');
  t.same(ids(m, f), [], 'the last one removed: the key is gone');
  t.equal(m.size, 1);
});

t.test('100,000 hash indicators added then half removed: exactly the remaining half still hit', async (t) => {
  const m = new Matcher();
  const n = 100_000;
  for (let i = 0; i < n; i++) m.add(ind({ id: `I${i}`, type: i % 2 ? 'sha256' : 'md5', value: sha(`c${i}`, i % 2 ? 'sha256' : 'md5') }));
  for (let i = 0; i < n; i += 3) m.remove(`I${i}`);
  let wrong = 0;
  for (let i = 0; i < n; i++) {
    const hits = m.match({ kind: 'file', key: `file:/f${i}`, path: `/f${i}`, size: 1, sha256: sha(`c${i}`), md5: sha(`c${i}`, 'md5') });
    const want = i % 3 === 0 ? [] : [`I${i}`];
    if (hits.map((h) => h.id).join() !== want.join()) wrong++;
  }
  t.equal(wrong, 0, 'no item hit wrongly or missed');
  t.equal(m.size, n - Math.ceil(n / 3));
});
