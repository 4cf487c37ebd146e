// The writer's cache keeps what is used and holds at most two generations.
import t from 'tap';
import { GenerationalMap } from '../../src/store/generational-map.js';

t.test('bounded to two generations; a used entry survives eviction, an unused one does not', async (t) => {
  const m = new GenerationalMap<number, string>(3);
  for (let i = 1; i <= 3; i++) m.set(i, `v${i}`);
  m.set(4, 'v4'); // 1..3 become the older generation
  t.equal(m.size, 4);
  t.equal(m.get(1), 'v1', 'found in the older generation, moved to the current one');
  m.set(5, 'v5'); // current: 4, 1, 5 — full
  m.set(6, 'v6'); // older: 4, 1, 5; 2 and 3 dropped
  t.equal(m.get(2), undefined, 'unused entry dropped');
  t.equal(m.get(3), undefined);
  t.equal(m.get(1), 'v1', 'the used entry survived');
  t.ok(m.size <= 6, `at most two generations held (${m.size})`);
  for (let i = 0; i < 1000; i++) m.set(100 + i, 'x');
  t.ok(m.size <= 6, 'still bounded after many inserts');
  m.set(1100, 'y'); m.set(1100, 'z');
  t.equal(m.get(1100), 'z', 'set replaces in place');
  m.clear();
  t.equal(m.size, 0);
  t.equal(m.get(1100), undefined);
});

t.test('a hot set used every generation survives a long cold tail; the bound holds at every step', async (t) => {
  const per = 100;
  const m = new GenerationalMap<string, number>(per);
  const hot = Array.from({ length: 20 }, (_, i) => `hot${i}`);
  hot.forEach((k, i) => m.set(k, i));
  let maxSize = 0, lostHot = 0;
  for (let i = 0; i < 10_000; i++) {
    m.set(`cold${i}`, i);
    maxSize = Math.max(maxSize, m.size);
    if (i % 50 === 0) for (const [j, k] of hot.entries()) if (m.get(k) !== j) lostHot++;
  }
  t.equal(lostHot, 0, 'every hot key was found every time');
  t.ok(maxSize <= 2 * per, `never more than two generations held (max ${maxSize})`);
  t.equal(m.get('cold0'), undefined, 'an early cold key is long gone');
  t.equal(m.get('cold9999'), 9999, 'the latest cold key is there');
});
