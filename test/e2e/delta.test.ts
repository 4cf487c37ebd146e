/**
 * Incremental inventories on real processes: after the first full inventory the agent sends
 * only what changed; a package removed from the host disappears from the stored inventory and
 * its alert says so; an unchanged rescan sends (almost) nothing.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startCollector, runCollector, api, tempDir, cleanup, AGENT_BIN } from '../helpers/processes.js';
import { makeDebRoot } from '../helpers/fixtures.js';
import { waitFor } from '../helpers/wire.js';

interface Batch { mode: string; items: number; removed: number; final: boolean }
function batches(logs: string): Batch[] {
  return logs.split('\n').filter((l) => l.includes('"batch committed"')).map((l) => JSON.parse(l) as Batch);
}

t.test('only changes travel after the first full inventory', async (t) => {
  const dir = await tempDir();
  t.teardown(() => cleanup(dir));
  const c = await startCollector({ dir });
  t.teardown(() => c.stop());
  const admin = (await runCollector(['token', 'create', '--role', 'admin', '--db', c.db])).stdout.trim();
  await api(c, admin, 'POST', '/api/v1/indicators', { indicators: [{ id: 'Delta.Sw', type: 'software', name: 'old-tool', version: '1.0' }] });
  const root = path.join(dir, 'root');
  await makeDebRoot(root, 'delta-host', [
    { name: 'old-tool', version: '1.0', files: { 'usr/bin/old-tool': '#!/bin/sh\necho old\n' } },
    { name: 'keeper', version: '2.0', files: { 'usr/bin/keeper': '#!/bin/sh\necho keep\n' } },
  ]);
  const agent = spawn(process.execPath, [AGENT_BIN, 'run', '--collector', c.url, '--enroll-secret', c.secret, '--ca-fingerprint', c.fingerprint!,
    '--root', root, '--state-dir', path.join(dir, 'state'), '--interval', '2', '--max-cpu-percent', '0'], { stdio: 'ignore' });
  t.teardown(() => { agent.kill('SIGTERM'); });

  await waitFor(() => batches(c.logs()).some((b) => b.mode === 'full' && b.final), 60_000, 'first full inventory');
  const hostId = (await api(c, admin, 'GET', '/api/v1/hosts')).json.items[0].id as string;
  const keys = async () => ((await api(c, admin, 'GET', `/api/v1/hosts/${hostId}/inventory?limit=1000`)).json.items as any[]).map((i) => i.key).sort();
  t.ok((await keys()).includes('software:dpkg:system:old-tool:amd64'));
  const alert = (await api(c, admin, 'GET', '/api/v1/alerts')).json.items[0];
  t.match(alert, { indicator: { id: 'Delta.Sw' }, item_removed: false });

  await waitFor(() => batches(c.logs()).some((b) => b.mode === 'delta' && b.final), 60_000, 'an unchanged delta rescan');
  const quiet = batches(c.logs()).find((b) => b.mode === 'delta')!;
  t.equal(quiet.items, 1, 'an unchanged rescan sends only the host facts');

  execFileSync('dpkg', [`--root=${root}`, '--force-script-chrootless', '--force-not-root', '--log=/dev/null', '--purge', 'old-tool']);
  await waitFor(async () => !(await keys()).includes('software:dpkg:system:old-tool:amd64'), 60_000, 'removal seen by the collector');
  t.ok((await keys()).includes('software:dpkg:system:keeper:amd64'), 'the rest stays');
  t.notOk((await keys()).includes('file:/usr/bin/old-tool'), 'its files went with it');
  const after = (await api(c, admin, 'GET', '/api/v1/alerts')).json.items[0];
  t.match(after, { indicator: { id: 'Delta.Sw' }, item_removed: true, status: 'open' }, 'the alert says the item is gone, and stays open');
  const removal = batches(c.logs()).filter((b) => b.mode === 'delta' && b.removed > 0);
  t.ok(removal.length >= 1, 'removal travelled as delta keys');
  t.equal(batches(c.logs()).filter((b) => b.mode === 'full' && b.final).length, 1, 'no second full inventory was needed');
});
