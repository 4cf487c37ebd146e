// Format detection, bounds and garbage handling of parseIndicators, plus the own JSON
// format's semantic checks (feeds/json.ts).
import t from 'tap';
import { parseIndicators } from '../../src/feeds/detect.js';
import { checkIndicator } from '../../src/feeds/json.js';
import { FeedError, FeedErrorCodes, type FeedErrorCode } from '../../src/feeds/errors.js';
import { first } from '../fixtures/feeds.js';

const sha256 = first('sha256').value!;

t.test('error registry: every key is its code', async (t) => {
  for (const k of Object.keys(FeedErrorCodes) as FeedErrorCode[]) {
    const e = new FeedError(k, 'x');
    t.equal(e.code, k);
    t.match(k, /^CW_FEED_[A-Z_]+$/);
    t.equal(e.name, 'FeedError');
  }
});

t.test('detects each format', async (t) => {
  t.equal(parseIndicators(JSON.stringify({ indicators: [{ type: 'sha256', value: sha256 }] })).format, 'json');
  t.equal(parseIndicators(JSON.stringify([{ type: 'sha256', value: sha256 }])).format, 'json');
  t.equal(parseIndicators(JSON.stringify({ type: 'bundle', id: 'bundle--1', objects: [] })).format, 'stix');
  t.equal(parseIndicators(JSON.stringify({ Event: { info: 'x', Attribute: [] } })).format, 'misp');
  t.equal(parseIndicators(`sha256\n${sha256}\n`).format, 'csv');
  t.equal(parseIndicators(`\uFEFF{"indicators": []}`).format, 'json', 'BOM before JSON');
});

t.test('explicit format is enforced', async (t) => {
  t.throws(() => parseIndicators('{"indicators": []}', 'stix'), { name: 'FeedError', code: 'CW_FEED_BAD_FORMAT' });
  t.throws(() => parseIndicators('{"type":"bundle","objects":[]}', 'misp'), { name: 'FeedError', code: 'CW_FEED_BAD_FORMAT' });
  t.equal(parseIndicators(`sha256\n${sha256}\n`, 'csv').indicators.length, 1);
});

t.test('garbage and limits', async (t) => {
  t.throws(() => parseIndicators('{"indicators": [', undefined), { name: 'FeedError', code: 'CW_FEED_BAD_JSON' });
  t.throws(() => parseIndicators('\u0000\u0001 binary junk'), { name: 'FeedError', code: 'CW_FEED_UNKNOWN_FORMAT' });
  t.throws(() => parseIndicators('just some words'), { name: 'FeedError', code: 'CW_FEED_UNKNOWN_FORMAT' });
  t.throws(() => parseIndicators('{"hello": "world"}'), { name: 'FeedError', code: 'CW_FEED_UNKNOWN_FORMAT' });
  t.throws(() => parseIndicators('42'), { name: 'FeedError', code: 'CW_FEED_UNKNOWN_FORMAT' });
  t.throws(() => parseIndicators('['.repeat(100) + ']'.repeat(100)), { name: 'FeedError', code: 'CW_FEED_BAD_JSON' });
  t.throws(() => parseIndicators('x'.repeat(1001), undefined, { maxChars: 1000 }), { name: 'FeedError', code: 'CW_FEED_TOO_LARGE' });
});

t.test('own-format semantic checks', async (t) => {
  const ok = (raw: unknown) => { const r = checkIndicator(raw); return r.ok ? r.value : r.reason; };
  t.match(ok({ type: 'sha256', value: sha256.toUpperCase() }), { value: sha256 }, 'hex canonicalised');
  t.match(ok({ type: 'sha256', value: sha256.slice(1) }), /64 hex/);
  t.match(ok({ type: 'md5', value: sha256 }), /32 hex/);
  t.match(ok({ type: 'cert_thumbprint', value: 'ab'.repeat(16) }), /40 or 64/);
  t.match(ok({ type: 'cert_serial', value: '85:38:a6:c5:01:8f:50:fc' }), { value: '85:38:a6:c5:01:8f:50:fc' }, 'serial kept as written');
  t.match(ok({ type: 'cert_serial', value: 'zz:01' }), /not hex/);
  t.match(ok({ type: 'software', version: '1.0' }), /needs name or product/);
  t.match(ok({ type: 'software', product: '3CX Desktop App', version_range: '>=1 <' }), /version_range/);
  t.match(ok({ type: 'software', name: 'x', versions: [] }), /empty/);
  t.match(ok({ type: 'domain', value: 'MSStorageAzure.COM.' }), { value: 'msstorageazure.com' });
  t.match(ok({ type: 'domain', value: 'http://x.com/' }), /not a domain/);
  t.match(ok({ type: 'signer', value: '  ' }), /needs a value/);
  t.match(ok({ type: 'sha256', value: sha256, verison: '1' }), /unknown property verison/);
  t.match(ok({ type: 'sha256', value: sha256, id: 'bad id with spaces' }), /id/);
  t.match(ok({ type: 'nope', value: 'x' }), /type/);
  t.match(ok({ type: 'sha256', value: sha256, valid_from: 'yesterday' }), /valid_from/);
  t.match(ok('str'), /not an object/);
  const r = parseIndicators(JSON.stringify({ feed: 'mine', indicators: [{ id: 'A.B', type: 'sha256', value: 'x' }, { type: 'domain', value: 'ok.com' }] }));
  t.equal(r.feed, 'mine');
  t.same(r.rejected.map((x) => [x.index, x.id]), [[0, 'A.B']]);
});
