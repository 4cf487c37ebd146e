// A quiet agent connection gives back its zlib inflater, and the next compressed frame still
// arrives whole: against the ws version installed (the release reads ws's own fields), with a
// client configured as the agent's (perMessageDeflate: true).
import t, { type Test } from 'tap';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, WebSocket } from 'ws';
import { DEFLATE, releaseInflater } from '../../src/plugins/ws-deflate.js';

const frame = (n: number): string => JSON.stringify({ n, items: Array.from({ length: 200 }, (_, i) => ({ kind: 'file', path: `/usr/lib/f${i}.so`, n })) });

/** A loopback server with `deflate` and a client configured as the agent's; both ends of the connection. */
async function pair(t: Test, deflate: typeof DEFLATE | Record<string, unknown>): Promise<{ client: WebSocket; server: WebSocket }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: deflate });
  await once(wss, 'listening');
  t.teardown(() => new Promise<void>((r) => wss.close(() => r())));
  const accepted = once(wss, 'connection') as Promise<[WebSocket]>;
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, { perMessageDeflate: true });
  t.teardown(() => client.terminate());
  await once(client, 'open');
  const [server] = await accepted;
  return { client, server };
}

t.test('the inflater is closed between messages and made again for the next one', async (t) => {
  const { client, server } = await pair(t, DEFLATE);
  const received: string[] = [];
  server.on('message', (d: Buffer) => received.push(d.toString()));
  const next = async (n: number) => { client.send(frame(n)); while (received.length < n) await new Promise((r) => setTimeout(r, 5)); };

  t.notOk(releaseInflater(server), 'nothing to release before the first compressed frame');
  await next(1);
  const pmd = (server as unknown as { _extensions: Record<string, { _inflate: unknown; params: Record<string, unknown> }> })._extensions['permessage-deflate']!;
  t.equal(pmd.params.client_no_context_takeover, true, 'no context takeover negotiated on the agent side');
  t.ok(pmd._inflate, 'an inflater after a compressed frame');
  t.ok(releaseInflater(server), 'released while quiet');
  t.equal(pmd._inflate, null);
  await next(2);
  await next(3);
  t.same(received, [frame(1), frame(2), frame(3)], 'later frames inflate from a fresh state, whole');
  t.ok(releaseInflater(server));
});

t.test('a connection that negotiated context takeover keeps its inflater', async (t) => {
  const { client, server } = await pair(t, { ...DEFLATE, clientNoContextTakeover: false });
  const got = once(server, 'message');
  client.send(frame(1));
  await got;
  t.notOk(releaseInflater(server), 'its window carries over to the next message: not released');
});
