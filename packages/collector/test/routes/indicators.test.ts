// Pushing indicators through the API in every format (STIX 2.1, MISP, CSV, own JSON) down to an
// alert; idempotent re-push; per-indicator rejections with reasons; feed replace retiring
// indicators (their open alerts say so); retro-hunt over inventory stored before the push;
// roles (only admins push).
import t from 'tap';
import { harness, software, file, sha, signature, cert } from '../fixtures/harness.js';

const h1 = sha('payload-1'), h2 = sha('payload-2'), h3 = sha('payload-3'), h4 = sha('payload-4');

const stix = {
  type: 'bundle', id: 'bundle--7a3c0b8e-1c8f-4a4e-9d7e-000000000001', objects: [
    { type: 'indicator', spec_version: '2.1', id: 'indicator--7a3c0b8e-1c8f-4a4e-9d7e-000000000002', created: '2023-03-30T00:00:00Z', modified: '2023-03-30T00:00:00Z',
      name: 'Trojanized DLL', pattern: `[file:hashes.'SHA-256' = '${h1}']`, pattern_type: 'stix', valid_from: '2023-03-30T00:00:00Z', indicator_types: ['malicious-activity'] },
  ],
};
const misp = { Event: { info: '3CX', uuid: '5f0c7f3e-0000-4000-8000-000000000001', Attribute: [
  { type: 'sha256', value: h2, to_ids: true, uuid: '5f0c7f3e-0000-4000-8000-000000000002', category: 'Payload delivery' },
] } };
const csv = `type,value,severity,description\nsha256,${h3},critical,from csv\n`;
const own = { indicators: [{ id: 'Own.Hash', type: 'sha256', value: h4.toUpperCase(), severity: 'high', description: 'own format', reference: 'https://example.invalid/r', tags: ['t1'], valid_from: '2023-01-01', valid_until: '2099-01-01' }] };

t.test('every format pushed through the API ends in an alert', async (t) => {
  const h = await harness(t);
  for (const [fmt, body] of [['stix', stix], ['misp', misp], ['csv', csv], ['json', own]] as const) {
    const r = await h.call('admin', 'POST', `/api/v1/indicators?feed=${fmt}-feed&format=${fmt}`, body);
    t.equal(r.status, 200, `${fmt}: ${r.body}`);
    t.match(r.json, { added: 1, rejected: 0 }, fmt);
  }
  h.host('w1', 'desk-1');
  h.scan('w1', [file('C:/a.dll', 'payload-1'), file('C:/b.dll', 'payload-2'), file('C:/c.dll', 'payload-3'), file('C:/d.dll', 'payload-4'), file('C:/ok.dll', 'fine')]);
  const alerts = (await h.call('viewer', 'GET', '/api/v1/alerts')).json.items;
  t.same(alerts.map((a: any) => [a.item.path, a.indicator.feed]).sort(), [
    ['C:/a.dll', 'stix-feed'], ['C:/b.dll', 'misp-feed'], ['C:/c.dll', 'csv-feed'], ['C:/d.dll', 'json-feed'],
  ]);
  const ind = (await h.call('viewer', 'GET', '/api/v1/indicators?feed=json-feed')).json.items[0];
  t.match(ind, { id: 'Own.Hash', type: 'sha256', value: h4, severity: 'high', description: 'own format', reference: 'https://example.invalid/r',
    feed: 'json-feed', tags: ['t1'], valid_from: '2023-01-01T00:00:00.000Z', valid_until: '2099-01-01T00:00:00.000Z', retired: false });
  t.ok(Date.parse(ind.created) && Date.parse(ind.updated), 'created/updated stored');
  const s = (await h.call('viewer', 'GET', '/api/v1/indicators?feed=stix-feed')).json.items[0];
  t.equal(s.id, 'indicator--7a3c0b8e-1c8f-4a4e-9d7e-000000000002', 'STIX id kept');
  t.match(s.description, /Trojanized DLL/);
});

t.test('bulk push is idempotent and explains each rejection', async (t) => {
  const h = await harness(t);
  const doc = { indicators: [
    { id: 'A', type: 'sha256', value: h1 },
    { id: 'B', type: 'sha256', value: 'nothex' },
    { id: 'C', type: 'software', name: 'X_TRADER' },
    { id: 'D', type: 'cert_serial', value: '00:AB:cd:01' },
    { id: 'E', type: 'sha1', value: h1, verison: '1' },
  ] };
  const r1 = await h.call('admin', 'POST', '/api/v1/indicators', doc);
  t.match(r1.json, { added: 2, updated: 0, unchanged: 0, rejected: 3 });
  t.same(r1.json.rejections.map((x: any) => [x.index, x.id]), [[1, 'B'], [2, 'C'], [4, 'E']]);
  t.match(r1.json.rejections[0].reason, /64 hex/);
  t.match(r1.json.rejections[1].reason, /version, versions or version_range/);
  t.match(r1.json.rejections[2].reason, /unknown property verison/);
  const serial = (await h.call('viewer', 'GET', '/api/v1/indicators?type=cert_serial')).json.items[0];
  t.equal(serial.value, 'abcd01', 'serial normalised on the way in (normalizeSerial)');
  const r2 = await h.call('admin', 'POST', '/api/v1/indicators', doc);
  t.match(r2.json, { added: 0, updated: 0, unchanged: 2, rejected: 3 }, 'same document twice: unchanged');
  const r3 = await h.call('admin', 'POST', '/api/v1/indicators', { indicators: [{ id: 'A', type: 'sha256', value: h1, severity: 'low' }] });
  t.match(r3.json, { added: 0, updated: 1, unchanged: 0 });
  const bad = await h.call('admin', 'POST', '/api/v1/indicators', 'this is not a feed at all');
  t.equal(bad.status, 400);
  t.equal(bad.json.code, 'CW_FEED_INVALID');
});

t.test('a serial written with colons matches the agent-reported signer serial', async (t) => {
  const h = await harness(t);
  await h.call('admin', 'POST', '/api/v1/indicators', { indicators: [{ id: 'Ser', type: 'cert_serial', value: '0x00:0A:BC:DE' }] });
  h.host('w1');
  h.scan('w1', [signature('C:/s.exe', 'valid', cert('Evil', '0abcde'))]);
  const a = (await h.call('viewer', 'GET', '/api/v1/alerts?indicator=Ser')).json.items;
  t.equal(a.length, 1);
});

t.test('replacing a feed retires what it no longer lists; their open alerts say so', async (t) => {
  const h = await harness(t);
  const feed = { indicators: [{ id: 'F.One', type: 'sha256', value: h1 }, { id: 'F.Two', type: 'sha256', value: h2 }] };
  t.match((await h.call('admin', 'PUT', '/api/v1/feeds/vendor', feed)).json, { added: 2, retired: 0 });
  h.host('w1');
  h.scan('w1', [file('C:/a.dll', 'payload-1'), file('C:/b.dll', 'payload-2')]);
  const r = await h.call('admin', 'PUT', '/api/v1/feeds/vendor', { indicators: [{ id: 'F.One', type: 'sha256', value: h1 }, { id: 'F.Three', type: 'sha256', value: h3 }] });
  t.match(r.json, { added: 1, updated: 0, unchanged: 1, retired: 1 });
  const alerts = (await h.call('viewer', 'GET', '/api/v1/alerts')).json.items;
  t.same(alerts.map((a: any) => [a.indicator.id, a.indicator.retired, a.status]).sort(), [['F.One', false, 'open'], ['F.Two', true, 'open']]);
  const feeds = (await h.call('viewer', 'GET', '/api/v1/feeds')).json.items.find((f: any) => f.name === 'vendor');
  t.match(feeds, { active: 2, retired: 1 });
  h.scan('w1', [file('C:/b.dll', 'payload-2'), file('C:/c.dll', 'payload-3')]);
  const now = (await h.call('viewer', 'GET', '/api/v1/alerts')).json.items.map((a: any) => a.indicator.id).sort();
  t.same(now, ['F.One', 'F.Three', 'F.Two'], 'retired indicator no longer matches new sightings; the new one does');
  const two = (await h.call('viewer', 'GET', '/api/v1/alerts?indicator=F.Two')).json.items[0];
  t.equal(two.indicator.retired, true);
  const all = (await h.call('viewer', 'GET', '/api/v1/indicators?feed=vendor&include_retired=true')).json.items;
  t.same(all.map((i: any) => [i.id, i.retired]), [['F.One', false], ['F.Three', false], ['F.Two', true]]);
});

t.test('retro-hunt: inventory first, indicator later → retro alert with the earlier first-seen', async (t) => {
  const h = await harness(t);
  h.host('w1', 'old-desk');
  h.scan('w1', [software('X_TRADER', '7.17.90p608'), file('C:/tt/setup.exe', 'payload-1')]);
  h.scan('w1', [software('X_TRADER', '7.17.90p608')]);
  await new Promise((r) => setTimeout(r, 10));
  const push = await h.call('admin', 'POST', '/api/v1/indicators?feed=late', { indicators: [
    { id: 'L.XT', type: 'software', name: 'X_TRADER', version_range: '>=7.17 <7.18', severity: 'critical' },
    { id: 'L.Hash', type: 'sha256', value: h1 },
    { id: 'L.Glob', type: 'filename', value: 'setup*.exe' },
    { id: 'L.Miss', type: 'software', name: 'X_TRADER', version: '8.0' },
  ] });
  t.type(push.json.job, 'string');
  const job = await h.waitJob(push.json.job);
  t.equal(job.status, 'done');
  t.equal(job.progress, 1);
  const jr = await h.call('viewer', 'GET', `/api/v1/jobs/${push.json.job}`);
  t.match(jr.json, { status: 'done', kind: 'retro-hunt', result: { indicators: 4 } });
  const alerts = (await h.call('viewer', 'GET', '/api/v1/alerts?feed=late')).json.items;
  t.same(alerts.map((a: any) => a.indicator.id).sort(), ['L.Glob', 'L.Hash', 'L.XT'], 'the version miss does not alert');
  for (const a of alerts) {
    t.equal(a.retro, true);
    t.ok(a.item_first_seen < a.first_seen, `${a.indicator.id}: item first seen before the alert`);
  }
  t.equal(alerts.find((a: any) => a.indicator.id === 'L.Hash').item_removed, true, 'a past item (already removed) is found too, and marked');
  t.equal(alerts.find((a: any) => a.indicator.id === 'L.XT').item_removed, false);
});

t.test('roles: analysts and viewers cannot push or replace feeds', async (t) => {
  const h = await harness(t);
  for (const role of ['analyst', 'viewer'] as const) {
    const p = await h.call(role, 'POST', '/api/v1/indicators', { indicators: [{ type: 'sha256', value: h1 }] });
    t.equal(p.status, 403, `${role} push`);
    t.equal(p.json.code, 'CW_AUTH_FORBIDDEN');
    t.equal((await h.call(role, 'PUT', '/api/v1/feeds/x', { indicators: [] })).status, 403, `${role} replace`);
    t.equal((await h.call(role, 'GET', '/api/v1/indicators')).status, 200, `${role} reads indicators`);
  }
  t.equal((await h.call('viewer', 'GET', '/api/v1/indicators?limit=1000')).json.items.filter((i: any) => i.feed !== 'builtin' && i.feed !== '3cx-xtrader').length, 0, 'nothing was pushed');
});
