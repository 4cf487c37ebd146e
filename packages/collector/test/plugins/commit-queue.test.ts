// Group commit: frames of several agents share one transaction, each in its own savepoint; a
// failing frame loses only itself (and its host's later frames), a failed commit loses the
// group and acknowledges nothing, and the queue's bound pauses the submitting connection.
import t from 'tap';
import type { InventoryFrame } from '@chainwatch/shared';
import { CommitQueue, type QueuedWork } from '../../src/plugins/commit-queue.js';
import type { BatchResult } from '../../src/store/inventory.js';
import { harness, file, software, type Harness } from '../fixtures/harness.js';

const frame = (seq: number, items: InventoryFrame['items']): InventoryFrame =>
  ({ v: 1, type: 'inventory', seq, scan_id: `s${seq}`, mode: 'full', part: 0, final: false, items });

interface Outcome { host: string; seq: number; err: Error | null; res?: BatchResult | undefined }

function queueOn(h: Harness, overrides: Partial<ConstructorParameters<typeof CommitQueue>[0]> = {}) {
  const outcomes: Outcome[] = [];
  let failedGroups = 0;
  const q = new CommitQueue<BatchResult>({
    transaction: (fn) => { h.svc.db.transaction(fn)(); },
    groupFailed: () => { failedGroups++; h.svc.inventory.forgetCaches(); },
    ...overrides,
  });
  const submit = (host: string, f: InventoryFrame, source?: { pause(): void; resume(): void }) => {
    const entry: QueuedWork<BatchResult> = {
      hostId: host, weight: f.items.length, run: () => h.svc.ingest(host, f), done: (err, res) => outcomes.push({ host, seq: f.seq, err, res }),
    };
    q.submit(entry, source);
  };
  const settled = async () => { while (q.length) await new Promise((r) => setImmediate(r)); await new Promise((r) => setImmediate(r)); };
  return { q, outcomes, submit, settled, failedGroups: () => failedGroups };
}

const stored = (h: Harness, host: string) =>
  h.svc.db.prepare('SELECT count(*) FROM host_items WHERE host_id = ?').pluck().get(host) as number;
const lastSeq = (h: Harness, host: string) => h.svc.db.prepare('SELECT last_seq FROM hosts WHERE id = ?').pluck().get(host) as number;

t.test('frames of several hosts arriving together commit as one group, each acknowledged with its own result', async (t) => {
  const h = await harness(t);
  for (const id of ['a', 'b', 'c']) h.host(id);
  const { q, outcomes, submit, settled } = queueOn(h);
  submit('a', frame(1, [software('AppA', '1.0'), file('C:/a.dll', 'a')]));
  submit('b', frame(1, [software('AppB', '2.0')]));
  submit('c', frame(1, [file('C:/c.dll', 'c')]));
  submit('a', frame(2, [file('C:/a2.dll', 'a2')]));
  await settled();
  t.equal(q.groups, 1, 'one transaction for the four frames');
  t.equal(q.framesCommitted, 4);
  t.same(outcomes.map((o) => [o.host, o.seq, o.err, o.res?.applied, o.res?.items]), [['a', 1, null, true, 2], ['b', 1, null, true, 1], ['c', 1, null, true, 1], ['a', 2, null, true, 1]]);
  t.same([stored(h, 'a'), stored(h, 'b'), stored(h, 'c')], [3, 1, 1]);
  t.equal(lastSeq(h, 'a'), 2);
});

t.test('a failing frame rolls back alone; its host\'s later frames in the queue are not applied', async (t) => {
  const h = await harness(t);
  for (const id of ['a', 'bad']) h.host(id);
  // SQLite itself fails in the middle of the frame, after its first item was written.
  h.svc.db.exec(`CREATE TEMP TRIGGER fail_bad BEFORE INSERT ON items WHEN NEW.ikey = 'file:C:/bad.dll'
    BEGIN SELECT RAISE(ABORT, 'simulated write failure'); END`);
  const { q, outcomes, submit, settled } = queueOn(h);
  submit('a', frame(1, [file('C:/a.dll', 'a')]));
  submit('bad', frame(1, [file('C:/bad-first.dll', 'first'), file('C:/bad.dll', 'bad')]));
  submit('bad', frame(2, [file('C:/bad2.dll', 'bad2')]));
  submit('a', frame(2, [file('C:/a2.dll', 'a2')]));
  await settled();
  t.equal(q.groups, 1);
  t.same(outcomes.filter((o) => o.err === null).map((o) => [o.host, o.seq]), [['a', 1], ['a', 2]], 'the other host committed');
  t.same(outcomes.filter((o) => o.err !== null).map((o) => [o.host, o.seq]), [['bad', 1], ['bad', 2]], 'both frames of the failing host reported failed');
  t.equal(stored(h, 'bad'), 0, 'nothing of the failed frame stored');
  t.equal(lastSeq(h, 'bad'), 0, 'its seq not advanced, so the agent resends it');
  t.equal(h.svc.db.prepare(`SELECT count(*) FROM items WHERE ikey = 'file:C:/bad-first.dll'`).pluck().get(), 0, 'its first item rolled back');
  t.match(outcomes.find((o) => o.host === 'bad')?.err?.message, /simulated write failure/);
  t.equal(stored(h, 'a'), 2);
});

t.test('a failed commit acknowledges nothing, stores nothing, and drops the store\'s caches', async (t) => {
  const h = await harness(t);
  h.host('a'); h.host('b');
  const { outcomes, submit, settled, failedGroups } = queueOn(h, {
    transaction: (fn) => { h.svc.db.transaction(() => { fn(); throw new Error('SQLITE_FULL (simulated at commit)'); })(); },
  });
  submit('a', frame(1, [file('C:/a.dll', 'a')]));
  submit('b', frame(1, [file('C:/b.dll', 'b')]));
  await settled();
  t.equal(failedGroups(), 1);
  t.same(outcomes.map((o) => [o.host, o.err?.message]), [['a', 'SQLITE_FULL (simulated at commit)'], ['b', 'SQLITE_FULL (simulated at commit)']]);
  t.same([stored(h, 'a'), stored(h, 'b'), lastSeq(h, 'a')], [0, 0, 0]);
  // The same frames again, on a working queue: stored whole (no stale cached item ids).
  const again = queueOn(h);
  again.submit('a', frame(1, [file('C:/a.dll', 'a')]));
  await again.settled();
  t.equal(again.outcomes[0]?.err, null);
  t.equal(stored(h, 'a'), 1);
});

t.test('a group stops at its time budget (at least one frame each) and the rest follows in later groups', async (t) => {
  const h = await harness(t);
  h.host('a');
  const { q, outcomes, submit, settled } = queueOn(h, { budgetMs: 0 });
  for (let s = 1; s <= 5; s++) submit('a', frame(s, [file(`C:/f${s}.dll`, String(s))]));
  await settled();
  t.equal(q.groups, 5, 'one frame per group with a zero budget');
  t.same(outcomes.map((o) => [o.seq, o.err]), [[1, null], [2, null], [3, null], [4, null], [5, null]], 'in order');
  t.equal(lastSeq(h, 'a'), 5);
});

t.test('past its bound the queue pauses every connection, not only the submitting one, and resumes them once drained', async (t) => {
  const h = await harness(t);
  h.host('a');
  const { submit, settled } = queueOn(h, { maxQueuedWeight: 3 });
  const calls: string[] = [];
  const source = { pause: () => calls.push('pause'), resume: () => calls.push('resume') };
  submit('a', frame(1, [file('C:/1', '1'), file('C:/2', '2')]), source);
  t.same(calls, [], 'under the bound');
  submit('a', frame(2, [file('C:/3', '3'), file('C:/4', '4')]), source);
  t.same(calls, ['pause'], 'over the bound: paused');
  submit('a', frame(3, [file('C:/5', '5')]), source);
  t.same(calls, ['pause'], 'paused once');
  await settled();
  t.same(calls, ['pause', 'resume']);
  t.equal(stored(h, 'a'), 5);
});

t.test('a connection that has not sent yet is paused too while the queue is over its bound', async (t) => {
  const h = await harness(t);
  h.host('a');
  const { q, submit, settled } = queueOn(h, { maxQueuedWeight: 3 });
  const calls: string[] = [];
  const busy = { pause: () => calls.push('busy:pause'), resume: () => calls.push('busy:resume') };
  const quiet = { pause: () => calls.push('quiet:pause'), resume: () => calls.push('quiet:resume') };
  const gone = { pause: () => calls.push('gone:pause'), resume: () => calls.push('gone:resume') };
  q.join(quiet); q.join(gone); q.forget(gone);
  submit('a', frame(1, [file('C:/1', '1'), file('C:/2', '2'), file('C:/3', '3'), file('C:/4', '4')]), busy);
  t.same(calls.sort(), ['busy:pause', 'quiet:pause'], 'every member paused; a closed connection is left alone');
  const late = { pause: () => calls.push('late:pause'), resume: () => calls.push('late:resume') };
  q.join(late);
  t.ok(calls.includes('late:pause'), 'a connection opening while the gate is held starts paused');
  await settled();
  t.same(calls.filter((c) => c.endsWith('resume')).sort(), ['busy:resume', 'late:resume', 'quiet:resume']);
});

t.test('a bounded drain (shutdown) commits until its time is up, then gives up the rest unstored and unacknowledged', async (t) => {
  const h = await harness(t);
  h.host('a');
  // Every group takes ~20 ms: a drain of 50 ms gets through a few frames of the ten.
  const slow = (fn: () => void) => { h.svc.db.transaction(fn)(); const end = performance.now() + 20; while (performance.now() < end); };
  const { q, outcomes, submit } = queueOn(h, { budgetMs: 0, transaction: slow });
  for (let seq = 1; seq <= 10; seq++) submit('a', frame(seq, [file(`C:/f${seq}.dll`, `f${seq}`)]));
  const reason = new Error('collector shutting down');
  const givenUp = q.drainWithin(50, reason);
  t.equal(q.length, 0, 'nothing left queued');
  t.equal(outcomes.length, 10, 'every frame answered');
  const committed = outcomes.filter((o) => o.err === null);
  t.ok(committed.length >= 1 && committed.length < 10, `${committed.length} committed within the bound`);
  t.equal(givenUp, 10 - committed.length, 'the rest given up');
  t.ok(outcomes.filter((o) => o.err !== null).every((o) => o.err === reason), 'with the shutdown reason');
  t.same(committed.map((o) => o.seq), Array.from({ length: committed.length }, (_, i) => i + 1), 'in order: the given-up ones are the last');
  t.equal(lastSeq(h, 'a'), committed.length, 'the host\'s seq stops at the last committed frame, so its agent resends the rest');
  t.equal(stored(h, 'a'), committed.length, 'nothing of a given-up frame stored');
  t.equal(q.drainWithin(50, reason), 0, 'an empty queue drains at once');
});
