// Alerts API through build() + inject(): every list filter, cursor paging, the lifecycle with
// its enforced transitions and history, item_removed after a full rescan without the item,
// streamed export (CSV and NDJSON, same filters), and who may do what.
import t from 'tap';
import { harness, software, file, sha } from '../fixtures/harness.js';

async function seeded(t: Parameters<typeof harness>[0]) {
  const h = await harness(t);
  const push = await h.call('admin', 'POST', '/api/v1/indicators?feed=ops', { indicators: [
    { id: 'T.Sw.XTrader', type: 'software', name: 'Legacy Trader', discontinued: true, severity: 'critical' },
    { id: 'T.Hash.Evil', type: 'sha256', value: sha('evil'), severity: 'high' },
  ] });
  t.equal(push.status, 200, push.body);
  await h.call('admin', 'POST', '/api/v1/indicators?feed=other', { indicators: [{ id: 'T.Name.Tool', type: 'filename', value: 'tool.exe', severity: 'low' }] });
  h.host('h1', 'alpha'); h.host('h2', 'beta');
  h.scan('h1', [software('Legacy Trader', '7.17.90'), file('C:/evil.dll', 'evil'), file('C:/tool.exe', 'x')]);
  h.scan('h2', [file('C:/evil.dll', 'evil')]);
  return h;
}

t.test('filters and cursor pagination', async (t) => {
  const h = await seeded(t);
  const all = await h.call('viewer', 'GET', '/api/v1/alerts');
  t.equal(all.status, 200);
  t.equal(all.json.items.length, 4);
  const ids = (q: string) => h.call('viewer', 'GET', `/api/v1/alerts${q}`).then((r) => r.json.items.map((a: any) => `${a.host.hostname}:${a.indicator.id}`).sort());
  t.same(await ids('?severity=critical'), ['alpha:T.Sw.XTrader']);
  t.same(await ids('?host=beta'), ['beta:T.Hash.Evil'], 'host by name');
  t.same(await ids('?host=h2'), ['beta:T.Hash.Evil'], 'host by id');
  t.same(await ids('?indicator=T.Hash.Evil'), ['alpha:T.Hash.Evil', 'beta:T.Hash.Evil']);
  t.same(await ids('?feed=other'), ['alpha:T.Name.Tool']);
  t.same(await ids('?status=acknowledged'), []);
  t.same(await ids(`?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`), [], 'since excludes older sightings');
  t.equal((await ids('?since=2000-01-01')).length, 4);
  t.equal((await h.call('viewer', 'GET', '/api/v1/alerts?since=notadate')).status, 400);

  const seen: number[] = [];
  let url = '/api/v1/alerts?limit=1';
  for (let i = 0; i < 10; i++) {
    const p = await h.call('viewer', 'GET', url);
    seen.push(...p.json.items.map((a: any) => a.id));
    if (!p.json.next) break;
    url = `/api/v1/alerts?limit=1&cursor=${p.json.next}`;
  }
  t.equal(seen.length, 4, 'four pages of one');
  t.same(seen, [...seen].sort((a, b) => b - a), 'newest first, no repeats');
  t.equal(new Set(seen).size, 4);
  t.equal((await h.call('viewer', 'GET', '/api/v1/alerts?cursor=@@')).json.code, 'CW_BAD_CURSOR');
});

t.test('lifecycle: transitions enforced, history recorded, roles', async (t) => {
  const h = await seeded(t);
  const a = (await h.call('viewer', 'GET', '/api/v1/alerts?indicator=T.Sw.XTrader')).json.items[0];
  t.equal(a.status, 'open');
  const url = `/api/v1/alerts/${a.id}`;
  t.equal((await h.call('viewer', 'PATCH', url, { status: 'acknowledged' })).status, 403, 'viewers read only');
  const ack = await h.call('analyst', 'PATCH', url, { status: 'acknowledged', note: 'looking' });
  t.equal(ack.status, 200, ack.body);
  t.equal(ack.json.status, 'acknowledged');
  t.match(ack.json.updated_by, /^token:\d+$/);
  const again = await h.call('analyst', 'PATCH', url, { status: 'acknowledged' });
  t.equal(again.status, 409);
  t.equal(again.json.code, 'CW_ALERT_TRANSITION');
  const noReason = await h.call('analyst', 'PATCH', url, { status: 'closed' });
  t.equal(noReason.status, 400);
  t.match(noReason.json.message, /needs a reason/);
  t.equal((await h.call('analyst', 'PATCH', url, { status: 'closed', reason: 'maybe' })).status, 400, 'unknown reason refused by schema');
  const closed = await h.call('analyst', 'PATCH', url, { status: 'closed', reason: 'accepted_risk', note: 'legacy desk, isolated' });
  t.equal(closed.json.status, 'closed');
  t.equal(closed.json.close_reason, 'accepted_risk');
  t.equal(closed.json.note, 'legacy desk, isolated');
  t.equal((await h.call('analyst', 'PATCH', url, { status: 'acknowledged' })).status, 409, 'closed cannot be acknowledged');
  const reopened = await h.call('admin', 'PATCH', url, { status: 'open', note: 'seen again' });
  t.equal(reopened.json.status, 'open');
  t.equal(reopened.json.close_reason, null, 'reopening clears the reason');
  const one = await h.call('viewer', 'GET', url);
  t.same(one.json.history.map((x: any) => [x.from, x.to, x.reason, x.note]), [
    ['open', 'acknowledged', null, 'looking'],
    ['acknowledged', 'closed', 'accepted_risk', 'legacy desk, isolated'],
    ['closed', 'open', null, 'seen again'],
  ]);
  t.ok(one.json.history.every((x: any) => /^token:\d+$/.test(x.actor) && !Number.isNaN(Date.parse(x.at))));
  t.equal((await h.call('analyst', 'PATCH', '/api/v1/alerts/99999', { status: 'acknowledged' })).status, 404);
  t.equal((await h.call(null, 'GET', '/api/v1/alerts')).status, 401);
});

t.test('repeated sightings deduplicate; a full rescan without the item marks item_removed', async (t) => {
  const h = await seeded(t);
  const before = (await h.call('viewer', 'GET', '/api/v1/alerts?host=alpha&indicator=T.Hash.Evil')).json.items[0];
  await new Promise((r) => setTimeout(r, 5));
  h.scan('h1', [software('Legacy Trader', '7.17.90'), file('C:/evil.dll', 'evil'), file('C:/tool.exe', 'x')]);
  const after = (await h.call('viewer', 'GET', '/api/v1/alerts?host=alpha')).json.items;
  t.equal(after.length, 3, 'no duplicates');
  const evil = after.find((a: any) => a.indicator.id === 'T.Hash.Evil');
  t.equal(evil.id, before.id);
  t.ok(evil.last_seen > before.last_seen, 'last_seen moved');
  t.equal(evil.first_seen, before.first_seen);

  h.scan('h1', [software('Legacy Trader', '7.17.90'), file('C:/tool.exe', 'x')]);
  const gone = (await h.call('viewer', 'GET', `/api/v1/alerts/${evil.id}`)).json;
  t.equal(gone.item_removed, true, 'item left the host');
  t.equal(gone.status, 'open', 'still open until someone resolves it');
  const stay = (await h.call('viewer', 'GET', '/api/v1/alerts?host=alpha&indicator=T.Sw.XTrader')).json.items[0];
  t.equal(stay.item_removed, false);
  const inv = await h.call('viewer', 'GET', '/api/v1/hosts/h1/inventory?include_removed=true&kind=file');
  const dll = inv.json.items.find((i: any) => i.path === 'C:/evil.dll');
  t.type(dll.removed_at, 'string', 'history keeps the removed item with its removal time');
});

t.test('export streams every matching alert as CSV or NDJSON', async (t) => {
  const h = await seeded(t);
  const nd = await h.call('viewer', 'GET', '/api/v1/alerts/export?format=ndjson&indicator=T.Hash.Evil');
  t.equal(nd.status, 200);
  t.match(nd.headers['content-type'], /application\/x-ndjson/);
  const lines = nd.body.trim().split('\n').map((l) => JSON.parse(l));
  t.same(lines.map((a) => a.host.hostname).sort(), ['alpha', 'beta']);
  const csv = await h.call('viewer', 'GET', '/api/v1/alerts/export?format=csv');
  t.match(csv.headers['content-type'], /text\/csv/);
  const rows = csv.body.trim().split('\r\n');
  t.equal(rows[0]!.split(',')[0], 'id');
  t.equal(rows.length, 5, 'header + four alerts');
  t.ok(rows.some((r) => r.includes('T.Sw.XTrader') && r.includes('Legacy Trader 7.17.90')));
  const filtered = await h.call('viewer', 'GET', '/api/v1/alerts/export?format=csv&severity=low');
  t.equal(filtered.body.trim().split('\r\n').length, 2);
  t.equal((await h.call(null, 'GET', '/api/v1/alerts/export')).status, 401);
});
