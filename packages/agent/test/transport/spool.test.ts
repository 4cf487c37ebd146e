/**
 * The on-disk spool: sequence numbers survive restarts, acked segments go away, a torn tail is
 * cut off, and a full spool makes append() wait instead of dropping anything.
 */
import t from 'tap';
import { mkdtemp, readdir, appendFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Spool, type UnsequencedFrame } from '../../src/transport/spool.js';

const frame = (n: number): UnsequencedFrame => ({ v: 1, type: 'inventory', scan_id: 's', mode: 'full', part: n, final: false,
  items: [{ kind: 'software', key: `software:dpkg:system:p${n}:all`, source: 'dpkg', name: `p${n}`, version: '1', arch: 'all' } as never] });

t.test('append, reopen, ack, torn tail', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cw-spool-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  let s = await Spool.open(dir, { segmentBytes: 600 });
  for (let i = 0; i < 10; i++) t.equal(await s.append(frame(i)), i + 1);
  t.equal(s.pending, 10);
  await s.close();
  s = await Spool.open(dir, { segmentBytes: 600 });
  t.equal(s.lastSeq, 10, 'sequence survives a restart');
  t.equal(s.pending, 10, 'unacked batches survive a restart');
  const r = await s.next(3);
  t.equal(r?.seq, 4);
  t.equal(JSON.parse(r!.data.toString()).part, 3);
  await s.ack(6);
  t.equal(s.pending, 4);
  const segs = (await readdir(dir)).filter((n) => n.startsWith('seg-'));
  await s.close();
  // A crash mid-append leaves half a record: it must be dropped, the rest kept.
  const last = segs.sort((a, b) => Number(a.slice(4, -4)) - Number(b.slice(4, -4))).pop()!;
  await appendFile(path.join(dir, last), Buffer.from([0, 0, 1, 0, 9, 9]));
  s = await Spool.open(dir, { segmentBytes: 600 });
  t.equal(s.pending, 4, 'torn tail truncated, intact records kept');
  t.equal(await s.append(frame(99)), 11, 'numbering continues after the last intact record');
  await s.ack(11);
  t.equal(s.pending, 0);
  await s.close();
  s = await Spool.open(dir);
  t.equal(s.lastSeq, 11, 'sequence kept in meta.json even with no segment left');
  t.same((await readdir(dir)).filter((n) => n.startsWith('seg-')), [], 'acked segments deleted');
  await s.close();
});

t.test('a full spool pauses the producer until acks free space', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cw-spool-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const s = await Spool.open(dir, { maxBytes: 1200, segmentBytes: 300 });
  let done = 0;
  const writes = Array.from({ length: 8 }, (_, i) => s.append(frame(i)).then(() => { done++; }));
  await new Promise((r) => setTimeout(r, 100));
  t.ok(done < 8, `producer paused at ${done} of 8`);
  t.ok(s.bytes <= 1200, 'bound respected');
  for (let seq = 1; done < 8 && seq <= 8; seq++) { await s.ack(seq); await new Promise((r) => setTimeout(r, 10)); }
  await Promise.all(writes);
  t.equal(s.lastSeq, 8, 'nothing dropped');
  await s.close();
});

t.test('collector ahead of the agent: numbers are never reused', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cw-spool-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const s = await Spool.open(dir, { seqFloor: 5 });
  t.equal(await s.append(frame(0)), 6, 'state-file floor respected');
  await s.ack(40);
  t.equal(await s.append(frame(1)), 41);
  await s.close();
});

// Regression: acks for everything spooled so far used to close and delete the open tail
// segment while the scan was still appending to it ("file closed", then ENOENT forever).
t.test('acks arriving while the scan still appends to the same segment', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cw-spool-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const s = await Spool.open(dir);
  for (let round = 1; round <= 50; round++) {
    const appending = s.append(frame(round));
    await s.ack(round - 1); // everything before this append is acknowledged, concurrently
    t.equal(await appending, round);
  }
  const next = await s.next(49);
  t.equal(next?.seq, 50, 'the last batch is still readable');
  t.equal(JSON.parse(next!.data.toString()).part, 50);
  await s.ack(50);
  t.equal(s.pending, 0);
  await s.close();
  const again = await Spool.open(dir);
  t.equal(again.lastSeq, 50);
  t.equal(again.pending, 0, 'nothing resent after a restart');
  t.same((await readdir(dir)).filter((n) => n.startsWith('seg-')), [], 'fully acknowledged segments go at the next open');
  await again.close();
});
