// Spec: packages/agent/src/hashing/pool.ts — hashes must equal coreutils' sha256sum, sha1sum, md5sum.
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { pino } from 'pino';
import { HashPool, type HashResult } from '../../src/hashing/pool.js';

const MiB = 1024 * 1024;
const SIZES = [0, 1, 4095, 4096, 65537, MiB - 1, MiB, MiB + 1, 3 * MiB + 7];

function tool(cmd: string, files: string[]): string[] {
  return execFileSync(cmd, ['--', ...files], { encoding: 'utf8' }).trim().split('\n').map((l) => l.slice(0, l.indexOf(' ')));
}

function realBinaries(): string[] {
  return readdirSync('/usr/bin').map((n) => `/usr/bin/${n}`)
    .filter((p) => { try { const st = lstatSync(p); return st.isFile() && st.size < 8 * MiB; } catch { return false; } })
    .slice(0, 40);
}

t.test('three hashes agree with coreutils on generated and real files', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cw-pool-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const generated = SIZES.map((size, i) => {
    const p = path.join(dir, `f${i}-${size}`);
    const buf = Buffer.alloc(size);
    for (let j = 0; j < size; j++) buf[j] = (j * 31 + i) & 0xff;
    writeFileSync(p, buf);
    return p;
  });
  const all = [...generated, ...realBinaries()];
  const pool = await HashPool.create({ threads: 2, nice: true, log: pino({ level: 'silent' }) });
  t.teardown(() => pool.close());
  t.equal(pool.threads, 1, 'two wanted: one thread, and the main thread stands in for the second');
  t.equal(pool.size, 2);
  // Four batches: the thread and the main thread both take part.
  const quarter = Math.ceil(all.length / 4);
  const batches = [0, 1, 2, 3].map((k) => all.slice(k * quarter, (k + 1) * quarter));
  const res = ([] as HashResult[]).concat(...await Promise.all(batches
    .map((b) => pool.run(b.map((p) => ({ path: p, op: 'hash' as const, maxSize: 1 << 30 }))))));
  t.ok(pool.batchesOnMain >= 1 && pool.batchesOnMain < 4, `main thread ran ${pool.batchesOnMain} of 4 batches`);
  const [s256, s1, m5] = [tool('sha256sum', all), tool('sha1sum', all), tool('md5sum', all)];
  res.forEach((r, i) => {
    if (!r.ok || r.op !== 'hash') { t.fail(`${all[i]} not hashed`); return; }
    t.equal(r.sha256, s256[i], `sha256 ${all[i]}`);
    t.equal(r.sha1, s1[i], `sha1 ${all[i]}`);
    t.equal(r.md5, m5[i], `md5 ${all[i]}`);
    t.equal(r.size, statSync(all[i]!).size, `size ${all[i]}`);
  });
});

t.test('head jobs, oversize files and missing files, in a thread and on the main thread', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cw-pool-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const big = path.join(dir, 'big');
  writeFileSync(big, Buffer.alloc(10_000, 0x41));
  const jobs = [
    { path: big, op: 'head' as const, maxSize: 100 },
    { path: big, op: 'hash' as const, maxSize: 100 },
    { path: path.join(dir, 'nope'), op: 'hash' as const, maxSize: 100 },
    { path: dir, op: 'hash' as const, maxSize: 100 },
  ];
  for (const threads of [1, 2]) {
    const pool = await HashPool.create({ threads, nice: false, log: pino({ level: 'silent' }) });
    t.teardown(() => pool.close());
    const runs = await Promise.all([pool.run(jobs), pool.run(jobs)]);
    t.equal(pool.threads, threads - 1, `${threads} wanted: ${threads - 1} thread(s) and the main thread`);
    t.equal(pool.batchesOnMain, threads === 1 ? 2 : 1, `${threads} wanted: main thread ran ${pool.batchesOnMain} batch(es)`);
    for (const [head, tooBig, missing, isDir] of runs) {
      t.ok(head?.ok && head.op === 'head' && head.head === 'A'.repeat(64) && head.tail === 'AAAA', 'head + tail');
      t.match(tooBig, { ok: false, code: 'TOO_LARGE' });
      t.match(missing, { ok: false, code: 'ENOENT' });
      t.match(isDir, { ok: false, code: 'ENOTREG' });
    }
  }
});

t.test('under a ceiling the main thread hashes alone, lowered to nice 19 while the pool lives', { skip: process.platform !== 'linux' }, async (t) => {
  const before = os.getPriority(0);
  const pool = await HashPool.create({ threads: 1, nice: true, log: pino({ level: 'silent' }) });
  t.equal(pool.threads, 0, 'no hashing thread started');
  t.equal(os.getPriority(0), 19, 'main thread lowered');
  t.equal(os.getPriority(process.pid), 19, 'the main thread is the pid on Linux');
  const [r] = await pool.run([{ path: '/etc/hostname', op: 'hash', maxSize: 1 << 20 }]);
  t.match(r, { ok: true, op: 'hash' });
  await pool.close();
  // Raising priority back needs CAP_SYS_NICE: root gets its nice value back, others stay at 19.
  t.equal(os.getPriority(0), process.getuid?.() === 0 ? before : 19, 'nice value after close');
  if (process.getuid?.() === 0) os.setPriority(0, before);
});
