// Token bookkeeping never makes a request wait for the write lock: with another connection
// holding it (as the ingest writer does for a whole group), a request answers at once and its
// token's last_used is written by a later request, once the lock is free.
import t from 'tap';
import Database from 'better-sqlite3';
import path from 'node:path';
import { harness } from '../fixtures/harness.js';

t.test('a request answers at once while another connection holds the write lock; last_used follows later', async (t) => {
  const h = await harness(t, { file: true });
  const lastUsed = () => h.svc.db.prepare(`SELECT last_used FROM api_tokens WHERE role = 'viewer'`).pluck().get() as string | null;
  t.equal(lastUsed(), null);
  const other = new Database(path.join(h.dir!, 'c.db'));
  t.teardown(() => other.close());
  other.exec('BEGIN IMMEDIATE');
  const t0 = performance.now();
  const r = await h.call('viewer', 'GET', '/api/v1/alerts?limit=1');
  const ms = performance.now() - t0;
  t.equal(r.status, 200);
  t.ok(ms < 2000, `answered in ${Math.round(ms)} ms, not after the 10 s busy timeout`);
  t.equal(lastUsed(), null, 'not written while the lock was held');
  other.exec('COMMIT');
  t.equal((await h.call('viewer', 'GET', '/api/v1/alerts?limit=1')).status, 200);
  t.ok(lastUsed(), 'written by the next request');
  t.equal(h.svc.db.pragma('busy_timeout', { simple: true }), 10000, 'the connection keeps its busy timeout');
});
