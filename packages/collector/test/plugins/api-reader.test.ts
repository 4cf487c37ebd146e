// The API reader (plugins/api-reader.ts): on a file database the alert list and search run on a
// reader thread and answer byte for byte what inline reads answer; the bodies match the shared
// schemas; a lost or overrunning thread fails only what it held and the next read starts a new
// one; a backlog past MAX_QUEUED is refused with CW_API_BUSY.
import t from 'tap';
import pino from 'pino';
import Type from 'typebox';
import { ApiAlert, Page, compileChecker, normalizeSoftwareName } from '@chainwatch/shared';
import { harness, software, file, sha } from '../fixtures/harness.js';
import { apiReader, MAX_QUEUED } from '../../src/plugins/api-reader.js';
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
  const reader = apiReader(h.svc.db, log, { thread: true });
  t.teardown(() => reader.close());
  reader.warm();
  t.ok((reader as unknown as { worker: unknown }).worker, 'warm() starts the thread before any read');
  const read: ApiRead = { op: 'alerts', filter: {}, limit: 10, cursor: undefined };
  t.equal(JSON.parse((await reader.read(read)).toString()).items.length, 9);
  // The thread as the reader holds it: terminate it from outside, with reads in flight.
  const inFlight = [reader.read(read), reader.read(read)];
  await (reader as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
  for (const p of inFlight) await p.then(() => t.pass('answered before the thread went'), (err: Error) => t.match(err.message, /API reader exited/));
  t.equal(JSON.parse((await reader.read(read)).toString()).items.length, 9, 'a new thread answers');

  const slow = apiReader(h.svc.db, log, { thread: true, timeoutMs: 1 });
  t.teardown(() => slow.close());
  await t.rejects(slow.read(read), /ran past 1 ms/, 'a read past its time costs the thread');
  t.ok(errors.some((e: any) => /API reader thread lost/.test(e.msg)), 'the loss is logged');
});

t.test('past MAX_QUEUED waiting reads, more are refused with CW_API_BUSY (503)', async (t) => {
  const h = await seeded(t);
  const reader = apiReader(h.svc.db, silent, { thread: true });
  t.teardown(() => reader.close());
  const read: ApiRead = { op: 'key', key: `h:${sha('evil')}`, limit: 10 };
  const all = Array.from({ length: MAX_QUEUED + 5 }, () => reader.read(read).then(() => 'ok', (e: { code?: string; statusCode?: number }) => `${e.code} ${e.statusCode}`));
  const outcomes = await Promise.all(all);
  t.equal(outcomes.filter((o) => o === 'ok').length, MAX_QUEUED);
  t.same([...new Set(outcomes.filter((o) => o !== 'ok'))], ['CW_API_BUSY 503']);
  t.equal((await reader.read(read)).length > 0, true, 'the backlog drained, reads are taken again');
  await reader.close();
  await t.rejects(reader.read(read), { code: 'CW_API_BUSY' }, 'a closed reader takes nothing');
});
