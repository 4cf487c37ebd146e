// Lookups by item go bucket by bucket (store/host-buckets.ts, migration 9): search, retro-hunt
// and prune find hosts in every bucket, and none of their statements scans host_inv or host_removed — checked
// on SQLite's own query plans of the statements they actually ran, with their arguments.
import t from 'tap';
import Database from 'better-sqlite3';
import { harness, software, file, sha } from '../fixtures/harness.js';
import { HOST_BUCKET_SHIFT } from '../../src/store/host-buckets.js';

type Ran = Array<[sql: string, args: unknown[]]>;
const CHAINED = new Set(['pluck', 'raw', 'expand', 'safeIntegers', 'bind']);

/** Records every statement prepared on any connection until stop(), with the arguments of each run. */
function recordStatements(): { ran: Ran; stop(): void } {
  const ran: Ran = [];
  const proto = Database.prototype as { prepare: Database.Database['prepare'] };
  const original = proto.prepare;
  proto.prepare = (function (this: Database.Database, sql: string) {
    const stmt = original.call(this, sql);
    const proxy: unknown = new Proxy(stmt, {
      get(target, prop) {
        const v = Reflect.get(target, prop) as unknown;
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          if (CHAINED.has(String(prop))) { (v as (...a: unknown[]) => unknown).apply(target, args); return proxy; }
          if (['run', 'get', 'all', 'iterate'].includes(String(prop))) ran.push([sql, args]);
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    return proxy;
  }) as Database.Database['prepare'];
  return { ran, stop: () => { proto.prepare = original; } };
}

/** "Is anything stored?" stops at the first row: a scan that reads one entry. */
const FIRST_ROW_ONLY = 'SELECT EXISTS (SELECT 1 FROM host_inv)';

/** Plan lines of statements that read all of host_inv or host_removed (aliases hi, h, p, r, or none). */
function scans(db: Database.Database, ran: Ran): string[] {
  const bad: string[] = [];
  for (const [sql, args] of ran) {
    if (!/host_inv|host_removed/.test(sql) || sql === FIRST_ROW_ONLY) continue;
    for (const row of db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as Array<{ detail: string }>) {
      // An automatic index is built by scanning the table first.
      if (/^(SCAN (host_inv|host_removed|hi|h|p|r)\b|SEARCH (host_inv|host_removed|hi|h|p|r) USING AUTOMATIC)/.test(row.detail)) bad.push(`${row.detail} in: ${sql.replace(/\s+/g, ' ').slice(0, 160)}`);
    }
  }
  return bad;
}

t.test('ingest, search, retro-hunt and prune find hosts in every bucket without scanning host_inv or host_removed', async (t) => {
  // From before the collector starts: its statements are prepared once, at start.
  const rec = recordStatements();
  t.teardown(rec.stop);
  const h = await harness(t);
  const hosts = 3 * (1 << HOST_BUCKET_SHIFT) + 5;
  const planted = [0, 70, hosts - 1];
  const tool = software('Trojan Tool', '2.0');
  for (let i = 0; i < hosts; i++) {
    h.host(`h${i}`);
    const items = [file(`/lib/common.so`, 'common'), file(`/lib/own${i}.so`, `own${i}`)];
    if (planted.includes(i)) items.push(file('/opt/bad.dll', 'bad'), tool);
    h.scan(`h${i}`, items);
  }
  const db = h.svc.db;
  t.equal(db.prepare('SELECT count(*) FROM host_buckets').pluck().get(), 4, 'one bucket number per 64 host numbers in use');

  const byHash = await h.call('viewer', 'GET', `/api/v1/search/files?sha256=${sha('bad')}`);
  t.same(byHash.json.hosts.map((x: { hostname: string }) => x.hostname).sort(), planted.map((i) => `h${i}`).sort(), 'hosts in the first, second and last bucket');
  const common = await h.call('viewer', 'GET', `/api/v1/search/files?sha256=${sha('common')}&limit=10`);
  t.same([common.json.total_hosts, common.json.hosts.length, common.json.truncated], [hosts, 10, true]);
  const byName = Array.from({ length: hosts }, (_, i) => `h${i}`).sort();
  t.same(common.json.hosts.map((x: { hostname: string }) => x.hostname), byName.slice(0, 10), 'a page cut from all hosts in name order (hits on most hosts)');
  const whole = await h.call('viewer', 'GET', `/api/v1/search/files?sha256=${sha('common')}&limit=1000`);
  t.same(whole.json.hosts.map((x: { hostname: string }) => x.hostname), byName, 'the same order sorted from the hit hosts (few hits per page row)');
  t.ok(whole.json.hosts.every((x: { items: unknown[] }) => x.items.length === 1), 'each host with its hit');
  const sw = await h.call('viewer', 'GET', '/api/v1/search/software?name=Trojan%20Tool');
  t.same(sw.json.versions, [{ version: '2.0', hosts: 3 }]);

  const push = await h.call('admin', 'POST', '/api/v1/indicators', { indicators: [
    { id: 'B.HASH', type: 'sha256', value: sha('bad'), severity: 'high' },
    { id: 'B.GLOB', type: 'filename', value: 'bad.dll', severity: 'high' },
  ] });
  t.equal(push.status, 200);
  const job = await h.waitJob(push.json.job);
  t.equal(job.status, 'done', JSON.stringify(job.result));
  t.same(db.prepare(`SELECT indicator_id, count(DISTINCT host_id) FROM alerts WHERE retro = 1 GROUP BY indicator_id ORDER BY 1`).raw().all(),
    [['B.GLOB', 3], ['B.HASH', 3]], 'retro-hunt alerts on every planted host');

  h.scan(`h${hosts - 1}`, [file(`/lib/common.so`, 'common')]);
  const held = await h.call('viewer', 'GET', `/api/v1/search/files?sha256=${sha('bad')}`);
  t.same([held.json.total_hosts, held.json.hosts.map((x: { hostname: string }) => x.hostname).sort()], [2, ['h0', 'h70']], 'a removed pair is not a hit');
  const history = await h.call('viewer', 'GET', `/api/v1/search/files?sha256=${sha('bad')}&include_removed=true`);
  t.equal(history.json.total_hosts, 3, 'with include_removed it is');
  const pruned = h.svc.inventory.prune(new Date(Date.now() + 1000));
  t.equal(pruned.hostItems, 3, 'the last host\'s removed pairs');
  t.equal(db.prepare(`SELECT count(*) FROM items WHERE ikey = 'file:/lib/own${hosts - 1}.so'`).pluck().get(), 0, 'its own file, held nowhere else, is gone');
  t.equal(db.prepare(`SELECT count(*) FROM items WHERE ikey = 'file:/opt/bad.dll'`).pluck().get(), 1, 'a file other hosts hold stays');

  rec.stop();
  t.ok(rec.ran.filter(([sql]) => /host_inv/.test(sql)).length >= 8, 'statements were recorded');
  t.same(scans(db, rec.ran), [], 'no statement scans host_inv or host_removed');
  // Plans are read after recording stopped: an EXPLAIN run while recording would be recorded too.
  const hitReads = rec.ran.filter(([sql]) => /^SELECT p\.host \* 2147483648 \+ p\.item FROM host_(inv|removed) p/.test(sql));
  t.ok(hitReads.some(([sql]) => /FROM host_removed p/.test(sql)), 'the removed pairs were read');
  for (const [sql, args] of hitReads) {
    const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as Array<{ detail: string }>).map((r) => r.detail).filter((d) => /\bp\b/.test(d));
    t.ok(plan.length && plan.every((d) => /USING COVERING INDEX host_(inv_bucket_item|removed_bucket)/.test(d)), `search hits from an index alone: ${plan.join('; ')}`);
  }
});
