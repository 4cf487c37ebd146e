// Background threads lower their own priority (store/thread-priority.ts): on Linux the calling
// thread's nice rises and the process's other threads keep theirs.
import t from 'tap';
import { Worker } from 'node:worker_threads';
import { getPriority } from 'node:os';
import { readlinkSync } from 'node:fs';
import { BACKGROUND_NICE } from '../../src/store/thread-priority.js';

t.test('a worker that runs in background has the background nice; the main thread keeps its own', { skip: process.platform !== 'linux' && 'nice per thread is Linux' }, async (t) => {
  const mainBefore = getPriority(0);
  const w = new Worker(new URL('../fixtures/background-thread.ts', import.meta.url));
  const m = await new Promise<{ ok: boolean; tid: number; nice: number }>((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
  await w.terminate();
  t.ok(m.ok, 'the thread could lower its own priority');
  t.equal(m.nice, Math.max(mainBefore, BACKGROUND_NICE), 'its nice is the background one');
  t.not(m.tid, Number(readlinkSync('/proc/thread-self').split('/').pop()), 'a thread of its own');
  t.equal(getPriority(0), mainBefore, 'the main thread is unchanged');
});
