// The ingest writer thread: frames stored on its own connection and reported after commit;
// indicators pushed and items pruned on the main connection are seen by the writer's very next
// group (store_generation); a writer that dies fails what it held and a new one takes over;
// close() commits and reports everything submitted first.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { Worker } from 'node:worker_threads';
import type { InventoryFrame } from '@chainwatch/shared';
import { CollectorService } from '../../src/service.js';
import { enrollHost } from '../../src/store/auth.js';
import { WorkerFrameWriter } from '../../src/plugins/worker-writer.js';
import type { FrameOutcome } from '../../src/store/frame-apply.js';
import { file, sha, software } from '../fixtures/harness.js';

type T = { teardown(fn: () => unknown): void };
interface Result { err: Error | null; out: FrameOutcome | undefined; seq: number | undefined }

function setup(t: T) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cw-writer-'));
  const svc = CollectorService.open(path.join(dir, 'c.db'), pino({ level: 'silent' }), { bundled: false });
  const writer = new WorkerFrameWriter(svc, { maxFrameBytes: 1 << 20 });
  t.teardown(async () => { await writer.close(); await svc.stop(); svc.close(); rmSync(dir, { recursive: true, force: true }); });
  const flow = { pause: () => undefined, resume: () => undefined };
  let scans = 0;
  const submitRaw = (conn: number, host: string, raw: string): Promise<Result> =>
    new Promise((resolve) => writer.submit(conn, host, Buffer.from(raw), false, flow, (err, out, seq) => resolve({ err, out, seq })));
  const frame = (seq: number, items: InventoryFrame['items'], mode: 'full' | 'delta' = 'full'): string =>
    JSON.stringify({ v: 1, type: 'inventory', seq, scan_id: `scan${++scans}`, mode, part: 0, final: true, items });
  const host = (id: string): void => { const r = enrollHost(svc.db, id, id, '0.1.0'); if (!r.ok) throw new TypeError(r.reason); };
  return { svc, writer, submitRaw, frame, host };
}

const stored = (r: Result) => (r.out?.kind === 'stored' ? r.out.res : undefined);

t.test('frames are parsed, stored and reported by the writer thread; the main connection reads them', async (t) => {
  const { svc, writer, submitRaw, frame, host } = setup(t);
  const checkpoints = () => (writer as unknown as { checkpointer: { running: boolean } | null }).checkpointer;
  t.equal(checkpoints(), null, 'no checkpoint thread before anything is stored');
  const h = '11111111-1111-4111-8111-111111111111';
  host(h);
  const r1 = await submitRaw(1, h, frame(1, [software('App', '1.0'), file('C:/app.exe', 'app')]));
  t.equal(checkpoints()?.running, true, 'the first committed group starts it');
  t.equal(r1.err, null);
  t.match(stored(r1), { applied: true, items: 2 });
  t.equal(r1.seq, 1);
  t.equal(svc.db.prepare('SELECT count(*) FROM host_items WHERE host_id = ?').pluck().get(h), 2, 'visible on the main connection');
  t.match(stored(await submitRaw(1, h, frame(1, [software('App', '1.0')]))), { applied: false }, 'a replayed seq is reported, not applied');
  const bad = await submitRaw(1, h, JSON.stringify({ v: 1, type: 'inventory', seq: 2, items: 'x' }));
  t.match(bad.out, { kind: 'rejected', code: 'CW_PROTO_BAD_FRAME', seq: 2 }, 'invalid frames are rejected with the shared error code');
  const before = svc.db.prepare('SELECT last_seen FROM hosts WHERE id = ?').pluck().get(h) as string;
  await new Promise((r) => setTimeout(r, 5));
  t.match((await submitRaw(1, h, JSON.stringify({ v: 1, type: 'heartbeat', seq: 1 }))).out, { kind: 'heartbeat' });
  t.ok((svc.db.prepare('SELECT last_seen FROM hosts WHERE id = ?').pluck().get(h) as string) > before, 'a heartbeat marks the host seen');
});

t.test('indicators pushed on the main connection match the next frame the writer stores, cached answers included', async (t) => {
  const { svc, submitRaw, frame, host } = setup(t);
  const [a, b] = ['22222222-2222-4222-8222-222222222221', '22222222-2222-4222-8222-222222222222'];
  host(a); host(b);
  const item = file('C:/Users/x/Downloads/X_TRADER_r7.17.90p608.exe', 'trojanized installer');
  t.match(stored(await submitRaw(1, a, frame(1, [item]))), { applied: true, alerts: 0 }, 'no indicator yet: the writer caches "no hits" for this item');
  await svc.pushParsed([{ id: 'Test.XT', type: 'sha256', value: sha('trojanized installer'), severity: 'critical' }], [], { actor: 'test', feed: 'test', wait: true });
  t.match(stored(await submitRaw(2, b, frame(1, [item]))), { applied: true, alerts: 1 }, 'the same item on another host raises the new indicator');
  t.equal(svc.db.prepare('SELECT count(*) FROM alerts WHERE host_id = ? AND indicator_id = ?').pluck().get(b, 'Test.XT'), 1);
  t.equal(svc.db.prepare('SELECT count(*) FROM alerts WHERE host_id = ? AND indicator_id = ?').pluck().get(a, 'Test.XT'), 1, 'the retro-hunt found the earlier host');
});

t.test('items pruned on the main connection are not reused by the writer\'s item cache', async (t) => {
  const { svc, submitRaw, frame, host } = setup(t);
  const [a, b] = ['33333333-3333-4333-8333-333333333331', '33333333-3333-4333-8333-333333333332'];
  host(a); host(b);
  const gone = file('C:/tools/old.exe', 'old tool'), kept = software('Kept', '1.0');
  t.match(stored(await submitRaw(1, a, frame(1, [gone, kept]))), { applied: true });
  t.match(stored(await submitRaw(1, a, frame(2, [kept]))), { applied: true, removed: 1 }, 'a full scan without the file removes it');
  const pruned = svc.inventory.prune(new Date(Date.now() + 60_000));
  t.equal(pruned.items, 1, 'the orphaned item is deleted on the main connection');
  t.match(stored(await submitRaw(2, b, frame(1, [gone]))), { applied: true, items: 1 });
  const dangling = svc.db.prepare('SELECT count(*) FROM host_inv hi LEFT JOIN items it ON it.id = hi.item WHERE it.id IS NULL').pluck().get();
  t.equal(dangling, 0, 'no pair points at a deleted item');
  t.same(svc.db.prepare(`SELECT json_extract(it.data, '$.path') FROM host_items hi JOIN items it ON it.id = hi.item_id WHERE hi.host_id = ?`).pluck().all(b), ['C:/tools/old.exe']);
});

t.test('a writer thread that dies fails the frames it held; a new writer takes the next ones', async (t) => {
  const { svc, writer, submitRaw, frame, host } = setup(t);
  const h = '44444444-4444-4444-8444-444444444444';
  host(h);
  const held = submitRaw(1, h, frame(1, [software('A', '1')]));
  await (writer as unknown as { worker: Worker }).worker.terminate();
  const r = await held;
  t.ok(r.err instanceof Error, 'the frame held by the dead writer fails (its agent resends)');
  await new Promise((res) => setTimeout(res, 1500));
  const again = await submitRaw(2, h, frame(1, [software('A', '1')]));
  t.equal(again.err, null);
  t.equal(svc.db.prepare('SELECT last_seq FROM hosts WHERE id = ?').pluck().get(h), 1, 'stored by the new writer, exactly once');
});

t.test('close() commits and reports everything submitted before it', async (t) => {
  const { svc, writer, submitRaw, frame, host } = setup(t);
  const hosts = Array.from({ length: 20 }, (_, i) => `55555555-5555-4555-8555-${String(i).padStart(12, '0')}`);
  hosts.forEach(host);
  const results = hosts.map((h, i) => submitRaw(i + 1, h, frame(1, [software(`App${i}`, '1.0'), file(`C:/a${i}.dll`, `a${i}`)])));
  let reported = 0;
  for (const r of results) void r.then(() => { reported++; });
  await writer.close();
  await new Promise((r) => setImmediate(r));
  t.equal(reported, hosts.length, 'every frame reported before close resolved');
  t.equal(svc.db.prepare('SELECT count(*) FROM host_items').pluck().get(), 40);
});

t.test('a shutdown drain bounded in time gives up the frames it did not reach: reported failed, never stored', async (t) => {
  const { svc, writer, submitRaw, frame, host } = setup(t);
  const h = '66666666-6666-4666-8666-666666666666';
  host(h);
  const frameNo = (i: number) => frame(i + 1, Array.from({ length: 500 }, (_, j) => file(`C:/d${i}/f${j}.dll`, `f${i}.${j}`)));
  const first = await submitRaw(1, h, frameNo(0));
  // Then 200 frames of 500 items: far more than the writer commits within 0 ms.
  const results = Array.from({ length: 200 }, (_, i) => submitRaw(1, h, frameNo(i + 1)));
  const givenUp = await writer.drain(0);
  const all = [first, ...await Promise.all(results)];
  const ok = all.filter((r) => r.err === null), failed = all.filter((r) => r.err !== null);
  t.ok(givenUp > 0, `${givenUp} frames given up`);
  t.equal(failed.length, givenUp, 'each given-up frame reported failed');
  t.match(failed[0]?.err?.message, /shutting down/);
  t.same(ok.map((r) => r.seq), Array.from({ length: ok.length }, (_, i) => i + 1), 'the committed ones are the first, in order');
  t.equal(svc.db.prepare('SELECT last_seq FROM hosts WHERE id = ?').pluck().get(h), ok.length, 'the host resumes after the last committed frame');
  t.equal(svc.db.prepare('SELECT count(*) FROM host_items WHERE host_id = ?').pluck().get(h), ok.length * 500, 'nothing of a given-up frame stored');
});

t.test('a frame in a buffer of its own moves to the writer; a view into a larger buffer is copied', async (t) => {
  const { svc, writer, frame, host } = setup(t);
  const h = '33333333-3333-4333-8333-333333333333';
  host(h);
  const flow = { pause: () => undefined, resume: () => undefined };
  const submit = (data: Buffer): Promise<Result> => new Promise((resolve) => writer.submit(1, h, data, false, flow, (err, out, seq) => resolve({ err, out, seq })));
  const items = (n: number, tag: string) => Array.from({ length: n }, (_, i) => file(`/opt/${tag}/f${i}.so`, `${tag}${i}`));

  const text = frame(1, items(40, 'own'));
  t.ok(Buffer.byteLength(text) > 4096, 'large enough to be moved');
  const own = Buffer.alloc(Buffer.byteLength(text));
  own.write(text);
  const moved = submit(own);
  t.equal(own.byteLength, 0, 'the buffer went to the writer thread (detached here), not a copy');
  t.match(stored(await moved), { applied: true, items: 40 });

  const second = frame(2, items(40, 'view'));
  const larger = Buffer.alloc(Buffer.byteLength(second) + 100);
  larger.write(second, 50);
  const copied = submit(larger.subarray(50, 50 + Buffer.byteLength(second)));
  t.equal(larger.byteLength, Buffer.byteLength(second) + 100, 'the larger buffer stays here');
  t.equal(larger.subarray(50, 50 + Buffer.byteLength(second)).toString(), second, 'with its bytes intact');
  t.match(stored(await copied), { applied: true, items: 40 });
  t.equal(svc.db.prepare('SELECT count(*) FROM host_items WHERE host_id = ?').pluck().get(h), 80);
});

t.test('a closing connection costs the writer a message only if it was cancelled', async (t) => {
  const { writer } = setup(t);
  const sent: Array<{ t: string; conn?: number }> = [];
  const w = (writer as unknown as { worker: Worker }).worker;
  const post = w.postMessage.bind(w);
  w.postMessage = ((m: { t: string; conn?: number }, transfer?: readonly ArrayBuffer[]) => { sent.push(m); post(m, transfer as ArrayBuffer[]); }) as Worker['postMessage'];
  const flow = { pause: () => undefined, resume: () => undefined };
  writer.open('44444444-4444-4444-8444-444444444444', flow);
  writer.forget(7, flow);
  t.same(sent.filter((m) => m.t === 'forget'), [], 'a connection that ended normally: nothing to tell the writer');
  writer.cancel(8);
  writer.forget(8, flow);
  writer.forget(8, flow);
  t.same(sent.filter((m) => m.t !== 'touch'), [{ t: 'cancel', conn: 8 }, { t: 'forget', conn: 8 }], 'a cancelled one: cancel, then forget once');
});
