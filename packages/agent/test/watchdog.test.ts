// Spec: packages/agent/src/watchdog.ts — trips on a limit, logs the figures, backs off.
import { Writable } from 'node:stream';
import t from 'tap';
import { pino } from 'pino';
import { startWatchdog, type WatchdogTrip } from '../src/watchdog.js';
import { backOffActive, clearBackOff, createCpuThrottle } from '../src/throttle.js';

function capture(): { log: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({ write(chunk, _enc, cb) { lines.push(JSON.parse(String(chunk))); cb(); } });
  return { log: pino({ level: 'info' }, stream), lines };
}

const flush = () => new Promise((r) => setImmediate(r));

t.afterEach(() => clearBackOff());

t.test('RSS over the limit: logged with figures, hashing backs off', async (t) => {
  const { log, lines } = capture();
  const trips: WatchdogTrip[] = [];
  const wd = startWatchdog({ log, maxRssMb: 1, intervalMs: 60_000, onTrip: (x) => trips.push(x) });
  t.teardown(() => wd.stop());
  const trip = wd.check();
  await flush();
  t.match(trip, { limit: 'rss', maxRssMb: 1 });
  t.ok(trip!.rssMb > 1, 'actual RSS reported');
  t.equal(trips.length, 1);
  t.equal(wd.trips, 1);
  t.match(lines.find((l) => l.msg === 'watchdog limit exceeded, backing off'), {
    level: 40, component: 'watchdog', limit: 'rss', maxRssMb: 1, rssMb: Number,
  });
  t.ok(backOffActive(), 'back-off requested');
  t.equal(createCpuThrottle(0).concurrency(4), 1, 'hashing drops to one thread');
});

t.test('CPU: trips only when sustained, then recovers', async (t) => {
  const { log, lines } = capture();
  const wd = startWatchdog({ log, maxRssMb: 0, maxCpuPercent: 1, sustainedSamples: 2, intervalMs: 60_000 });
  t.teardown(() => wd.stop());
  const burn = () => { const end = Date.now() + 100; while (Date.now() < end) { /* spin */ } };
  burn();
  t.equal(wd.check(), undefined, 'one busy sample is a burst, not a trip');
  burn();
  const trip = wd.check();
  t.match(trip, { limit: 'cpu', maxCpuPercent: 1 });
  t.ok(trip!.cpuPercent > 1, 'measured CPU reported');
  await new Promise((r) => setTimeout(r, 200));
  t.equal(wd.check(), undefined);
  await flush();
  t.ok(lines.some((l) => l.msg === 'watchdog back under limits'), 'recovery logged');
});

t.test('without a limit the throttle lets batches through', async (t) => {
  const throttle = createCpuThrottle(0);
  await throttle.wait(new AbortController().signal);
  t.equal(throttle.sleptMs, 0);
  t.equal(throttle.concurrency(2), 2);
  t.equal(createCpuThrottle(10).concurrency(2), 1, 'under one core, one thread');
});
