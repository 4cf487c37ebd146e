// MISP core format (draft-dulaunoy-misp-core-format): single event, list, REST response and
// feed (manifest + <uuid>.json) layouts, generated from the bundled feed's facts.
import t from 'tap';
import { parseMisp, parseMispFeed } from '../../src/feeds/misp.js';
import { parseIndicators } from '../../src/feeds/detect.js';
import { first, byType } from '../fixtures/feeds.js';

const sha256 = first('sha256').value!;
const sha1 = first('sha1').value!;
const md5 = first('md5').value!;
const thumb = first('cert_thumbprint').value!;
const domain = byType('domain')[0]!.value!;
const u = (n: number) => `5f0e0000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const attr = (n: number, type: string, value: string, to_ids: unknown = true, extra: Record<string, unknown> = {}) =>
  ({ uuid: u(n), type, category: 'Payload delivery', value, to_ids, ...extra });

const event = (n: number, level: string, attrs: unknown[], objects: unknown[] = []) => ({
  Event: {
    uuid: u(1000 + n), info: `3CX supply chain compromise ${n}`, threat_level_id: level, analysis: '2', date: '2023-03-30',
    Orgc: { name: 'CIRCL' }, Tag: [{ name: 'tlp:white' }, { name: 'misp-galaxy:threat-actor="UNC4736"' }],
    Attribute: attrs, Object: objects,
  },
});

const ev1 = event(1, '1', [
  attr(1, 'sha256', sha256.toUpperCase(), true, { comment: '3cxdesktopapp-18.12.407.msi' }),
  attr(2, 'filename|sha1', `3CXDesktopApp.exe|${sha1}`, '1'),
  attr(3, 'md5', md5, false),
  attr(4, 'domain', domain),
  attr(5, 'hostname', 'raw.githubusercontent.com', '0'),
  attr(6, 'x509-fingerprint-sha256', thumb),
  attr(7, 'x509-fingerprint-md5', md5),
  attr(8, 'ip-dst', '1.2.3.4'),
  attr(9, 'filename', 'X_TRADER_r7.17.90p608.exe'),
  attr(10, 'domain|ip', `${domain}|1.2.3.4`),
  attr(11, 'sha256', 'tooshort'),
  attr(12, 'sha1', sha1, true, { deleted: true }),
], [
  { name: 'file', Attribute: [attr(20, 'filename', 'ffmpeg.dll', false), attr(21, 'md5', md5, true)] },
]);

t.test('single event', async (t) => {
  const r = parseIndicators(JSON.stringify(ev1));
  t.equal(r.format, 'misp');
  t.same(r.indicators.map((i) => [i.type, i.value]), [
    ['sha256', sha256], ['sha1', sha1], ['domain', domain], ['cert_thumbprint', thumb],
    ['filename', 'X_TRADER_r7.17.90p608.exe'], ['domain', domain], ['md5', md5],
  ]);
  t.match(r.indicators[0], {
    id: `MISP.${u(1)}`, severity: 'high', reference: `misp:event/${u(1001)}`, source: 'MISP (CIRCL)',
    description: '3CX supply chain compromise 1 — 3cxdesktopapp-18.12.407.msi', tags: ['tlp:white', 'misp-galaxy:threat-actor="UNC4736"'],
  });
  t.equal(r.indicators[1]!.file_name, '3CXDesktopApp.exe', 'filename|sha1 keeps the name');
  t.equal(r.indicators[6]!.file_name, 'ffmpeg.dll', 'file object name is context for its hashes');
  const why = Object.fromEntries(r.rejected.map((x) => [x.id, x.reason]));
  t.match(why[`MISP.${u(3)}`], /to_ids is false/);
  t.match(why[`MISP.${u(5)}`], /to_ids is false/);
  t.match(why[`MISP.${u(20)}`], /to_ids is false/);
  t.match(why[`MISP.${u(7)}`], /MD5 thumbprint/);
  t.match(why[`MISP.${u(8)}`], /ip-dst/);
  t.match(why[`MISP.${u(11)}`], /64 hex/);
  t.match(why[`MISP.${u(12)}`], /deleted/);
  t.equal(r.rejected.filter((x) => /to_ids is false/.test(x.reason)).length, 3, 'skipped count');
});

t.test('threat levels, lists and REST responses', async (t) => {
  const evs = ['1', '2', '3', '4'].map((lvl, i) => event(10 + i, lvl, [attr(100 + i, 'domain', domain)]));
  const list = parseMisp(evs)!;
  t.same(list.indicators.map((i) => i.severity), ['high', 'medium', 'low', 'high']);
  const rest = parseIndicators(JSON.stringify({ response: evs }));
  t.equal(rest.format, 'misp');
  t.equal(rest.indicators.length, 4);
});

t.test('feed layout: manifest + event files', async (t) => {
  const e2 = event(2, '2', [attr(30, 'sha256', sha256)]);
  const manifest = {
    [u(1001)]: { info: ev1.Event.info, threat_level_id: '1', timestamp: '1680000000', Orgc: { name: 'CIRCL' } },
    [u(1002)]: { info: e2.Event.info, threat_level_id: '2', timestamp: '1680000000' },
    [u(1003)]: { info: 'missing file', threat_level_id: '3', timestamp: '1680000000' },
  };
  const files: Record<string, string> = { [`${u(1001)}.json`]: JSON.stringify(ev1), [`${u(1002)}.json`]: JSON.stringify(e2) };
  const read = (uuid: string) => { const f = files[`${uuid}.json`]; return f ? JSON.parse(f) as unknown : undefined; };
  const r = parseMispFeed(manifest, read)!;
  t.equal(r.indicators.length, 8);
  t.match(r.rejected.find((x) => x.id === u(1003))?.reason, /missing/);
  t.throws(() => parseIndicators(JSON.stringify(manifest)), { name: 'FeedError', code: 'CW_FEED_MISP_MANIFEST' });
});
