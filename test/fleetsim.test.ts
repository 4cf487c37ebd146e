// End to end: a real collector, chainwatch-fleetsim with 20 agents × 300 items in 2 worker
// processes (full sync, a delta storm, churn with link drops), then the sim's own counting
// (every frame acked, stored keys per host, alerts vs planted) checked against the collector
// independently here: the hosts API, the alerts API and the database.
import t from 'tap';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { REPO, api, cleanup, run, runCollector, startCollector } from './helpers/processes.js';

const FLEETSIM_BIN = path.join(REPO, 'packages/fleetsim/bin/chainwatch-fleetsim.js');

t.test('fleetsim: sync, storm, churn and reconnects against a real collector', async (t) => {
  const c = await startCollector({ extraArgs: ['--auth-fail-limit', '0', '--enroll-rate', '1000000', '--frame-rate', '100000'] });
  t.teardown(async () => { await c.stop(); await cleanup(c.dir); });
  const tok = await runCollector(['token', 'create', '--role', 'admin', '--db', c.db]);
  t.equal(tok.code, 0, tok.stderr);
  const token = tok.stdout.trim().split('\n').pop()!;
  const ca = path.join(path.dirname(c.db), 'tls', 'ca.pem');

  const r = await run(FLEETSIM_BIN, ['--agents', '20', '--items', '300', '--workers', '2', '--url', c.url, '--ca', ca, '--enroll-secret', c.secret,
    '--admin-token', token, '--db', c.db, '--match-share', '0.3', '--storm', '15', '--duration', '4', '--delta-interval', '1', '--churn', '0.02',
    '--reconnect-share', '0.5', '--api-rate', '2', '--seed', '11', '--run-tag', 'e2e', '--worker-nice', '5', '--json'], { timeoutMs: 180_000 });
  t.equal(r.code, 0, `fleetsim exit 0 (stderr: ${r.stderr.slice(-2000)})`);
  const rep = JSON.parse(r.stdout.trim().split('\n').pop()!);
  const phase = (n: string) => rep.phases.find((p: { phase: string }) => p.phase === n);

  t.match(r.stderr, /phase storm: [\d.]+ s/, 'progress on stderr with --json too');
  t.same(rep.worker_nice, [5, 5], 'both workers run at the nice value asked for (read back from the OS)');
  t.same(rep.worker_sched, ['normal', 'normal'], 'and the normal scheduling policy (no --worker-idle)');
  t.equal(phase('enroll').enrolled, 20, 'all enrolled');
  t.equal(phase('connect').connected, 20, 'all connected');
  t.equal(phase('sync').items_acked, 20 * 300, 'whole initial inventory acknowledged');
  t.equal(phase('storm').items_acked, 20 * 17, 'storm: 15 changes + 1 download + the host item per host acknowledged');
  t.ok(phase('churn').reconnects >= 1, `links dropped and came back (${phase('churn').reconnects})`);
  t.equal(rep.counts.frames_sent, rep.counts.frames_acked + rep.counts.settled_by_welcome, 'every frame acked or settled by a welcome');
  t.equal(rep.counts.basis, 'db');
  t.equal(rep.counts.hosts_checked, 20);
  t.equal(rep.counts.hosts_mismatched, 0, 'stored keys per host equal what was sent');
  t.ok(rep.alerts.planted > 0, `some matches planted (${rep.alerts.planted})`);
  t.equal(rep.alerts.raised, rep.alerts.planted, 'alerts raised == matches planted');
  t.ok(phase('sync').api.every((a: { requests: number; errors: number }) => a.requests > 0 && a.errors === 0), 'API answered under load');

  // Independent checks against the collector.
  const hosts = await api(c, token, 'GET', '/api/v1/hosts?limit=1000');
  const ours = hosts.json.items.filter((h: { hostname: string }) => h.hostname.startsWith('fs-e2e-'));
  t.equal(ours.length, 20, 'the collector lists the 20 simulated hosts');
  const alerts = await api(c, token, 'GET', `/api/v1/alerts?feed=${rep.feed}&limit=1000`);
  t.equal(alerts.json.items.length, rep.alerts.planted, 'alerts API agrees');
  const sql = (q: string) => execFileSync('sqlite3', ['-readonly', c.db, q], { encoding: 'utf8' }).trim();
  t.equal(Number(sql("SELECT count(*) FROM items WHERE kind = 'software' AND data LIKE '%+fs1\"%'")) > 0, true, 'delta changes stored (bumped versions present)');
  t.equal(Number(sql("SELECT count(*) FROM host_items hi JOIN items it ON it.id = hi.item_id WHERE it.ikey LIKE 'file:/home/%/Downloads/update-1-%' AND hi.removed_at IS NOT NULL")), 20,
    "each host's first delta download was removed by a later delta");
  t.equal(Number(sql('SELECT count(*) FROM hosts WHERE last_seq > 0')), 20, 'every host has committed batches');
});

t.test('fleetsim --worker-idle: workers run under SCHED_IDLE, read back from the OS', async (t) => {
  const c = await startCollector({ extraArgs: ['--auth-fail-limit', '0', '--enroll-rate', '1000000', '--frame-rate', '100000'] });
  t.teardown(async () => { await c.stop(); await cleanup(c.dir); });
  const ca = path.join(path.dirname(c.db), 'tls', 'ca.pem');
  const r = await run(FLEETSIM_BIN, ['--agents', '4', '--items', '40', '--workers', '2', '--url', c.url, '--ca', ca, '--enroll-secret', c.secret,
    '--api-rate', '0', '--seed', '12', '--run-tag', 'idle', '--worker-idle', '--json'], { timeoutMs: 120_000 });
  t.equal(r.code, 0, `fleetsim exit 0 (stderr: ${r.stderr.slice(-2000)})`);
  const rep = JSON.parse(r.stdout.trim().split('\n').pop()!);
  t.same(rep.worker_sched, ['idle', 'idle'], 'every thread of both workers under SCHED_IDLE');
  t.equal(rep.phases.find((p: { phase: string }) => p.phase === 'sync').items_acked, 4 * 40, 'and they still send everything');
});
