import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS } from './migrations/index.js';

export type DB = Database.Database;

/**
 * Bytes of WAL file kept after a checkpoint empties it. A WAL grows while a reader holds an old
 * snapshot (a long search, a backup) and SQLite reuses the file from its start afterwards without
 * shrinking it: a first inventory of a large fleet left gigabytes of disk taken by the WAL for
 * the collector's lifetime. Twice the writer's checkpoint threshold (store/inventory.ts: 64 MB),
 * so a WAL of normal size is reused in place, not cut and grown again on every reset.
 */
export const WAL_KEEP_BYTES = 128 * 1024 * 1024;

/**
 * Opens (creating folder and file) the collector database: WAL so readers never wait for the
 * ingest writer, NORMAL sync (durable at checkpoints, safe against corruption), foreign keys,
 * a busy timeout for the CLI talking to a running collector's file, a bounded WAL file after
 * checkpoints, then migrations.
 */
export function openDb(file: string): DB {
  if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const db = new Database(file);
  immediateTransactions(db);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 10000');
  db.pragma('cache_size = -65536');
  db.pragma('temp_store = MEMORY');
  db.pragma(`journal_size_limit = ${WAL_KEEP_BYTES}`);
  migrate(db);
  return db;
}

/**
 * Every transaction on a collector connection begins IMMEDIATE (takes the write lock first).
 * Several connections write the file — the API's, the ingest writer thread's, a retro-hunt's —
 * and a deferred transaction that reads before it writes cannot upgrade once another connection
 * committed in between: SQLITE_BUSY_SNAPSHOT, which busy_timeout does not retry (enrollments
 * failed with 500 while 2,000 agents synced). Nested calls still use savepoints.
 */
function immediateTransactions(db: DB): void {
  const make = db.transaction.bind(db);
  db.transaction = ((fn: (...args: never[]) => unknown) => {
    const t = make(fn);
    return Object.assign((...args: never[]) => t.immediate(...args), { default: t.immediate, deferred: t.deferred, immediate: t.immediate, exclusive: t.exclusive });
  }) as DB['transaction'];
}

export function migrate(db: DB): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}

export const nowIso = (): string => new Date().toISOString();

type RowMode = 'rows' | 'raw' | 'pluck';
const statements = new WeakMap<DB, Map<string, Database.Statement>>();
/**
 * A prepared statement kept per connection, by its SQL and row mode: the API's reads (search,
 * the alert list, token checks) prepared the same few statements on every request, ~5 % of the
 * main thread's longest busy stretches under the fleet bench's API load. The mode is set here,
 * once; callers must not change it (raw() and pluck() change the shared object).
 */
export function cachedStatement(db: DB, sql: string, mode: RowMode = 'rows'): Database.Statement {
  let byKey = statements.get(db);
  if (!byKey) statements.set(db, byKey = new Map());
  const key = `${mode}\0${sql}`;
  let st = byKey.get(key);
  if (!st) {
    st = db.prepare(sql);
    if (mode === 'raw') st.raw(); else if (mode === 'pluck') st.pluck();
    byKey.set(key, st);
  }
  return st;
}
/** ISO-8601 text of a time kept as integer milliseconds (host_inv, host_nums: migration 11). */
export const isoOfMs = (ms: number): string => new Date(ms).toISOString();
