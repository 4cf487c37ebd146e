// What a read is expected to cost (plugins/read-costs.ts): learned per op and key, an unknown key
// of a known op costs what that op does, a never-seen op a millisecond; the newest reads weigh
// most; nonsense times are ignored; memory is bounded however many keys are read.
import t from 'tap';
import { ReadCosts, UNKNOWN_COST_MS } from '../../src/plugins/read-costs.js';
import type { ApiRead } from '../../src/store/api-reads.js';

const software = (key: string, more: Partial<Extract<ApiRead, { op: 'software' }>> = {}): ApiRead => ({ op: 'software', key, limit: 100, ...more });
const alerts = (severity?: string): ApiRead => ({ op: 'alerts', filter: severity ? { severity } : {}, limit: 50, cursor: undefined });

t.test('by key, then by op, then a millisecond', async (t) => {
  const c = new ReadCosts();
  t.equal(c.estimate(software('sw:libc6')), UNKNOWN_COST_MS, 'nothing read yet');
  c.learn(software('sw:libc6'), 60);
  t.equal(c.estimate(software('sw:libc6')), 60);
  t.equal(c.estimate(software('sw:libc6', { version: '2.36', range: '>=2' })), 60, 'a version or range filters the same hits: same cost');
  t.equal(c.estimate(software('sw:libc6', { includeRemoved: true })), 60, 'removed pairs too: its own key, costed as the op until read');
  c.learn(software('sw:rare'), 2);
  t.equal(c.estimate(software('sw:rare')), 2, 'a rare package is cheap');
  t.ok(c.estimate(software('sw:never')) > 2 && c.estimate(software('sw:never')) < 60, 'an unread key costs what the op does lately');
  t.equal(c.estimate({ op: 'key', key: 'h:00', limit: 1 }), UNKNOWN_COST_MS, 'ops are learned apart');
  c.learn(alerts('high'), 3);
  t.equal(c.estimate(alerts('high')), 3);
  t.equal(c.estimate(alerts()), 3, 'another filter: the op\'s cost');
});

t.test('the newest reads weigh most; nonsense is ignored', async (t) => {
  const c = new ReadCosts(), r = software('sw:libc6');
  c.learn(r, 10);
  for (let i = 0; i < 20; i++) c.learn(r, 100);
  t.ok(c.estimate(r) > 99 && c.estimate(r) <= 100, `follows a store that grew: ${c.estimate(r)}`);
  for (const bad of [NaN, -1, Infinity]) c.learn(r, bad);
  t.ok(c.estimate(r) > 99 && c.estimate(r) <= 100, 'NaN, negative and infinite times change nothing');
});

t.test('bounded: a flood of distinct keys keeps at most two generations', async (t) => {
  const c = new ReadCosts();
  for (let i = 0; i < 50_000; i++) c.learn(software(`sw:p${i}`), 1);
  const held = (c as unknown as { byKey: { size: number } }).byKey.size;
  t.ok(held <= 2_000, `${held} keys held`);
  t.equal(c.estimate(software('sw:p49999')), 1, 'the latest are kept');
});
