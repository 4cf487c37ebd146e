/**
 * The whole pipeline on real parts: a collector process (TLS, SQLite file), agent processes
 * scanning fixture roots that dpkg itself populated, and assertions made through the HTTP API.
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { startCollector, agentOnce, runCollector, api, tempDir, cleanup } from '../helpers/processes.js';
import { makeDebRoot } from '../helpers/fixtures.js';

const payload = Buffer.from('trojanized library for the chainwatch end-to-end test\n');
const payloadSha = createHash('sha256').update(payload).digest('hex');

t.test('agent scan → wss → collector → SQLite alerts → API', async (t) => {
  const dir = await tempDir();
  t.teardown(() => cleanup(dir));
  const c = await startCollector({ dir });
  t.teardown(() => c.stop());
  t.ok(c.fingerprint, 'collector made its own CA and printed its fingerprint');

  const admin = (await runCollector(['token', 'create', '--role', 'admin', '--db', c.db])).stdout.trim();
  const analyst = (await runCollector(['token', 'create', '--role', 'analyst', '--db', c.db])).stdout.trim();
  t.match(admin, /^cwt_/);

  const push = await api(c, admin, 'POST', '/api/v1/indicators?feed=e2e', {
    indicators: [
      { id: 'E2E.Software.EvilTool', type: 'software', name: 'evil-tool', version: '1.2.3-1', severity: 'critical', description: 'trojanized build' },
      { id: 'E2E.Software.LibFooRange', type: 'software', name: 'libfoo', version_range: '>=2.0 <2.5', severity: 'high' },
      { id: 'E2E.Hash.Payload', type: 'sha256', value: payloadSha.toUpperCase(), severity: 'critical', reference: 'test fixture' },
    ],
  });
  t.equal(push.status, 200, JSON.stringify(push.json));
  t.match(push.json, { added: 3, rejected: 0 });
  const denied = await api(c, analyst, 'POST', '/api/v1/indicators', { indicators: [{ type: 'sha256', value: 'a'.repeat(64) }] });
  t.equal(denied.status, 403, 'analysts may not push indicators');
  t.equal(denied.json.code, 'CW_AUTH_FORBIDDEN');

  const infected = path.join(dir, 'infected');
  await makeDebRoot(infected, 'infected-host', [
    { name: 'evil-tool', version: '1.2.3-1', files: { 'opt/evil/bin/tool': '#!/bin/sh\necho tool\n', 'opt/evil/lib/libevil.so': payload } },
    { name: 'libfoo', version: '2.3-1', files: { 'usr/lib/libfoo.so.2': 'libfoo 2.3' } },
    { name: 'harmless', version: '1.0', files: { 'usr/share/doc/harmless/README': 'nothing to see' } },
  ]);
  const clean = path.join(dir, 'clean');
  await makeDebRoot(clean, 'clean-host', [
    { name: 'evil-tool', version: '1.2.4-1', files: { 'opt/evil/bin/tool': '#!/bin/sh\necho fixed tool\n', 'opt/evil/lib/libevil.so': 'fixed library' } },
    { name: 'libfoo', version: '2.5-1', files: { 'usr/lib/libfoo.so.2': 'libfoo 2.5' } },
  ]);

  const r1 = await agentOnce(c, infected, path.join(dir, 'state-infected'));
  t.equal(r1.code, 0, r1.stderr);
  t.match(r1.stdout, /delivered \d+ items/);
  const r2 = await agentOnce(c, clean, path.join(dir, 'state-clean'));
  t.equal(r2.code, 0, r2.stderr);

  const hosts = await api(c, analyst, 'GET', '/api/v1/hosts');
  t.equal(hosts.status, 200);
  t.equal(hosts.json.items.length, 2, 'two hosts enrolled');
  const byName = Object.fromEntries(hosts.json.items.map((h: any) => [h.hostname, h]));
  t.ok(byName['infected-host'] && byName['clean-host'], 'hostnames come from the scanned roots');
  t.equal(byName['infected-host'].counts.software, 3);
  t.equal(byName['clean-host'].counts.open_alerts, 0, 'clean host has no alert');

  const alerts = await api(c, analyst, 'GET', '/api/v1/alerts');
  t.equal(alerts.status, 200);
  const got = alerts.json.items.map((a: any) => ({ host: a.host.hostname, indicator: a.indicator.id, severity: a.severity, status: a.status,
    item: a.item.kind === 'file' ? a.item.path : `${a.item.name} ${a.item.version}` })).sort((a: any, b: any) => a.indicator.localeCompare(b.indicator));
  t.same(got, [
    { host: 'infected-host', indicator: 'E2E.Hash.Payload', severity: 'critical', status: 'open', item: '/opt/evil/lib/libevil.so' },
    { host: 'infected-host', indicator: 'E2E.Software.EvilTool', severity: 'critical', status: 'open', item: 'evil-tool 1.2.3-1' },
    { host: 'infected-host', indicator: 'E2E.Software.LibFooRange', severity: 'high', status: 'open', item: 'libfoo 2.3-1' },
  ], 'exactly the planted compromises, on the infected host only');
  const hashAlert = alerts.json.items.find((a: any) => a.indicator.id === 'E2E.Hash.Payload');
  t.equal(hashAlert.item.sha256, payloadSha);
  t.equal(hashAlert.item.package, 'dpkg:evil-tool', 'file knows its owning package');

  // A second inventory of the same host deduplicates: same alerts, later last_seen.
  const again = await agentOnce(c, infected, path.join(dir, 'state-infected'));
  t.equal(again.code, 0, again.stderr);
  const alerts2 = await api(c, analyst, 'GET', '/api/v1/alerts?status=open');
  t.equal(alerts2.json.items.length, 3, 'rescan does not duplicate alerts');

  const inv = await api(c, analyst, 'GET', `/api/v1/hosts/${byName['infected-host'].id}/inventory?limit=2`);
  t.equal(inv.status, 200);
  t.equal(inv.json.items.length, 2);
  t.type(inv.json.next, 'string', 'inventory pages with a cursor');
  const page2 = await api(c, analyst, 'GET', `/api/v1/hosts/${byName['infected-host'].id}/inventory?limit=1000&cursor=${inv.json.next}`);
  t.ok(page2.json.items.every((i: any) => typeof i.kind === 'string' && typeof i.key === 'string'), 'items in scan --json shape');
  t.equal(page2.json.next, null);

  const unauth = await api(c, null, 'GET', '/api/v1/alerts');
  t.equal(unauth.status, 401);
  t.equal(unauth.json.code, 'CW_AUTH_MISSING');
  const forged = await api(c, 'cwt_forged', 'GET', '/api/v1/alerts');
  t.equal(forged.status, 401);
  t.equal(forged.json.code, 'CW_AUTH_BAD_TOKEN');
});

t.test('indicators pushed after the inventory are found by retro-hunt', async (t) => {
  const dir = await tempDir();
  t.teardown(() => cleanup(dir));
  const c = await startCollector({ dir });
  t.teardown(() => c.stop());
  const root = path.join(dir, 'host');
  await makeDebRoot(root, 'early-host', [{ name: 'evil-tool', version: '1.2.3-1', files: { 'opt/evil/lib/libevil.so': payload } }]);
  t.equal((await agentOnce(c, root, path.join(dir, 'state'))).code, 0);
  const admin = (await runCollector(['token', 'create', '--role', 'admin', '--db', c.db])).stdout.trim();
  t.same((await api(c, admin, 'GET', '/api/v1/alerts')).json.items, [], 'nothing known yet');

  const push = await api(c, admin, 'POST', '/api/v1/indicators', { indicators: [{ id: 'Late.Hash', type: 'sha256', value: payloadSha }] });
  t.equal(push.status, 200);
  t.type(push.json.job, 'string');
  let job;
  for (let i = 0; i < 100; i++) {
    job = (await api(c, admin, 'GET', `/api/v1/jobs/${push.json.job}`)).json;
    if (job.status !== 'running') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  t.equal(job.status, 'done');
  const alerts = (await api(c, admin, 'GET', '/api/v1/alerts')).json.items;
  t.equal(alerts.length, 1);
  t.equal(alerts[0].retro, true, 'marked as a retro-hunt finding');
  t.ok(alerts[0].item_first_seen < alerts[0].first_seen, 'carries when the item was first seen on the host');
});
