// Fleet-wide search and host detail: software by normalised name (+ version / range), files by
// each hash, certificates by serial / thumbprint / subject, with first/last seen and history;
// GET /hosts/:id with inventory summary and alerts; the OpenAPI document at /docs/json.
import t from 'tap';
import { harness, software, file, sha, signature, cert, certificate } from '../fixtures/harness.js';

t.test('search pages by hostname; totals and version counts cover every hit, not only the page', async (t) => {
  const h = await harness(t);
  const names = ['echo', 'delta', 'alpha', 'charlie', 'bravo'];
  names.forEach((n, i) => {
    h.host(String(i), n);
    // bravo holds one version twice (two sources): it counts once for that version.
    h.scan(String(i), n === 'bravo' ? [software('Agent', '2.0'), software('Agent', '2.0', 'npm')] : [software('Agent', i < 2 ? '1.0' : '2.0')]);
  });
  const r = await h.call('viewer', 'GET', '/api/v1/search/software?name=agent&limit=2');
  t.equal(r.status, 200, r.body);
  t.same(r.json.hosts.map((x: any) => x.hostname), ['alpha', 'bravo'], 'first page, by hostname');
  t.equal(r.json.hosts[1].items.length, 2, 'a host on the page lists every matching item');
  t.same([r.json.total_hosts, r.json.total_items, r.json.truncated], [5, 6, true]);
  t.same(r.json.versions, [{ version: '2.0', hosts: 3 }, { version: '1.0', hosts: 2 }], 'versions over all five hosts');
  const all = await h.call('viewer', 'GET', '/api/v1/search/software?name=agent&limit=5');
  t.same([all.json.hosts.length, all.json.truncated], [5, false]);
  const none = await h.call('viewer', 'GET', '/api/v1/search/software?name=absent');
  t.same([none.json.hosts, none.json.total_hosts, none.json.truncated, none.json.versions], [[], 0, false, []]);
  // A host holding 1.0, 2.0 and 1.0 again (items stored in that order): still once per version.
  h.host('5', 'foxtrot');
  h.scan('5', [software('Agent', '1.0', 'dpkg'), software('Agent', '2.0', 'rpm'), software('Agent', '1.0', 'npm')]);
  const mixed = await h.call('viewer', 'GET', '/api/v1/search/software?name=agent&limit=10');
  t.same([mixed.json.total_hosts, mixed.json.total_items], [6, 9]);
  t.same(mixed.json.versions, [{ version: '2.0', hosts: 4 }, { version: '1.0', hosts: 3 }], 'each version counts the host once');
  // Host numbers far apart (numbered after a gap), past 2^22 (where a host-item pair no longer
  // packs into one exact JS number): the same answer from the sparse paths.
  h.svc.db.prepare("INSERT INTO host_nums (num, host_id) VALUES (5000000, 'gap')").run();
  h.host('6', 'golf');
  h.scan('6', [software('Agent', '1.0', 'dpkg'), software('Agent', '2.0', 'rpm'), software('Agent', '1.0', 'npm')]);
  const sparse = await h.call('viewer', 'GET', '/api/v1/search/software?name=agent&limit=10');
  t.same([sparse.json.total_hosts, sparse.json.total_items, sparse.json.hosts.length], [7, 12, 7]);
  t.same(sparse.json.versions, [{ version: '2.0', hosts: 5 }, { version: '1.0', hosts: 4 }], 'past the gap, still once per version');
});

t.test('search software, files and certificates', async (t) => {
  const h = await harness(t);
  const c = cert('Trading Technologies', '0A:1B');
  h.host('a', 'alpha'); h.host('b', 'beta'); h.host('c', 'gamma');
  h.scan('a', [software('X_TRADER', '7.17.90'), file('C:/tt/x.exe', 'xt'), signature('C:/tt/x.exe', 'valid', c)]);
  h.scan('b', [software('x-trader', '7.18.1'), file('D:/other/x.exe', 'xt')]);
  h.scan('c', [software('X_TRADER', '6.0'), certificate('C:/keys/tt.pfx', c, { privateKey: false })]);
  h.scan('c', [software('Notepad++', '8')]);

  const sw = await h.call('viewer', 'GET', '/api/v1/search/software?name=X%20Trader');
  t.equal(sw.status, 200, sw.body);
  t.same(sw.json.hosts.map((x: any) => [x.hostname, x.items[0].item.version]), [['alpha', '7.17.90'], ['beta', '7.18.1']], 'normalised name, current only');
  t.same(sw.json.versions, [{ version: '7.17.90', hosts: 1 }, { version: '7.18.1', hosts: 1 }]);
  t.ok(sw.json.hosts[0].items[0].first_seen && sw.json.hosts[0].items[0].last_seen);
  const hist = await h.call('viewer', 'GET', '/api/v1/search/software?name=X_TRADER&include_removed=true');
  t.equal(hist.json.total_hosts, 3, 'history includes the host that uninstalled it');
  t.type(hist.json.hosts.find((x: any) => x.hostname === 'gamma').items[0].removed_at, 'string');
  const range = await h.call('viewer', 'GET', `/api/v1/search/software?name=X_TRADER&range=${encodeURIComponent('>=7.17 <7.18')}`);
  t.same(range.json.hosts.map((x: any) => x.hostname), ['alpha']);
  const exact = await h.call('viewer', 'GET', '/api/v1/search/software?name=X_TRADER&version=7.18.1');
  t.same(exact.json.hosts.map((x: any) => x.hostname), ['beta']);
  t.equal((await h.call('viewer', 'GET', '/api/v1/search/software?name=X&range=%3E%3D')).status, 400);

  for (const [alg, q] of [['sha256', sha('xt')], ['sha1', sha('xt', 'sha1').toUpperCase()], ['md5', sha('xt', 'md5')]] as const) {
    const f = await h.call('viewer', 'GET', `/api/v1/search/files?${alg}=${q}`);
    t.same(f.json.hosts.map((x: any) => [x.hostname, x.items.map((i: any) => i.item.path)]), [['alpha', ['C:/tt/x.exe']], ['beta', ['D:/other/x.exe']]], alg);
  }
  t.equal((await h.call('viewer', 'GET', '/api/v1/search/files?sha256=abc')).status, 400);
  t.equal((await h.call('viewer', 'GET', '/api/v1/search/files')).status, 400);

  const bySerial = await h.call('viewer', 'GET', '/api/v1/search/certificates?serial=0a1b&include_removed=true');
  t.same(bySerial.json.hosts.map((x: any) => [x.hostname, x.items[0].item.kind]), [['alpha', 'signature'], ['gamma', 'certificate']]);
  const byThumb = await h.call('viewer', 'GET', `/api/v1/search/certificates?thumbprint=${c.sha256}`);
  t.same(byThumb.json.hosts.map((x: any) => x.hostname), ['alpha'], 'removed certificate not current');
  const bySubject = await h.call('viewer', 'GET', '/api/v1/search/certificates?subject=Trading%20Technologies');
  t.same(bySubject.json.hosts.map((x: any) => x.hostname), ['alpha']);
  t.equal((await h.call(null, 'GET', '/api/v1/search/files?sha256=' + sha('xt'))).status, 401);
});

t.test('host detail: state, inventory summary, unresolved alerts', async (t) => {
  const h = await harness(t);
  await h.call('admin', 'POST', '/api/v1/indicators', { indicators: [{ id: 'H.Evil', type: 'sha256', value: sha('evil') }] });
  h.host('a', 'alpha');
  h.scan('a', [software('Tool', '1'), file('/bin/evil', 'evil'), file('/bin/ok', 'ok')]);
  h.scan('a', [software('Tool', '1'), file('/bin/evil', 'evil')]);
  const r = await h.call('viewer', 'GET', '/api/v1/hosts/a');
  t.equal(r.status, 200, r.body);
  t.match(r.json, { id: 'a', hostname: 'alpha', online: true, revoked: false, counts: { items: 2, software: 1, files: 1, open_alerts: 1 } });
  t.same(r.json.inventory.by_kind, [{ kind: 'file', current: 1, removed: 1 }, { kind: 'software', current: 1, removed: 0 }]);
  t.same(r.json.alerts.map((a: any) => a.indicator.id), ['H.Evil']);
  t.equal((await h.call('viewer', 'GET', '/api/v1/hosts/nope')).status, 404);
  const list = await h.call('viewer', 'GET', '/api/v1/hosts');
  t.match(list.json.items[0], { id: 'a', online: true });
  t.type(list.json.items[0].last_seen, 'string');
});

t.test('OpenAPI document covers the routes with response schemas', async (t) => {
  const h = await harness(t);
  const r = await h.call(null, 'GET', '/docs/json');
  t.equal(r.status, 200);
  const paths = r.json.paths;
  for (const p of ['/api/v1/alerts', '/api/v1/alerts/export', '/api/v1/alerts/{id}', '/api/v1/search/software', '/api/v1/search/files', '/api/v1/search/certificates', '/api/v1/hosts/{id}', '/api/v1/indicators', '/api/v1/feeds/{name}']) {
    t.ok(paths[p], `documents ${p}`);
  }
  t.ok(paths['/api/v1/alerts'].get.responses['200'].content['application/json'].schema.properties.items, 'response schema included');
  t.ok(paths['/api/v1/alerts/{id}'].patch.requestBody, 'request body included');
  for (const p of ['/api/v1/alerts', '/api/v1/search/software', '/api/v1/search/files', '/api/v1/search/certificates']) {
    t.match(paths[p].get.description, /shares its answer.*always in the answer/, `${p} says when an answer is shared`);
  }
  const ui = await h.call(null, 'GET', '/docs');
  t.ok([200, 302].includes(ui.status), 'UI served');
});
