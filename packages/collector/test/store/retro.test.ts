// Retro-hunt in the worker thread (file database, own connection): alerts appear for stored
// inventory with the item's first-seen time, progress reaches 1, and the API keeps answering
// while it runs. Retention pruning of inventory history and orphaned items.
import t from 'tap';
import { harness, software, file, sha } from '../fixtures/harness.js';

t.test('worker-thread hunt over a file database while the API answers', async (t) => {
  const h = await harness(t, { file: true });
  const hosts = 40;
  for (let i = 0; i < hosts; i++) {
    h.host(`h${i}`);
    const items = [software('X_TRADER', '7.17.90')];
    for (let j = 0; j < 500; j++) items.push(file(`/lib/f${(i * 7 + j) % 2000}.so`, `f${(i * 7 + j) % 2000}`));
    h.scan(`h${i}`, items);
  }
  const inds = Array.from({ length: 5000 }, (_, i) => ({ id: `W.${i}`, type: 'sha256', value: i < 100 ? sha(`f${i}`) : sha(`none${i}`) }));
  inds.push({ id: 'W.XT', type: 'software', name: 'X_TRADER', versions: ['7.17.90'] } as any);
  const push = await h.call('admin', 'POST', '/api/v1/indicators', { indicators: inds });
  t.equal(push.status, 200);
  const lat: number[] = [];
  let job = h.svc.jobs.get(push.json.job)!;
  // inject() settles without a macrotask turn; the timer lets the worker's messages in, as real
  // sockets would.
  for (let i = 0; job.status === 'running' && i < 3000; i++) {
    const t0 = performance.now();
    const r = await h.call('viewer', 'GET', '/api/v1/alerts?limit=5');
    lat.push(performance.now() - t0);
    if (r.status !== 200) t.fail(`alerts answered ${r.status}`);
    await new Promise((res) => setTimeout(res, 2));
    job = h.svc.jobs.get(push.json.job)!;
  }
  t.equal(job.status, 'done', JSON.stringify(job.result));
  t.equal(job.progress, 1);
  const expected = h.svc.db.prepare(`SELECT count(*) FROM host_items hi JOIN item_keys k ON k.item_id = hi.item_id WHERE k.value IN (${inds.slice(0, 100).map(() => '?').join(',')})`)
    .pluck().get(...inds.slice(0, 100).map((i) => `h:${i.value}`)) as number;
  t.ok(expected > 0);
  const n = h.svc.db.prepare(`SELECT count(*) FROM alerts WHERE retro = 1 AND indicator_id LIKE 'W.%' AND indicator_id != 'W.XT'`).pluck().get();
  t.equal(n, expected, 'one retro alert per (host, indicator, item) the join finds');
  t.equal(h.svc.db.prepare(`SELECT count(*) FROM alerts WHERE indicator_id = 'W.XT'`).pluck().get(), hosts, 'software refined by version in the worker');
  t.ok(lat.length === 0 || Math.max(...lat) < 1000, `API stayed responsive (max ${Math.round(Math.max(0, ...lat))} ms)`);
});

t.test('retention prunes removed history and orphaned items, keeps what alerts point at', async (t) => {
  const h = await harness(t);
  await h.call('admin', 'POST', '/api/v1/indicators', { indicators: [{ id: 'P.Evil', type: 'sha256', value: sha('evil') }] });
  h.host('a');
  h.scan('a', [file('/x/old', 'old'), file('/x/evil', 'evil'), file('/x/keep', 'keep')]);
  h.scan('a', [file('/x/keep', 'keep')]);
  const count = (sql: string) => h.svc.db.prepare(sql).pluck().get() as number;
  t.equal(count('SELECT count(*) FROM host_items WHERE removed_at IS NOT NULL'), 2);
  t.same(h.svc.inventory.prune(new Date(Date.now() - 86_400_000)), { hostItems: 0, items: 0 }, 'nothing older than a day');
  const r = h.svc.inventory.prune(new Date(Date.now() + 1000));
  t.same(r, { hostItems: 2, items: 1 }, 'two history rows; one orphan (the evil file stays: an alert points at it)');
  t.equal(count(`SELECT count(*) FROM item_keys WHERE value = 'h:${sha('old')}'`), 0, 'orphan keys gone');
  t.equal(count(`SELECT count(*) FROM item_keys WHERE value = 'h:${sha('evil')}'`), 1);
  const alert = (await h.call('viewer', 'GET', '/api/v1/alerts?indicator=P.Evil')).json.items[0];
  t.equal(alert.item.path, '/x/evil', 'alert still shows its item');
  h.scan('a', [file('/x/keep', 'keep'), file('/x/old', 'old')]);
  t.equal(count(`SELECT count(*) FROM item_keys WHERE value = 'h:${sha('old')}'`), 1, 'a pruned item coming back is stored afresh (id cache cleared)');
});
