// TAXII 2.1 pull against a stub server on loopback (discovery, API root, collections, objects
// with added_after filtering, more/next paging of two objects a page, bearer auth): a first
// poll loads the indicators and retro-hunt raises alerts on stored inventory, a second poll asks
// only for what was added after the cursor, a server error is retried, credentials are never
// logged or listed; the CLI stores sources; the scheduler polls and stops.
import t from 'tap';
import http from 'node:http';
import { Writable } from 'node:stream';
import path from 'node:path';
import pino from 'pino';
import { harness, file, sha } from '../fixtures/harness.js';
import { TaxiiScheduler, TaxiiSources, startTaxiiPolling, TAXII_ACCEPT } from '../../src/feeds/taxii.js';
import { runFeeds } from '../../src/cli/feeds.js';

const TOKEN = 'taxii-secret-token-123';

interface Stored { obj: Record<string, unknown>; added: string }

function indicator(n: number, value: string): Record<string, unknown> {
  return { type: 'indicator', spec_version: '2.1', id: `indicator--00000000-0000-4000-8000-${String(n).padStart(12, '0')}`, created: '2026-01-01T00:00:00.000Z',
    modified: '2026-01-01T00:00:00.000Z', pattern: `[file:hashes.'SHA-256' = '${value}']`, pattern_type: 'stix', valid_from: '2026-01-01T00:00:00Z' };
}

/** The stub: objects sorted by date_added; pages of 2; `next` is the index of the page's end. */
function stub(objects: Stored[]) {
  const seen: Array<{ path: string; added_after: string | null; next: string | null }> = [];
  const state = { failNext: 0 };
  const server = http.createServer((req, res) => {
    const u = new URL(req.url!, 'http://x');
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/taxii+json;version=2.1', ...headers }); res.end(JSON.stringify(body));
    };
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return send(401, { title: 'unauthorized' });
    if (req.headers.accept !== TAXII_ACCEPT) return send(406, { title: 'not acceptable' });
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    if (u.pathname === '/taxii2/') return send(200, { title: 'stub', api_roots: [`${base}/api1/`] });
    if (u.pathname === '/api1/') return send(200, { title: 'api1', versions: ['application/taxii+json;version=2.1'], max_content_length: 1e7 });
    if (u.pathname === '/api1/collections/') return send(200, { collections: [{ id: 'c1', title: 'c1', can_read: true, can_write: false }] });
    if (u.pathname !== '/api1/collections/c1/objects/') return send(404, { title: 'not found' });
    seen.push({ path: u.pathname, added_after: u.searchParams.get('added_after'), next: u.searchParams.get('next') });
    if (state.failNext > 0) { state.failNext--; return send(500, { title: 'boom' }); }
    const after = u.searchParams.get('added_after');
    const match = objects.filter((o) => !after || Date.parse(o.added) > Date.parse(after));
    const start = Number(u.searchParams.get('next') ?? 0);
    const page = match.slice(start, start + 2);
    const more = start + 2 < match.length;
    const headers: Record<string, string> = page.length ? { 'X-TAXII-Date-Added-First': page[0]!.added, 'X-TAXII-Date-Added-Last': page[page.length - 1]!.added } : {};
    return send(200, { more, ...(more ? { next: String(start + 2) } : {}), ...(page.length ? { objects: page.map((o) => o.obj) } : {}) }, headers);
  });
  return { server, seen, state };
}

function capture(): { log: pino.Logger; text: () => string } {
  let text = '';
  const stream = new Writable({ write(c, _e, cb) { text += String(c); cb(); } });
  return { log: pino({ level: 'info' }, stream), text: () => text };
}

t.test('TAXII 2.1 pull: first poll, incremental poll, retry, no credential leaks', async (t) => {
  const h = await harness(t, { file: true });
  h.host('h1', 'alpha');
  h.scan('h1', [file('C:/evil.dll', 'evil'), file('C:/fine.dll', 'fine')]);
  const objects: Stored[] = [
    { obj: indicator(1, sha('evil')), added: '2026-03-01T00:00:01.000Z' },
    { obj: indicator(2, sha('nothing-1')), added: '2026-03-01T00:00:02.000Z' },
    { obj: { type: 'malware', spec_version: '2.1', id: 'malware--1', name: 'x', is_family: false }, added: '2026-03-01T00:00:03.000Z' },
  ];
  const { server, seen, state } = stub(objects);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const root = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

  // The stub answers discovery like a real server; the source is configured with its API root.
  const disc = await fetch(`${root}/taxii2/`, { headers: { accept: TAXII_ACCEPT, authorization: `Bearer ${TOKEN}` } }).then((r) => r.json()) as { api_roots: string[] };
  const out: string[] = [];
  const sink = new Writable({ write(c, _e, cb) { out.push(String(c)); cb(); } });
  await runFeeds(['add-taxii', '--name', 'tx', '--url', disc.api_roots[0]!, '--collection', 'c1', '--token', TOKEN, '--interval', '60', '--db', path.join(h.dir!, 'c.db')], sink);
  out.length = 0;
  await runFeeds(['list', '--db', path.join(h.dir!, 'c.db')], sink);
  t.match(JSON.parse(out[0]!), { name: 'tx', auth: 'token', interval_s: 60, added_after: null });
  t.notMatch(out.join(''), TOKEN, 'feeds list never shows the credential');

  const { log, text } = capture();
  const sched = new TaxiiScheduler(h.svc, log);
  const sources = new TaxiiSources(h.svc.db);
  const first = await sched.pollNow(sources.all()[0]!);
  t.match(first, { pages: 2, objects: 3, added: 2 }, 'two pages, two indicators (the malware object carries no pattern)');
  t.same(seen.map((s) => [s.added_after, s.next]), [[null, null], [null, '2']], 'second page by next, same added_after');
  const job = await h.waitJob(first!.job!);
  t.equal(job.status, 'done');
  const alerts = (await h.call('viewer', 'GET', '/api/v1/alerts?feed=tx')).json.items as Array<{ retro: boolean; host: { hostname: string } }>;
  t.equal(alerts.length, 1, 'retro-hunt found the stored item');
  t.match(alerts[0], { retro: true, host: { hostname: 'alpha' } });
  t.equal(sources.all()[0]!.added_after, '2026-03-01T00:00:03.000Z', 'cursor = last X-TAXII-Date-Added-Last');

  objects.push({ obj: indicator(3, sha('fine')), added: '2026-03-02T00:00:00.000Z' });
  seen.length = 0;
  const second = await sched.pollNow(sources.all()[0]!);
  t.same(seen.map((s) => s.added_after), ['2026-03-01T00:00:03.000Z'], 'asks only for newer objects');
  t.match(second, { pages: 1, objects: 1, added: 1 });
  if (second?.job) await h.waitJob(second.job);
  t.equal(((await h.call('viewer', 'GET', '/api/v1/alerts?feed=tx')).json.items as unknown[]).length, 2);

  state.failNext = 1;
  t.equal(await sched.pollNow(sources.all()[0]!), null, 'a server error fails the poll');
  t.match(sources.all()[0], { added_after: '2026-03-02T00:00:00.000Z', last_error: /HTTP 500/ }, 'cursor kept, error recorded');
  t.match(text(), /"code":"CW_TAXII_FAILED".*"retry_in_s":60/, 'logged with its code; retried at the next interval');
  t.match(await sched.pollNow(sources.all()[0]!), { objects: 0 }, 'retried successfully');
  t.equal(sources.all()[0]!.last_error, null);

  sources.add({ name: 'tx', url: disc.api_roots[0]!, collection: 'c1', auth: { user: 'u', password: 'pw-secret-987' }, interval_s: 60, ca_file: null });
  t.equal(await sched.pollNow(sources.all()[0]!), null, 'wrong credentials fail');
  t.match(sources.all()[0]!.last_error, /HTTP 401/);
  t.notMatch(text(), TOKEN); t.notMatch(text(), 'pw-secret-987'); t.notMatch(text(), Buffer.from('u:pw-secret-987').toString('base64'));
  await sched.stop();
});

t.test('the scheduler polls due sources on its timer and stops', async (t) => {
  const h = await harness(t);
  const { server, seen } = stub([{ obj: indicator(9, sha('x')), added: '2026-03-01T00:00:00.000Z' }]);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  new TaxiiSources(h.svc.db).add({ name: 'tick', url: `http://127.0.0.1:${(server.address() as { port: number }).port}/api1/`, collection: 'c1', auth: { token: TOKEN }, interval_s: 3600, ca_file: null });
  const stop = startTaxiiPolling(h.svc, pino({ level: 'silent' }), { tickMs: 20 });
  for (let i = 0; i < 100 && !new TaxiiSources(h.svc.db).all()[0]!.last_poll; i++) await new Promise((r) => setTimeout(r, 20));
  await stop();
  t.equal(seen.length, 1, 'polled once, not again before its interval');
  t.equal(h.svc.db.prepare(`SELECT count(*) FROM indicators WHERE feed = 'tick'`).pluck().get(), 1);
});

t.test('feeds CLI: usage errors, remove', async (t) => {
  const h = await harness(t, { file: true });
  const db = path.join(h.dir!, 'c.db');
  const sink = new Writable({ write(_c, _e, cb) { cb(); } });
  await t.rejects(runFeeds(['add-taxii', '--name', 'a', '--url', 'http://x/api/', '--collection', 'c', '--user', 'u', '--db', db], sink), { code: 'CW_CLI_USAGE' });
  await t.rejects(runFeeds(['add-taxii', '--name', 'a', '--url', 'not a url', '--collection', 'c', '--db', db], sink), { code: 'CW_CLI_USAGE' });
  await runFeeds(['add-taxii', '--name', 'a', '--url', 'https://taxii.example/api/', '--collection', 'c', '--db', db], sink);
  await runFeeds(['remove-taxii', 'a', '--db', db], sink);
  await t.rejects(runFeeds(['remove-taxii', 'a', '--db', db], sink), { code: 'CW_NOT_FOUND' });
});
