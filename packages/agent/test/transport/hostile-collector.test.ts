/**
 * A fake collector sends the real agent process unknown and hostile frames: command-like
 * types, paths, out-of-bound config, junk bytes, floods of rescans. The agent must ignore
 * them (no file touched, nothing run), stay connected, and still deliver its inventory.
 */
import t from 'tap';
import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fakeCollector, runAgentOnce } from '../helpers/fake-collector.js';

t.test('agent ignores hostile collector frames', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cw-hostile-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const pwned = path.join(dir, 'PWNED');
  const root = path.join(dir, 'root');
  await mkdir(path.join(root, 'var/lib/dpkg'), { recursive: true });
  await writeFile(path.join(root, 'var/lib/dpkg/status'), 'Package: a\nStatus: install ok installed\nArchitecture: all\nVersion: 1\n');
  const hostId = '81111111-2222-4333-8444-555555555555';
  const fc = await fakeCollector(t, dir, hostId);
  const received: any[] = [];
  fc.wss.on('connection', (ws) => {
    const hostile = [
      JSON.stringify({ v: 1, type: 'exec', cmd: `touch ${pwned}` }),
      JSON.stringify({ v: 1, type: 'rescan', path: '/etc/shadow' }),
      JSON.stringify({ v: 1, type: 'config', rescan_interval_s: 1, heartbeat_s: 0 }),
      JSON.stringify({ v: 1, type: 'config', command: `touch ${pwned}` }),
      JSON.stringify({ v: 1, type: 'read_file', path: '/etc/passwd' }),
      JSON.stringify({ v: 1, type: 'welcome', host_id: hostId, last_seq: -4, heartbeat_s: 60 }),
      '{"v":1,"type":"ack","seq":', Buffer.from([0xff, 0xfe, 0x00]), '['.repeat(10_000),
      JSON.stringify({ v: 1, type: 'ack', seq: 1, applied: true, __proto__: { polluted: true } }).replace('"applied"', '"__proto__":{"x":1},"applied"'),
      JSON.stringify({ v: 1, type: 'error', code: 'X'.repeat(10_000), message: 'm' }),
      ...Array.from({ length: 50 }, () => JSON.stringify({ v: 1, type: 'rescan' })),
    ];
    for (const f of hostile) ws.send(f);
    ws.send(JSON.stringify({ v: 1, type: 'welcome', host_id: hostId, last_seq: 0, heartbeat_s: 60 }));
    ws.on('message', (d) => {
      const f = JSON.parse(d.toString());
      received.push(f);
      if (f.type === 'inventory') ws.send(JSON.stringify({ v: 1, type: 'ack', seq: f.seq, applied: true }));
    });
  });
  const out = await runAgentOnce(fc, root);
  t.equal(out.code, 0, out.stderr.slice(-1500));
  t.match(out.stdout, /delivered \d+ items/);
  t.notOk(existsSync(pwned), 'nothing the collector sent ran a command');
  t.match(out.stderr, /ignored invalid frame from collector/);
  t.ok((out.stderr.match(/ignored invalid frame/g) ?? []).length >= 8, 'every hostile frame was ignored');
  t.notOk(out.stderr.includes('root:x:0:0'), 'no file content read on request');
  t.ok(received.every((f) => f.type === 'inventory' || f.type === 'heartbeat'), 'agent sent only its own typed frames');
});
