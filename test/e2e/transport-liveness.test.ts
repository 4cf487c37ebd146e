// A connection that stops answering pings is closed after two heartbeat intervals; one that
// answers stays. Pings go out in slices (plugins/ingest.ts), so this also covers that every
// session is still reached.
import t from 'tap';
import { startCollector, api, tempDir, cleanup } from '../helpers/processes.js';
import { connect } from '../helpers/wire.js';

t.test('an agent link that stops answering pings is closed; a live one stays', async (t) => {
  const dir = await tempDir();
  t.teardown(() => cleanup(dir));
  const c = await startCollector({ dir, extraArgs: ['--heartbeat', '1'] });
  t.teardown(() => c.stop());
  const link = async (hostId: string, autoPong: boolean) => {
    const en = await api(c, null, 'POST', '/api/v1/agents/enroll', { enroll_secret: c.secret, host_id: hostId, hostname: hostId.slice(0, 8) });
    const s = await connect(c, `Bearer ${hostId}.${en.json.token}`, {}, { autoPong });
    t.match(await s.next(), { type: 'welcome', heartbeat_s: 1 });
    return s;
  };
  const live = await link('61111111-2222-4333-8444-555555555555', true);
  const mute = await link('71111111-2222-4333-8444-555555555555', false);
  let pinged = 0;
  mute.ws.on('ping', () => { pinged++; });
  const code = await Promise.race([mute.closed, new Promise<string>((r) => setTimeout(() => r('still open'), 15_000))]);
  t.equal(code, 1006, 'the silent link was terminated');
  t.ok(pinged >= 1, `it was pinged first (${pinged})`);
  t.equal(live.ws.readyState, live.ws.OPEN, 'the answering link is open');
  live.ws.close();
});
