// The API reader (plugins/api-reader.ts): on a file database the alert list and search run on
// reader threads and answer byte for byte what inline reads answer; the bodies match the shared
// schemas; each read goes to the thread expected to be free first, so a cheap read does not wait
// behind a known long one; a lost or overrunning thread fails only what it held and the next
// read starts a new one; a backlog past MAX_QUEUED is refused with CW_API_BUSY.
import t from 'tap';
import pino from 'pino';
import Type from 'typebox';
import { ApiAlert, Page, compileChecker, normalizeSoftwareName } from '@chainwatch/shared';
import { harness, software, file, sha } from '../fixtures/harness.js';
import { apiReader, LONG_READ_MS, MAX_QUEUED, READER_THREADS, type ApiReader } from '../../src/plugins/api-reader.js';
import type { ReadCosts } from '../../src/plugins/read-costs.js';
import type { ApiRead } from '../../src/store/api-reads.js';

const silent = pino({ level: 'silent' });
const alertPage = compileChecker(Page(ApiAlert));
const searchAnswer = compileChecker(Type.Object({
  hosts: Type.Array(Type.Object({ id: Type.String(), hostname: Type.String(), items: Type.Array(Type.Object({
    item: Type.Object({}), first_seen: Type.String(), last_seen: Type.String(), removed_at: Type.Union([Type.String(), Type.Null()]),
  }, { additionalProperties: false })) }, { additionalProperties: false })),
  total_hosts: Type.Integer(), total_items: Type.Integer(), truncated: Type.Boolean(),
  versions: Type.Optional(Type.Array(Type.Object({ version: Type.String(), hosts: Type.Integer() }, { additionalProperties: false }))),
}, { additionalProperties: false }));

async function seeded(t: Parameters<typeof harness>[0], readerThread = false) {
  const h = await harness(t, { file: true, readerThread });
  const push = await h.call('admin', 'POST', '/api/v1/indicators?feed=ops', { indicators: [
    { id: 'T.Sw.XTrader', type: 'software', name: 'X_TRADER', discontinued: true, severity: 'critical' },
    { id: 'T.Hash.Evil', type: 'sha256', value: sha('evil'), severity: 'high' },
  ] });
  t.equal(push.status, 200, push.body);
  ['alpha', 'beta', 'gamma'].forEach((n, i) => {
    h.host(`h${i}`, n);
    h.scan(`h${i}`, [software('X_TRADER', `7.1${7 + i}.1`), file('C:/evil.dll', 'evil'), file(`C:/own-${i}.dll`, n)]);
  });
  return h;
}

/** The pool's insides, as the tests look at them. */
interface Lane { worker: { terminate(): Promise<number> } | null; served: number; backlogMs: number }
const insides = (r: ApiReader) => r as unknown as { lanes: Lane[]; costs: ReadCosts; shared: number };

/** A search for a package the seeded hosts hold, and an alert page: a long and a cheap read. */
const search: ApiRead = { op: 'software', key: `sw:${normalizeSoftwareName('X_TRADER')}`, limit: 100 };
const list: ApiRead = { op: 'alerts', filter: {}, limit: 10, cursor: undefined };

const READS: Array<[string, ApiRead, 'alerts' | 'search']> = [
  ['/api/v1/alerts?limit=2', { op: 'alerts', filter: {}, limit: 2, cursor: undefined }, 'alerts'],
  ['/api/v1/alerts?severity=high', { op: 'alerts', filter: { severity: 'high' }, limit: 100, cursor: undefined }, 'alerts'],
  ['/api/v1/search/software?name=x-trader&range=%3E%3D7.18', { op: 'software', key: `sw:${normalizeSoftwareName('X_TRADER')}`, range: '>=7.18', limit: 1000 }, 'search'],
  ['/api/v1/search/software?name=X_TRADER&version=7.17.1', { op: 'software', key: `sw:${normalizeSoftwareName('X_TRADER')}`, version: '7.17.1', limit: 1000 }, 'search'],
  [`/api/v1/search/files?sha256=${sha('evil')}&limit=2`, { op: 'key', key: `h:${sha('evil')}`, limit: 2 }, 'search'],
];

t.test('on a file database: routes answer from the thread, as inline reads do, in the shared shapes', async (t) => {
  const h = await seeded(t, true);
  const thread = apiReader(h.svc.db, silent, { thread: true }), inline = apiReader(h.svc.db, silent, { thread: false });
  t.teardown(() => thread.close());
  for (const [url, read, shape] of READS) {
    const r = await h.call('viewer', 'GET', url);
    t.equal(r.status, 200, `${url}: ${r.body}`);
    t.equal(r.headers['content-type'], 'application/json; charset=utf-8');
    const fromThread = (await thread.read(read)).toString('utf8');
    t.equal(fromThread, (await inline.read(read)).toString('utf8'), `${url}: thread and inline bodies are the same bytes`);
    t.equal(r.body, fromThread, `${url}: the route's body is the read's`);
    const check = shape === 'alerts' ? alertPage : searchAnswer;
    t.ok(check.check(r.json), `${url}: ${check.check(r.json) ? 'matches its schema' : check.explain(r.json)}`);
  }
  const page = await h.call('viewer', 'GET', '/api/v1/alerts?limit=2');
  t.same([page.json.items.length, typeof page.json.next], [2, 'string'], 'nine alerts (the bundled feed names X_TRADER too), a page of two and a cursor');
  const next = await h.call('viewer', 'GET', `/api/v1/alerts?limit=10&cursor=${page.json.next}`);
  t.equal(next.json.items.length, 7, 'the cursor pages through the thread as well');
  const sw = await h.call('viewer', 'GET', '/api/v1/search/software?name=x-trader&range=%3E%3D7.18');
  t.same(sw.json.hosts.map((x: any) => x.hostname), ['beta', 'gamma'], 'the range is applied on the thread');
  t.equal((await h.call(null, 'GET', '/api/v1/alerts')).status, 401, 'authentication still comes first');
});

t.test('a lost thread fails what it held; the next read starts a new one', async (t) => {
  const h = await seeded(t);
  const errors: unknown[] = [];
  const log = pino({ level: 'error' }, { write: (line: string) => { errors.push(JSON.parse(line)); } });
  const pool = apiReader(h.svc.db, log, { thread: true });
  t.teardown(() => pool.close());
  pool.warm();
  t.equal(insides(pool).lanes.length, READER_THREADS);
  t.ok(insides(pool).lanes.every((l) => l.worker), 'warm() starts every thread before any read');
  const reader = apiReader(h.svc.db, log, { thread: true, threads: 2 });
  t.teardown(() => reader.close());
  const read: ApiRead = { op: 'alerts', filter: {}, limit: 10, cursor: undefined };
  const page = (limit: number): ApiRead => ({ ...read, limit });
  t.equal(JSON.parse((await reader.read(read)).toString()).items.length, 9);
  // A thread as the pool holds it: terminate it from outside, with reads in flight on both.
  const [first, second] = insides(reader).lanes;
  const inFlight = [reader.read(page(10)), reader.read(page(11)), reader.read(page(12)), reader.read(page(13))];
  t.ok(first!.backlogMs > 0 && second!.backlogMs > 0, 'the reads are spread over both threads');
  const servedBefore = second!.served;
  await first!.worker!.terminate();
  const outcomes = await Promise.all(inFlight.map((p) => p.then(() => 'ok', (err: Error) => err.message)));
  t.ok(outcomes.every((o) => o === 'ok' || /API reader exited/.test(o)), `each read answered or failed with the loss: ${outcomes}`);
  t.equal(second!.served - servedBefore, 2, 'the other thread answered its own reads');
  t.equal(first!.backlogMs, 0, 'the lost thread holds nothing');
  t.equal(JSON.parse((await reader.read(read)).toString()).items.length, 9, 'a new thread answers');
  t.ok(first!.worker, 'the next read started a new thread in the lost one\'s place');

  const slow = apiReader(h.svc.db, log, { thread: true, timeoutMs: 1 });
  t.teardown(() => slow.close());
  await t.rejects(slow.read(read), /ran past 1 ms/, 'a read past its time costs the thread');
  t.ok(errors.some((e: any) => /API reader thread lost/.test(e.msg)), 'the loss is logged');
});

t.test('a read goes to the thread expected to be free first: cheap reads do not queue behind a long one', async (t) => {
  const h = await seeded(t);
  const reader = apiReader(h.svc.db, silent, { thread: true, threads: 2 });
  t.teardown(() => reader.close());
  // Both kinds read once: the threads report each read's time, and the pool learns it.
  const learned: Array<[string, number]> = [];
  const costs = insides(reader).costs, learn = costs.learn.bind(costs);
  costs.learn = (r, ms) => { learned.push([r.op, ms]); learn(r, ms); };
  await reader.read(search); await reader.read(list);
  t.same(learned.map(([op]) => op), ['software', 'alerts'], 'each answer carries its time on the thread');
  t.ok(learned.every(([, ms]) => ms > 0 && ms < 10_000), `times are plausible: ${JSON.stringify(learned)}`);
  // Timing on a test machine varies: teach the costs a fleet-sized store has (search 60 ms, list 1 ms).
  for (let i = 0; i < 20; i++) { learn(search, 60); learn(list, 1); }
  const [a, b] = insides(reader).lanes;
  const before = [a!.served, b!.served];
  const lists = (n: number) => Array.from({ length: n }, (_, i) => reader.read({ ...list, limit: 10 + i }));
  const answers = await Promise.all([reader.read(search), ...lists(3)]);
  t.same([a!.served - before[0]!, b!.served - before[1]!], [1, 3], 'the search took one thread, the three lists the other');
  t.same(answers.slice(1).map((x) => JSON.parse(x.toString()).items.length), [9, 9, 9]);
  t.ok(JSON.parse(answers[0]!.toString()).hosts.length > 0, 'the search answered');
  // With the costs the same, reads alternate: each goes where less is queued.
  const [c, d] = [a!.served, b!.served];
  await Promise.all(lists(4));
  t.same([a!.served - c, b!.served - d], [2, 2], 'equal reads are shared');
});

t.test('a long read never takes the last thread: cheap reads always have one free of long ones', async (t) => {
  const h = await seeded(t);
  const reader = apiReader(h.svc.db, silent, { thread: true, threads: 3 });
  t.teardown(() => reader.close());
  const costs = insides(reader).costs;
  for (let i = 0; i < 20; i++) { costs.learn(search, 60); costs.learn(list, 1); }
  t.ok(costs.estimate(search) > LONG_READ_MS && costs.estimate(list) <= LONG_READ_MS, 'the search is long, the list cheap');
  const lanes = insides(reader).lanes;
  const served = () => lanes.map((l) => l.served);
  let before = served();
  // The fleet bench's burst: two searches and two lists at once, then three searches alone.
  const searches = (n: number) => Array.from({ length: n }, (_, i) => reader.read({ ...search, limit: 100 + i }));
  await Promise.all([...searches(2), reader.read(list), reader.read({ ...list, limit: 11 })]);
  t.same(served().map((n, i) => n - before[i]!), [1, 1, 2], 'a search on each of the first two threads, the lists on the third');
  before = served();
  await Promise.all(searches(3));
  t.same(served().map((n, i) => n - before[i]!), [2, 1, 0], 'searches queue on the first two rather than take the third');
  const single = apiReader(h.svc.db, silent, { thread: true, threads: 1 });
  t.teardown(() => single.close());
  for (let i = 0; i < 20; i++) insides(single).costs.learn(search, 60);
  t.ok(JSON.parse((await single.read(search)).toString()).hosts.length > 0, 'with one thread, long reads take it');
});

t.test('past MAX_QUEUED waiting reads, more are refused with CW_API_BUSY (503)', async (t) => {
  const h = await seeded(t);
  const reader = apiReader(h.svc.db, silent, { thread: true });
  t.teardown(() => reader.close());
  const read: ApiRead = { op: 'key', key: `h:${sha('evil')}`, limit: 10 };
  const all = Array.from({ length: MAX_QUEUED + 5 }, (_, i) => reader.read({ ...read, limit: 10 + i }).then(() => 'ok', (e: { code?: string; statusCode?: number }) => `${e.code} ${e.statusCode}`));
  const outcomes = await Promise.all(all);
  t.equal(outcomes.filter((o) => o === 'ok').length, MAX_QUEUED);
  t.same([...new Set(outcomes.filter((o) => o !== 'ok'))], ['CW_API_BUSY 503']);
  t.equal((await reader.read(read)).length > 0, true, 'the backlog drained, reads are taken again');
  await reader.close();
  await t.rejects(reader.read(read), { code: 'CW_API_BUSY' }, 'a closed reader takes nothing');
});

t.test('a read the same as one in flight shares its answer, unless this collector wrote since it was sent', async (t) => {
  const h = await seeded(t, true);
  const shared: string[] = [];
  const reader = apiReader(h.svc.db, silent, { thread: true, onShared: (op) => shared.push(op) });
  t.teardown(() => reader.close());
  const served = () => insides(reader).lanes.reduce((n, l) => n + l.served, 0);
  await reader.read(search);
  let before = served();
  const [a, b, c] = await Promise.all([reader.read(search), reader.read({ ...search }), reader.read({ ...search, limit: 99 })]);
  t.equal(served() - before, 2, 'the same search twice ran once; the other limit is another read');
  t.equal(a, b, 'both callers got the one answer');
  t.not(a.toString(), '');
  t.same([insides(reader).shared, shared], [1, ['software']], 'the sharing is counted and reported by op');
  t.same(JSON.parse(c.toString()).hosts.length, JSON.parse(a.toString()).hosts.length);
  before = served();
  await reader.read(search);
  t.equal(served() - before, 1, 'once answered, the same read runs again: nothing is cached');
  // A write on the collector's own connection while the first read is out: the second must see it.
  before = served();
  const first = reader.read(search);
  h.svc.db.exec('CREATE TEMP TABLE IF NOT EXISTS written (x); INSERT INTO written VALUES (1)');
  await Promise.all([first, reader.read(search)]);
  t.equal(served() - before, 2, 'after a write here, the same read runs again');
  t.equal(insides(reader).shared, 1);
  // End to end, on the app's own reader threads: a page asked while an earlier one may still be
  // out, after an acknowledgement, shows the acknowledgement.
  const list = await h.call('viewer', 'GET', '/api/v1/alerts?limit=100');
  const open = list.json.items.find((x: any) => x.status === 'open');
  t.ok(open, 'an open alert');
  const earlier = h.call('viewer', 'GET', '/api/v1/alerts?limit=100');
  const ack = await h.call('analyst', 'PATCH', `/api/v1/alerts/${open.id}`, { status: 'acknowledged' });
  t.equal(ack.status, 200, ack.body);
  const after = await h.call('viewer', 'GET', '/api/v1/alerts?limit=100');
  t.equal((await earlier).status, 200);
  t.equal(after.json.items.find((x: any) => x.id === open.id).status, 'acknowledged', 'read after write sees the write');
});
