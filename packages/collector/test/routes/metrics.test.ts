// Spec: packages/collector/src/routes/metrics.ts — the main thread's event loop delay since the
// previous scrape; the store's counts, read through the API reader.
import t, { type Test } from 'tap';
import Fastify from 'fastify';
import pino from 'pino';
import { harness, file, sha, type Harness } from '../fixtures/harness.js';
import { CollectorService } from '../../src/service.js';
import { metricsRoutes } from '../../src/routes/metrics.js';
import { Metrics } from '../../src/metrics.js';
import type { ApiReader } from '../../src/plugins/api-reader.js';

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

const gauge = (text: string, name: string): number => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);

/** Two indicators, two hosts, one alert open and one acknowledged. */
async function fleet(t: Test, h: Harness): Promise<void> {
  const evil = { id: 'T.Hash.Evil', type: 'sha256', value: sha('evil'), severity: 'high' };
  const pushed = await h.call('admin', 'POST', '/api/v1/indicators?feed=ops', { indicators: [evil, { id: 'T.Name.Gone', type: 'filename', value: 'gone.exe', severity: 'low' }] });
  t.equal(pushed.status, 200, pushed.body);
  for (const id of ['m-hostA', 'm-hostB']) { h.host(id); h.scan(id, [file('C:/evil.dll', 'evil')]); }
  const first = (await h.call('analyst', 'GET', '/api/v1/alerts?limit=1')).json.items[0];
  t.equal((await h.call('analyst', 'PATCH', `/api/v1/alerts/${first.id}`, { status: 'acknowledged' })).status, 200);
}

for (const readerThread of [false, true]) {
  t.test(`store counts agree with the database (reader ${readerThread ? 'thread' : 'inline'})`, async (t) => {
    const h = await harness(t, { file: readerThread, readerThread });
    await fleet(t, h);
    const body = (await h.call(null, 'GET', '/metrics')).body;
    const db = h.svc.db;
    t.equal(gauge(body, 'chainwatch_hosts_enrolled'), db.prepare('SELECT count(*) FROM hosts WHERE revoked_at IS NULL').pluck().get());
    t.equal(gauge(body, 'chainwatch_hosts_enrolled'), 2);
    t.equal(gauge(body, 'chainwatch_indicators_active'), db.prepare('SELECT count(*) FROM indicators WHERE retired_at IS NULL').pluck().get());
    t.equal(gauge(body, 'chainwatch_jobs_running'), 0);
    t.match(body, /^chainwatch_alerts\{status="open"\} 1$/m);
    t.match(body, /^chainwatch_alerts\{status="acknowledged"\} 1$/m);
    if (!readerThread) return;
    // Reads on the threads report their queue, run and reply times, by op.
    const reads = (text: string, op: string, part: string): number =>
      Number(new RegExp(`^chainwatch_api_read_seconds_count\\{op="${op}",part="${part}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    for (let i = 0; i < 2; i++) t.equal((await h.call('viewer', 'GET', '/api/v1/alerts?limit=5')).status, 200);
    const after = (await h.call(null, 'GET', '/metrics')).body;
    const more = (part: string) => reads(after, 'alerts', part) - reads(body, 'alerts', part);
    t.ok(more('queue') >= 2, 'each alert page\'s wait for its thread is counted');
    t.same([more('run'), more('reply')], [more('queue'), more('queue')], 'and its run and reply, once each');
    if (process.platform === 'linux') {
      // Split of the run from the kernel's per-thread counters: on a CPU, and waiting for one.
      t.same([more('cpu'), more('cpu_wait')], [more('run'), more('run')], 'on Linux, each run\'s CPU time and wait for a CPU, once each');
      const sum = (part: string) => Number(new RegExp(`^chainwatch_api_read_seconds_sum\\{op="alerts",part="${part}"\\} (\\S+)$`, 'm').exec(after)?.[1]);
      // The kernel updates a running thread's CPU time at its scheduler tick (4 ms at HZ=250): one tick of slack per read.
      t.ok(sum('cpu') >= 0 && sum('cpu_wait') >= 0 && sum('cpu') + sum('cpu_wait') <= sum('run') + 0.01 * more('run'),
        `CPU and its wait fit within the run: ${sum('cpu')} + ${sum('cpu_wait')} <= ${sum('run')}`);
    }
    t.ok(reads(after, 'gauges', 'run') >= 1, 'the scrape\'s own store counts are reads too');
  });
}

t.test('without the reader the scrape still answers, leaving the store counts out', async (t) => {
  const svc = CollectorService.open(':memory:', pino({ level: 'silent' }));
  const app = Fastify();
  t.teardown(async () => { await app.close(); svc.close(); });
  const reader: ApiReader = { read: async () => { throw Object.assign(new Error('busy'), { code: 'CW_API_BUSY' }); }, warm: () => undefined, close: async () => undefined };
  await app.register(metricsRoutes, { svc, reader, connected: () => 3, registry: new Metrics() });
  const r = await app.inject({ method: 'GET', url: '/metrics' });
  t.equal(r.statusCode, 200);
  t.equal(gauge(r.body, 'chainwatch_agents_connected'), 3);
  t.notMatch(r.body, /chainwatch_hosts_enrolled|chainwatch_alerts\{|chainwatch_indicators_active/);
});

const apiCount = (text: string, route: string): number =>
  Number(new RegExp(`^chainwatch_api_request_duration_seconds_count\\{route="${route.replace(/[/:]/g, (c) => `\\${c}`)}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);

t.test('API request durations: one series per route pattern, not per URL; /metrics and unknown paths not counted', async (t) => {
  const h = await harness(t);
  const before = (await h.call(null, 'GET', '/metrics')).body;
  for (let i = 0; i < 3; i++) t.equal((await h.call('analyst', 'GET', `/api/v1/alerts?limit=${i + 1}`)).status, 200);
  t.equal((await h.call('analyst', 'GET', '/api/v1/alerts/999999')).status, 404);
  t.equal((await h.call('analyst', 'GET', '/api/v1/no-such-thing')).status, 404);
  const after = (await h.call(null, 'GET', '/metrics')).body;
  t.equal(apiCount(after, '/api/v1/alerts') - apiCount(before, '/api/v1/alerts'), 3, 'three requests, three query strings, one series');
  t.equal(apiCount(after, '/api/v1/alerts/:id') - apiCount(before, '/api/v1/alerts/:id'), 1, 'a refused request is timed under its route');
  t.notMatch(after, /route="\/api\/v1\/no-such-thing"|route="\/metrics"|limit=/, 'no series for unknown paths, /metrics or raw URLs');
  const buckets = [...after.matchAll(/^chainwatch_api_request_duration_seconds_bucket\{route="\/api\/v1\/alerts",le="([^"]+)"\} (\d+)$/gm)].map((m) => Number(m[2]));
  t.ok(buckets.length === 16 && buckets.every((n, i) => i === 0 || n >= buckets[i - 1]!), 'cumulative buckets, +Inf last');
  t.equal(buckets[buckets.length - 1], apiCount(after, '/api/v1/alerts'), '+Inf equals the count');
});
