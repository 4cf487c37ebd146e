/**
 * Hostile and broken input over real sockets: each gets a clear error and leaves the
 * database exactly as it was.
 */
import t from 'tap';
import { startCollector, runCollector, api, tempDir, cleanup } from '../helpers/processes.js';
import { snapshot, enroll, connect } from '../helpers/wire.js';

t.test('bad input changes nothing', async (t) => {
  const dir = await tempDir();
  t.teardown(() => cleanup(dir));
  const c = await startCollector({ dir });
  t.teardown(() => c.stop());
  const hostId = '11111111-2222-4333-8444-555555555555';
  const token = await enroll(c, hostId);
  const before = snapshot(c.db);

  const s = await connect(c, `Bearer ${hostId}.${token}`);
  const welcome = await s.next();
  t.match(welcome, { type: 'welcome', host_id: hostId, last_seq: 0 });

  s.ws.send('{"v":1,"type":"inventory",');
  t.match(await s.next(), { type: 'error', code: 'CW_PROTO_BAD_JSON' }, 'malformed JSON');
  s.ws.send(JSON.stringify({ v: 1, type: 'run_command', seq: 1, cmd: 'id' }));
  t.match(await s.next(), { type: 'error', code: 'CW_PROTO_UNKNOWN_TYPE' }, 'unknown frame type');
  s.ws.send(JSON.stringify({ v: 1, type: 'inventory', seq: 2, scan_id: 'x', mode: 'full', part: 0, final: true,
    items: [{ kind: 'software', key: 'software:dpkg:system:ok', source: 'dpkg', name: 'ok', version: '1' }, { kind: 'software', key: 'k', name: 42 }] }));
  t.match(await s.next(), { type: 'error', code: 'CW_PROTO_BAD_FRAME', seq: 2, message: /items\/1/ }, 'one bad item rejects the whole batch');
  s.ws.send(JSON.stringify({ v: 1, type: 'inventory', seq: -5, scan_id: 'x', mode: 'full', part: 0, final: true, items: [] }));
  t.match(await s.next(), { type: 'error', code: 'CW_PROTO_BAD_FRAME' }, 'negative sequence');
  s.ws.close();
  t.same(snapshot(c.db), before, 'database unchanged by bad frames');

  const wrongSecret = await api(c, null, 'POST', '/api/v1/agents/enroll', { enroll_secret: 'wrong', host_id: '21111111-2222-4333-8444-555555555555', hostname: 'x' });
  t.equal(wrongSecret.status, 401);
  t.equal(wrongSecret.json.code, 'CW_ENROLL_BAD_SECRET');
  const noToken = await connect(c, null);
  t.equal(noToken.status, 401, 'stream without credentials refused before upgrade');
  const badToken = await connect(c, `Bearer ${hostId}.cwa_forged`);
  t.equal(badToken.status, 401, 'forged agent token refused');
  const noApiToken = await api(c, null, 'POST', '/api/v1/indicators', { indicators: [{ type: 'sha256', value: 'a'.repeat(64) }] });
  t.equal(noApiToken.status, 401);
  t.equal(noApiToken.json.code, 'CW_AUTH_MISSING');
  t.same(snapshot(c.db), before, 'database unchanged by refused requests');

  // The collector is still serving: a valid batch is committed and acknowledged.
  const ok = await connect(c, `Bearer ${hostId}.${token}`);
  await ok.next();
  ok.ws.send(JSON.stringify({ v: 1, type: 'inventory', seq: 3, scan_id: 'y', mode: 'full', part: 0, final: true,
    items: [{ kind: 'software', key: 'software:dpkg:system:ok:all', source: 'dpkg', name: 'ok', version: '1', arch: 'all' }] }));
  t.match(await ok.next(), { type: 'ack', seq: 3, applied: true });
  ok.ws.send(JSON.stringify({ v: 1, type: 'inventory', seq: 3, scan_id: 'y', mode: 'full', part: 0, final: true,
    items: [{ kind: 'software', key: 'software:dpkg:system:ok:all', source: 'dpkg', name: 'ok', version: '1', arch: 'all' }] }));
  t.match(await ok.next(), { type: 'ack', seq: 3, applied: false }, 'a replayed batch is acknowledged, not applied twice');
  ok.ws.close();
  t.equal(snapshot(c.db).host_seq, 3, 'only the valid batch advanced the sequence');
  const viewer = (await runCollector(['token', 'create', '--role', 'viewer', '--db', c.db])).stdout.trim();
  const inv = await api(c, viewer, 'GET', `/api/v1/hosts/${hostId}/inventory`);
  t.same(inv.json.items.map((i: any) => i.key), ['software:dpkg:system:ok:all'], 'exactly the valid batch is stored');
});
