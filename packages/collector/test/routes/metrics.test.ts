// Spec: packages/collector/src/routes/metrics.ts — the main thread's event loop delay since the previous scrape.
import t from 'tap';
import { harness } from '../fixtures/harness.js';

const delay = (text: string, q: string): number => Number(new RegExp(`chainwatch_event_loop_delay_seconds\\{quantile="${q}"\\} ([0-9.e-]+)`).exec(text)?.[1] ?? NaN);

t.test('event loop delay: a blocked loop shows in the next scrape, and the scrape after starts afresh', async (t) => {
  const h = await harness(t);
  await h.call(null, 'GET', '/metrics');
  await new Promise((r) => setTimeout(r, 50));
  const until = Date.now() + 150;
  while (Date.now() < until) { /* hold the event loop */ }
  await new Promise((r) => setTimeout(r, 50));
  const blocked = (await h.call(null, 'GET', '/metrics')).body;
  t.ok(delay(blocked, '1') >= 0.14, `max covers the 150 ms block: ${delay(blocked, '1')} s`);
  t.ok(delay(blocked, '0.5') < delay(blocked, '1'), 'the median is the ordinary turn');
  await new Promise((r) => setTimeout(r, 200));
  const after = (await h.call(null, 'GET', '/metrics')).body;
  t.ok(delay(after, '1') < 0.1, `reset by the previous scrape: ${delay(after, '1')} s`);
});
