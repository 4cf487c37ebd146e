/**
 * Load: 2,000 agents, simulated in four processes, connect at once and each send a full
 * inventory over wss; every one is acknowledged and stored.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { startCollector, runCollector, api, tempDir, cleanup, REPO } from '../helpers/processes.js';

const PROCS = 4, PER = 500, ITEMS = 20;

t.test('2,000 agents at once: every inventory is stored', async (t) => {
  const dir = await tempDir();
  t.teardown(() => cleanup(dir));
  // Per-IP limits are for the internet, not for one test machine playing a whole fleet.
  const c = await startCollector({ dir, extraArgs: ['--auth-fail-limit', '0', '--enroll-rate', '100000'] });
  t.teardown(() => c.stop());
  const ca = path.join(path.dirname(c.db), 'tls', 'ca.pem');
  const runs = await Promise.all(Array.from({ length: PROCS }, (_, p) => new Promise<any>((resolve, reject) => {
    execFile(process.execPath, [path.join(REPO, 'test/helpers/fleet-agents.mjs'), c.url, ca, c.secret, String(PER), String(ITEMS), `load${p}`],
      { timeout: 300_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message} ${stderr}`)) : resolve(JSON.parse(stdout.trim().split('\n').pop()!))));
  })));
  for (const r of runs) t.same(r, { enrolled: PER, delivered: PER, failed: 0, errors: [] });

  const viewer = (await runCollector(['token', 'create', '--role', 'viewer', '--db', c.db])).stdout.trim();
  let hosts: any[] = [];
  for (let cursor: string | null = ''; cursor !== null;) {
    const page = await api(c, viewer, 'GET', `/api/v1/hosts?limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
    hosts = hosts.concat(page.json.items);
    cursor = page.json.next;
  }
  t.equal(hosts.length, PROCS * PER, 'every agent is a host');
  t.equal(hosts.filter((h) => h.counts.items === ITEMS).length, PROCS * PER, 'every host has its whole inventory');
  t.ok(hosts.every((h) => h.hostname.startsWith('load')), 'host facts applied');
});
