// The background checkpoint thread: it copies committed WAL frames into the database file while
// the connection that wrote them never checkpoints, it stops on close, and a failure is logged
// once without taking the process down.
import t from 'tap';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { Checkpointer } from '../../src/plugins/checkpointer.js';

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cw-ckpt-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A pino logger whose lines are kept. */
function memoryLog(): { log: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'info' }, { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>); } });
  return { log, lines };
}

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test('committed WAL frames reach the database file without the writing connection checkpointing', async (t) => {
  const file = path.join(tempDir(t), 'c.db');
  const db = new Database(file);
  t.teardown(() => db.close());
  db.pragma('journal_mode = WAL');
  db.pragma('wal_autocheckpoint = 0');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
  db.pragma('wal_checkpoint(TRUNCATE)');
  const before = statSync(file).size;
  const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
  db.transaction(() => { for (let i = 0; i < 2000; i++) insert.run('x'.repeat(500)); })();
  t.equal(statSync(file).size, before, 'nothing copied yet: the writer never checkpoints');
  const { log, lines } = memoryLog();
  const cp = new Checkpointer(file, log, 20);
  await until('the file to grow', () => statSync(file).size > before + 900_000);
  t.ok(cp.running, 'still running');
  // Everything committed was copied: a checkpoint now finds every WAL frame already in the file.
  const [r] = db.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number; log: number; checkpointed: number }>;
  t.equal(r!.checkpointed, r!.log, 'all frames backfilled');
  // Written after a full backfill, the next transaction starts the WAL over: it stays bounded.
  await until('the WAL to be reused', () => {
    db.prepare('INSERT INTO t (v) VALUES (?)').run('y');
    const [c] = db.pragma('wal_checkpoint(PASSIVE)') as Array<{ log: number }>;
    return c!.log < 100;
  });
  await cp.close();
  t.notOk(cp.running, 'the thread is gone after close');
  t.same(lines, [], 'nothing logged');
});

t.test('a checkpoint thread that cannot run logs once and leaves the process alone', async (t) => {
  const dir = tempDir(t);
  const notDb = path.join(dir, 'not-a-db');
  writeFileSync(notDb, 'this is not an SQLite database, and it is long enough to have a header of sorts: '.repeat(20));
  const { log, lines } = memoryLog();
  const cp = new Checkpointer(notDb, log, 20);
  await until('the thread to stop', () => !cp.running);
  const warned = lines.filter((l) => l.level === 40);
  t.equal(warned.length, 1, 'one warning');
  t.match(warned[0]!.msg, /background checkpoints stopped/);
  t.match(String(warned[0]!.error), /not a database|file is not a database/);
  await cp.close();

  const missing = memoryLog();
  const gone = new Checkpointer(path.join(dir, 'missing.db'), missing.log, 20);
  await until('the thread to stop', () => !gone.running);
  t.equal(missing.lines.length, 1, 'a missing file is one warning too');
});
