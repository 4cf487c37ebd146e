/**
 * The agent's SQLite page cache. better-sqlite3 builds SQLite with a 16 MB cache per schema; the
 * agent's databases (its delta store, a host's rpmdb) are read or written a page at a time and
 * the OS page cache holds their files anyway, so 16 MB each would only count against the agent's
 * 100 MB ceiling.
 */
import type Database from 'better-sqlite3';

const CACHE_KIB = 1024;

/** Caps the page cache of each named schema ('main', 'temp'); returns the database. */
export function smallPageCache(db: Database.Database, schemas: ReadonlyArray<'main' | 'temp'> = ['main']): Database.Database {
  for (const s of schemas) db.pragma(`${s}.cache_size = -${CACHE_KIB}`);
  return db;
}
