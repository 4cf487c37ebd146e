// Collector connections begin every transaction IMMEDIATE: with a second connection writing the
// same file (the ingest writer thread, a retro-hunt, the CLI), a deferred transaction that read
// before writing failed with SQLITE_BUSY_SNAPSHOT instead of waiting its turn.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { openDb, WAL_KEEP_BYTES } from '../../src/store/db.js';

const require = createRequire(import.meta.url);

/** Another process takes the write lock, says so, holds it `ms`, commits a row, exits. */
function holdWriteLock(file: string, ms: number): Promise<{ held: Promise<void>; done: Promise<number | null> }> {
  const script = `
    const Database = require(${JSON.stringify(require.resolve('better-sqlite3'))});
    const db = new Database(${JSON.stringify(file)});
    db.exec("BEGIN IMMEDIATE; INSERT INTO meta (key, value) VALUES ('other', 'x')");
    process.stdout.write('held\\n');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ${ms});
    db.exec('COMMIT'); db.close();`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const held = new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  const done = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return Promise.resolve({ held, done });
}

/** A collector database in a temporary folder, both gone at teardown. */
function tempDb(t: Test): { file: string; db: ReturnType<typeof openDb> } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cw-db-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'c.db');
  const db = openDb(file);
  t.teardown(() => db.close());
  return { file, db };
}

t.test('a read-then-write transaction waits for another connection\'s write instead of failing', async (t) => {
  const { file, db } = tempDb(t);
  const other = await holdWriteLock(file, 400);
  await other.held;
  const started = Date.now();
  const n = db.transaction(() => {
    const before = db.prepare('SELECT count(*) FROM meta').pluck().get() as number;
    db.prepare("INSERT INTO meta (key, value) VALUES ('mine', 'y')").run();
    return before;
  })();
  t.ok(Date.now() - started >= 300, 'waited for the other connection to commit');
  t.equal(n, 1, 'and read after its commit (the other row is visible)');
  t.equal(await other.done, 0);
  t.same(db.prepare('SELECT key FROM meta WHERE key IN (?, ?) ORDER BY key').pluck().all('mine', 'other'), ['mine', 'other']);
  t.equal(db.transaction(() => 1).deferred(), 1, 'the other variants stay available');
});

t.test('the WAL file shrinks back to WAL_KEEP_BYTES once a checkpoint has emptied it', async (t) => {
  const { file, db } = tempDb(t);
  t.equal(db.pragma('journal_size_limit', { simple: true }), WAL_KEEP_BYTES);
  db.pragma('wal_autocheckpoint = 0');
  // A reader on an old snapshot keeps any checkpoint from emptying the WAL, as a long search does.
  const reader = openDb(file);
  t.teardown(() => reader.close());
  reader.exec('BEGIN');
  reader.prepare('SELECT count(*) FROM meta').get();
  const blob = 'x'.repeat(1024 * 1024);
  const put = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
  for (let i = 0; i < 40; i++) db.transaction(() => { for (let j = 0; j < 4; j++) put.run(`blob-${i}-${j}`, blob); })();
  const walSize = () => statSync(`${file}-wal`).size;
  t.ok(walSize() > WAL_KEEP_BYTES, `the WAL grew past the bound (${walSize()} bytes)`);
  reader.exec('COMMIT');
  db.pragma('wal_checkpoint(PASSIVE)');
  db.prepare("DELETE FROM meta WHERE key LIKE 'blob-%'").run();
  t.ok(walSize() <= WAL_KEEP_BYTES, `the next write after the checkpoint cut it back (${walSize()} bytes)`);
  t.equal(db.prepare("SELECT count(*) FROM meta WHERE key LIKE 'blob-%'").pluck().get(), 0);
});
