/**
 * Online backup under load: agents stream large inventories while `chainwatch-collector backup`
 * copies the database; each copy passes integrity_check and is internally consistent (every
 * host item points at a stored item, no host is half-enrolled). `restore` refuses while the
 * collector has the database open, works once it is stopped, and the collector serves the
 * restored data. `doctor` passes on the result.
 */
import t from 'tap';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { tempDir, cleanup, startCollector, agentOnce, runCollector, api } from '../helpers/processes.js';

/** A root whose dpkg status lists `n` packages (written directly: dpkg itself would take minutes). */
async function bigRoot(root: string, host: string, n: number): Promise<void> {
  await mkdir(path.join(root, 'var/lib/dpkg'), { recursive: true });
  await mkdir(path.join(root, 'etc'), { recursive: true });
  await writeFile(path.join(root, 'etc/hostname'), host + '\n');
  const pkgs = Array.from({ length: n }, (_, i) => `Package: pkg-${host}-${i}\nStatus: install ok installed\nVersion: 1.${i}\nArchitecture: amd64\nMaintainer: t <t@example.invalid>\nDescription: load ${i}\n`);
  await writeFile(path.join(root, 'var/lib/dpkg/status'), pkgs.join('\n'));
}

function consistency(file: string): { integrity: string; dangling: number; hosts: number; hostItems: number } {
  const db = new Database(file, { readonly: true });
  try {
    return {
      integrity: db.pragma('integrity_check', { simple: true }) as string,
      dangling: db.prepare('SELECT count(*) FROM host_items h LEFT JOIN items i ON i.id = h.item_id WHERE i.id IS NULL').pluck().get() as number,
      hosts: db.prepare('SELECT count(*) FROM hosts').pluck().get() as number,
      hostItems: db.prepare('SELECT count(*) FROM host_items').pluck().get() as number,
    };
  } finally { db.close(); }
}

t.test('backup during ingest restores to a consistent database', async (t) => {
  const dir = await tempDir('cw-backup-');
  t.teardown(() => cleanup(dir));
  const c = await startCollector({ dir });
  t.teardown(() => c.stop());
  const roots = ['load-a', 'load-b', 'load-c'];
  for (const h of roots) await bigRoot(path.join(dir, h), h, 15_000);

  const agents = Promise.all(roots.map((h) => agentOnce(c, path.join(dir, h), path.join(dir, `${h}-state`), ['--no-hash', '--no-config'])));
  const backups: string[] = [];
  let done = false;
  void agents.finally(() => { done = true; });
  // Back up repeatedly while the agents stream (at least 3 copies, the first ones mid-ingest).
  for (let i = 0; i < 3 || !done; i++) {
    await new Promise((r) => setTimeout(r, 400));
    const file = path.join(dir, `backup-${i}.db`);
    const r = await runCollector(['backup', file, '--db', c.db]);
    t.equal(r.code, 0, `backup ${i}: ${r.stderr}`);
    t.match(r.stdout, /integrity ok/);
    backups.push(file);
    if (i > 30) break;
  }
  const results = await agents;
  for (const r of results) t.equal(r.code, 0, r.stderr.slice(-500));
  const counts = backups.map(consistency);
  t.comment(`host_items in successive backups: ${counts.map((x) => x.hostItems).join(', ')}`);
  for (const [i, x] of counts.entries()) {
    t.equal(x.integrity, 'ok', `backup ${i} integrity`);
    t.equal(x.dangling, 0, `backup ${i}: every host item points at a stored item`);
  }
  t.ok(counts.length >= 3, 'several backups taken while ingest ran');
  const final = path.join(dir, 'final.db');
  t.equal((await runCollector(['backup', final, '--db', c.db])).code, 0);
  const finalCounts = consistency(final);
  t.ok(finalCounts.hostItems >= 45_000, `all inventory in the final backup (${finalCounts.hostItems})`);

  const refused = await runCollector(['restore', backups[0]!, '--db', c.db]);
  t.not(refused.code, 0, 'restore refuses while the collector has the database open');
  t.match(refused.stderr, /CW_RESTORE_REFUSED/);

  await c.stop();
  const restored = await runCollector(['restore', final, '--db', c.db]);
  t.equal(restored.code, 0, restored.stderr);
  t.match(restored.stdout, /previous database kept as/);
  const doctor = await runCollector(['doctor', '--db', c.db, '--full']);
  t.equal(doctor.code, 0, doctor.stdout + doctor.stderr);
  t.match(doctor.stdout, /ok\s+integrity_check\s+ok/);

  const c2 = await startCollector({ dir });
  t.teardown(() => c2.stop());
  const token = (await runCollector(['token', 'create', '--role', 'viewer', '--db', c2.db])).stdout.trim();
  const hosts = await api(c2, token, 'GET', '/api/v1/hosts');
  t.same((hosts.json.items as Array<{ hostname: string }>).map((h) => h.hostname).sort(), roots, 'the restored collector serves the hosts');
});
