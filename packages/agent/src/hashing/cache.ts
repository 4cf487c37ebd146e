/**
 * The hash cache that makes rescans incremental: one SQLite file in the agent's state dir,
 * one row per file path with the (device, inode, size, mtime, ctime) it had when hashed.
 * A file whose five values are unchanged is not read again. ctime is in the key because a
 * tamperer can set mtime back (`touch -d`) but not ctime, short of changing the clock.
 *
 * Rows also remember files that were read only to sniff their type and were not worth
 * hashing (a data file in /opt), so rescans skip those reads too.
 *
 * It is only a cache: if the file is corrupt it is recreated, if it cannot be opened at all
 * the scan goes on hashing everything (and says so in the log). Rows of files no longer seen
 * are pruned after a complete scan only; a scan cut short by its time budget keeps them, so
 * the next scan resumes where this one stopped.
 */
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import type { FileType } from '@chainwatch/shared';
import type { Logger } from 'pino';

export interface CacheKey { dev: number; ino: number; size: number; mtimeMs: number; ctimeMs: number }
export interface Hashes { sha256: string; sha1: string; md5: string }
/** No `hashes`: the file was sniffed and found not worth hashing. */
export interface CacheEntry { fileType: FileType; hashes?: Hashes }

export interface HashCache {
  /** The entry if the file is unchanged since it was stored (and marks it seen). */
  lookup(filePath: string, key: CacheKey): CacheEntry | undefined;
  store(filePath: string, key: CacheKey, entry: CacheEntry): void;
  /** Commits; after a complete scan, drops rows of files not seen in it. Closes the cache. */
  finish(complete: boolean): void;
}

const SCHEMA_VERSION = 1;
const TYPES: readonly FileType[] = ['elf', 'pe', 'macho', 'script', 'msi', 'archive', 'other'];
const COMMIT_EVERY = 5000;
/** SQLite page cache of the hash cache, KiB. */
const CACHE_KIB = 1024;

/** A cache that remembers nothing: no cache file configured, or it could not be opened. */
const NO_CACHE: HashCache = { lookup: () => undefined, store: () => {}, finish: () => {} };

type Sqlite = typeof Database;

/**
 * Opens (or creates) the cache; never throws. `file` undefined = no cache, and then the SQLite
 * addon is not even loaded (a scan without a cache has no use for its memory).
 */
export async function openHashCache(file: string | undefined, log: Logger): Promise<HashCache> {
  if (!file) return NO_CACHE;
  let Sqlite: Sqlite;
  try {
    Sqlite = (await import('better-sqlite3')).default;
  } catch (err) {
    log.warn({ err, cacheFile: file }, 'hash cache unavailable, hashing everything');
    return NO_CACHE;
  }
  try {
    return new SqliteHashCache(Sqlite, file);
  } catch (err) {
    log.warn({ err, cacheFile: file }, 'hash cache unreadable, recreating');
    try {
      for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
      return new SqliteHashCache(Sqlite, file);
    } catch (err2) {
      log.warn({ err: err2, cacheFile: file }, 'hash cache unavailable, hashing everything');
      return NO_CACHE;
    }
  }
}

type Row = [number, number, number, number, number, number, string | null, string | null, string | null];

class SqliteHashCache implements HashCache {
  private readonly db: Database.Database;
  private readonly gen: number;
  private readonly get: Database.Statement<[string], Row>;
  private readonly touch: Database.Statement<[number, string]>;
  private readonly put: Database.Statement<unknown[]>;
  private writes = 0;

  constructor(Sqlite: Sqlite, file: string) {
    mkdirSync(path.dirname(file), { recursive: true });
    const db = new Sqlite(file);
    this.db = db;
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      // better-sqlite3 builds SQLite with a 16 MB page cache, and a 100k-file scan reads every
      // page of this table once, so the cache grew to the table's size (15 MB resident). Lookups
      // go in path order, so a small cache loses nothing: the OS page cache holds the file anyway.
      db.pragma(`cache_size = -${CACHE_KIB}`);
      if (db.pragma('user_version', { simple: true }) !== SCHEMA_VERSION) this.createSchema();
      const row = db.prepare(`SELECT v FROM meta WHERE k = 'gen'`).get() as { v: number } | undefined;
      this.gen = (row?.v ?? 0) + 1;
      db.prepare(`INSERT OR REPLACE INTO meta (k, v) VALUES ('gen', ?)`).run(this.gen);
      this.get = db.prepare<[string], Row>(// hex() in SQL: returning BLOBs would allocate three Buffers per file on a 100k-file rescan.
        'SELECT dev, ino, size, mtime, ctime, type, lower(hex(sha256)), lower(hex(sha1)), lower(hex(md5)) FROM files WHERE path = ?').raw(true);
      this.touch = db.prepare('UPDATE files SET seen = ? WHERE path = ?');
      this.put = db.prepare('INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, unhex(?), unhex(?), unhex(?), ?)');
      db.exec('BEGIN');
    } catch (err) {
      db.close();
      throw err;
    }
  }

  private createSchema(): void {
    this.db.exec(`
      DROP TABLE IF EXISTS files; DROP TABLE IF EXISTS meta;
      CREATE TABLE meta (k TEXT PRIMARY KEY, v) WITHOUT ROWID;
      CREATE TABLE files (path TEXT PRIMARY KEY, dev INTEGER, ino INTEGER, size INTEGER, mtime REAL, ctime REAL,
        type INTEGER, sha256 BLOB, sha1 BLOB, md5 BLOB, seen INTEGER) WITHOUT ROWID;
      PRAGMA user_version = ${SCHEMA_VERSION};`);
  }

  lookup(filePath: string, key: CacheKey): CacheEntry | undefined {
    const r = this.get.get(filePath);
    if (!r || r[0] !== key.dev || r[1] !== key.ino || r[2] !== key.size || r[3] !== key.mtimeMs || r[4] !== key.ctimeMs) return undefined;
    this.touch.run(this.gen, filePath);
    this.wrote();
    const fileType = TYPES[r[5]] ?? 'other';
    if (!r[6] || !r[7] || !r[8]) return { fileType };
    return { fileType, hashes: { sha256: r[6], sha1: r[7], md5: r[8] } };
  }

  store(filePath: string, key: CacheKey, entry: CacheEntry): void {
    const h = entry.hashes;
    this.put.run(filePath, key.dev, key.ino, key.size, key.mtimeMs, key.ctimeMs, TYPES.indexOf(entry.fileType),
      h?.sha256 ?? null, h?.sha1 ?? null, h?.md5 ?? null, this.gen);
    this.wrote();
  }

  /** Commits in slices so a crash loses little and the WAL stays small. */
  private wrote(): void {
    if (++this.writes % COMMIT_EVERY === 0) this.db.exec('COMMIT; BEGIN');
  }

  finish(complete: boolean): void {
    if (!this.db.open) return;
    if (complete) this.db.prepare('DELETE FROM files WHERE seen < ?').run(this.gen);
    this.db.exec('COMMIT');
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    this.db.close();
  }
}
