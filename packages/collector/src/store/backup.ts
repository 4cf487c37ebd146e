/**
 * Online backup and offline restore of the collector database.
 *
 * backup: SQLite's backup API (better-sqlite3 db.backup()) from a separate read-only
 * connection while the collector keeps serving. Under WAL a reader never blocks the writer;
 * the copy is a consistent snapshot because all pages after the first step go in one step
 * (a write between steps makes SQLite restart the copy, so small steps could chase a busy
 * ingest forever). The result is checked with integrity_check before it counts as a backup.
 *
 * restore: only into a database no process has open (Linux: /proc/<pid>/fd is searched for
 * the file, its -wal and -shm), after checking the backup; the replaced file is kept aside.
 */
import { chmodSync, copyFileSync, existsSync, openSync, fsyncSync, closeSync, readdirSync, readlinkSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Errors } from '../errors.js';
import { MIGRATIONS } from './migrations/index.js';

export interface BackupResult { file: string; bytes: number; ms: number; integrity: string; counts: Record<string, number> }

const COUNTED = ['hosts', 'items', 'host_items', 'alerts', 'indicators'];

/** Row counts of the main tables (a table missing in an older schema counts -1). */
export function tableCounts(db: Database.Database): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of COUNTED) {
    try { out[t] = db.prepare(`SELECT count(*) FROM ${t}`).pluck().get() as number; } catch { out[t] = -1; }
  }
  return out;
}

/** integrity_check (full) or quick_check: 'ok' or the first problems SQLite lists. */
export function checkIntegrity(db: Database.Database, full = true): string {
  const rows = db.pragma(full ? 'integrity_check(20)' : 'quick_check(20)', { simple: false }) as Array<Record<string, string>>;
  const msgs = rows.map((r) => Object.values(r)[0]!);
  return msgs.length === 1 && msgs[0] === 'ok' ? 'ok' : msgs.join('; ');
}

/** Copies the live database at `src` to `dest` (which must not exist unless `force`). */
export async function backupDatabase(src: string, dest: string, opts: { force?: boolean } = {}): Promise<BackupResult> {
  if (!existsSync(src)) throw new Errors.CW_BACKUP_FAILED(`${src} does not exist`);
  if (existsSync(dest) && !opts.force) throw new Errors.CW_BACKUP_FAILED(`${dest} exists (use --force to replace it)`);
  const t0 = Date.now();
  const tmp = `${dest}.partial-${process.pid}`;
  const db = new Database(src, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 10000');
    await db.backup(tmp, { progress: () => 1 << 30 });
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new Errors.CW_BACKUP_FAILED(`${src} → ${dest}: ${(err as Error).message}`);
  } finally { db.close(); }
  chmodSync(tmp, 0o600);
  const check = new Database(tmp, { readonly: true, fileMustExist: true });
  let integrity: string, counts: Record<string, number>;
  try { integrity = checkIntegrity(check); counts = tableCounts(check); } finally { check.close(); }
  if (integrity !== 'ok') { rmSync(tmp, { force: true }); throw new Errors.CW_BACKUP_FAILED(`backup copy failed integrity_check: ${integrity}`); }
  fsyncFile(tmp);
  renameSync(tmp, dest);
  return { file: dest, bytes: statSync(dest).size, ms: Date.now() - t0, integrity, counts };
}

function fsyncFile(f: string): void { const fd = openSync(f, 'r'); try { fsyncSync(fd); } finally { closeSync(fd); } }

/** Processes (other than this one) that have `file`, its -wal or -shm open. Linux only; [] elsewhere. */
export function processesUsing(file: string): number[] {
  const targets = new Set([file, `${file}-wal`, `${file}-shm`].map((f) => path.resolve(f)));
  const pids: number[] = [];
  let procs: string[];
  try { procs = readdirSync('/proc').filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid); } catch { return []; }
  for (const pid of procs) {
    let fds: string[];
    try { fds = readdirSync(`/proc/${pid}/fd`); } catch { continue; }
    for (const fd of fds) {
      try { if (targets.has(readlinkSync(`/proc/${pid}/fd/${fd}`))) { pids.push(Number(pid)); break; } } catch { /* fd closed meanwhile */ }
    }
  }
  return pids;
}

/** Replaces the database at `dest` with the backup `src`; refuses while any process has it open. */
export function restoreDatabase(src: string, dest: string): { keptAs: string | null; counts: Record<string, number> } {
  const users = processesUsing(dest);
  if (users.length) throw new Errors.CW_RESTORE_REFUSED(`${dest} is open in process ${users.join(', ')}: stop the collector first (systemctl stop chainwatch-collector)`);
  const check = new Database(src, { readonly: true, fileMustExist: true });
  let counts: Record<string, number>;
  try {
    const integrity = checkIntegrity(check);
    if (integrity !== 'ok') throw new Errors.CW_RESTORE_REFUSED(`${src} fails integrity_check: ${integrity}`);
    const version = check.pragma('user_version', { simple: true }) as number;
    if (version < 1 || version > MIGRATIONS.length) throw new Errors.CW_RESTORE_REFUSED(`${src} has schema version ${version}; this collector knows 1..${MIGRATIONS.length}`);
    counts = tableCounts(check);
  } finally { check.close(); }
  const tmp = `${dest}.restoring-${process.pid}`;
  copyFileSync(src, tmp);
  chmodSync(tmp, 0o600);
  fsyncFile(tmp);
  let keptAs: string | null = null;
  if (existsSync(dest)) {
    keptAs = `${dest}.pre-restore-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    renameSync(dest, keptAs);
  }
  // A WAL left from the old database would be replayed into the restored one: remove it.
  for (const f of [`${dest}-wal`, `${dest}-shm`]) rmSync(f, { force: true });
  renameSync(tmp, dest);
  return { keptAs, counts };
}
