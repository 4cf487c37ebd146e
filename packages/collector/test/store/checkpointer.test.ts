// The background checkpointer copies the WAL into the database file from its own thread while
// the collector's connection no longer checkpoints by itself; if the worker dies, automatic
// checkpoints come back on the main connection.
import t from 'tap';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { openDb } from '../../src/store/db.js';
import { Checkpointer, INLINE_CHECKPOINT_PAGES } from '../../src/store/checkpointer.js';

const until = async (cond: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!cond()) { if (Date.now() > end) return false; await new Promise((r) => setTimeout(r, 50)); }
  return true;
};

t.test('checkpoints happen off the main connection, and come back to it if the worker dies', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cw-ckpt-'));
  const db = openDb(path.join(dir, 'c.db'));
  t.teardown(() => { if (db.open) db.close(); rmSync(dir, { recursive: true, force: true }); });
  const ck = new Checkpointer(db, pino({ level: 'silent' }), 100);
  ck.start();
  t.equal(db.pragma('wal_autocheckpoint', { simple: true }), 0, 'main connection no longer checkpoints by itself');
  db.exec('CREATE TABLE filler (x BLOB)');
  const before = statSync(path.join(dir, 'c.db')).size;
  db.transaction(() => { const ins = db.prepare('INSERT INTO filler VALUES (randomblob(1000))'); for (let i = 0; i < 20_000; i++) ins.run(); })();
  t.ok(statSync(path.join(dir, 'c.db-wal')).size > 10_000_000, 'the rows sit in the WAL');
  t.ok(await until(() => statSync(path.join(dir, 'c.db')).size > before + 10_000_000), 'the worker copied them into the database file');
  t.equal(db.prepare('SELECT count(*) FROM filler').pluck().get(), 20_000);

  await (ck as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
  t.ok(await until(() => db.pragma('wal_autocheckpoint', { simple: true }) === INLINE_CHECKPOINT_PAGES), 'automatic checkpoints restored after the worker died');
  await ck.stop();
  t.equal(db.pragma('wal_autocheckpoint', { simple: true }), INLINE_CHECKPOINT_PAGES);
});

t.test('in-memory databases have no WAL and no worker', async (t) => {
  const db = openDb(':memory:');
  const ck = new Checkpointer(db, pino({ level: 'silent' }));
  ck.start();
  t.equal((ck as unknown as { worker: unknown }).worker, null);
  await ck.stop();
  db.close();
});
