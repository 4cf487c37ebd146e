// The fleet bench's API load (src/api-load.ts): one autocannon load whose responses are split
// by take(), each connection's first response (its connect and handshake included) apart from
// the latencies; errors and non-2xx answers counted.
import t from 'tap';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startApiLoad } from '../src/api-load.js';

t.test('take() splits the responses; first responses per connection are apart', async (t) => {
  let slowFirst = 2;
  const server = http.createServer((req, res) => {
    // The first request on each of the two connections is slow, as a handshake under load would be.
    const delay = slowFirst-- > 0 ? 150 : 0;
    setTimeout(() => { res.writeHead(req.url === '/bad' ? 500 : 200, { 'content-type': 'application/json' }); res.end('{}'); }, delay);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const load = startApiLoad(url, 'x', [{ name: 'ok', path: '/ok' }, { name: 'bad', path: '/bad' }], 40);
  await new Promise((r) => setTimeout(r, 1500));
  const first = load.take();
  await new Promise((r) => setTimeout(r, 1000));
  const second = await load.stop();
  const [ok1, bad1] = first, [ok2, bad2] = second;
  t.same([ok1!.name, bad1!.name], ['ok', 'bad']);
  t.equal(ok1!.first_on_connection.requests + bad1!.first_on_connection.requests, 4, 'two connections per target, each with one first response');
  t.ok(Math.max(ok1!.first_on_connection.max, bad1!.first_on_connection.max) >= 140, 'the slow first answers are there');
  t.ok(ok1!.max < 140 && bad1!.max < 140, `and not in the latencies: max ${ok1!.max}, ${bad1!.max}`);
  t.ok(ok1!.requests >= 20 && ok2!.requests >= 20, `requests in each take: ${ok1!.requests}, ${ok2!.requests}`);
  t.same([ok2!.first_on_connection.requests, bad2!.first_on_connection.requests], [0, 0], 'the connections stay open across takes');
  t.equal(ok1!.non2xx + ok2!.non2xx, 0);
  t.equal(bad1!.non2xx, bad1!.requests, 'every 500 counted');
  t.equal(bad2!.non2xx, bad2!.requests);
  t.ok(ok1!.p50 <= ok1!.p99 && ok1!.p99 <= ok1!.max);
});
