/**
 * rpm: installed RPM packages (Fedora, RHEL and clones, SUSE, Amazon Linux…).
 *
 * Reads the rpm database of RPM ≥ 4.16, `rpmdb.sqlite` in `/usr/lib/sysimage/rpm` or
 * `/var/lib/rpm`, opened read-only with better-sqlite3, and parses the header blob of each row
 * of table `Packages(hnum, blob)` itself: no librpm, so it works on any host and on offline
 * trees. Owned regular files (DIRNAMES/BASENAMES/DIRINDEXES, FILEMODES) go to `ctx.owned`.
 * Older databases (Berkeley DB `Packages`, SUSE's ndb `Packages.db`) are read through the
 * `rpm` command when one exists and the scan may run commands (live scans only); otherwise the
 * source reports them as unreadable. Needs read access to the rpmdb directory (world-readable
 * by default); no root.
 *
 * Offline trees are never written to: their database is copied to a temp dir first, since even
 * a read-only SQLite connection creates `-shm` next to a WAL database.
 *
 * Header format: https://rpm-software-management.github.io/rpm/manual/format_header.html
 * Tags: https://github.com/rpm-software-management/rpm/blob/master/include/rpm/rpmtag.h
 * sqlite backend: https://github.com/rpm-software-management/rpm/blob/master/lib/backend/sqlite.c
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type Database from 'better-sqlite3';
import type { InventoryItem, SoftwareItem } from '@chainwatch/shared';
import { AgentError } from '../errors.js';
import { safeResolve, safeStatKind } from './fs-safe.js';
import { disambiguateKeys, isoFromUnix, softwareItem } from './software-keys.js';
import type { ScanContext, Source } from './types.js';
import { errorItem, errorItemFrom } from './util.js';
import { smallPageCache } from '../sqlite-cache.js';

const ID = 'rpm';
/** Where rpm keeps its database, newest layout first (Fedora ≥ 36 links var/lib/rpm to it). */
const DB_DIRS = ['/usr/lib/sysimage/rpm', '/var/lib/rpm'];

export const TAG = {
  NAME: 1000, VERSION: 1001, RELEASE: 1002, EPOCH: 1003, INSTALLTIME: 1008, VENDOR: 1011,
  ARCH: 1022, OLDFILENAMES: 1027, FILEMODES: 1030, DIRINDEXES: 1116, BASENAMES: 1117, DIRNAMES: 1118,
} as const;

const T_CHAR = 1, T_INT8 = 2, T_INT16 = 3, T_INT32 = 4, T_INT64 = 5, T_STRING = 6, T_BIN = 7, T_STRING_ARRAY = 8, T_I18N = 9;
const TYPE_SIZE: Record<number, number> = { [T_CHAR]: 1, [T_INT8]: 1, [T_INT16]: 2, [T_INT32]: 4, [T_INT64]: 8, [T_BIN]: 1 };
/** rpm's own sanity limits (hdrchkTags / hdrchkData in lib/header.c). */
const MAX_TAGS = 0xffff, MAX_DATA = 0x0fffffff;

interface Entry { type: number; offset: number; count: number }

/** A parsed header: entries by tag, read lazily and bounds-checked on every access. */
export class RpmHeader {
  private constructor(private readonly data: Buffer, private readonly entries: Map<number, Entry>) {}

  /** Parses a header blob as stored in rpmdb (no magic: index count, data size, index, data). */
  static parse(blob: Buffer): RpmHeader {
    const corrupt = (why: string) => new AgentError('CW_SOURCE_CORRUPT', `rpm header: ${why}`);
    if (blob.length < 8) throw corrupt(`blob of ${blob.length} bytes`);
    const il = blob.readUInt32BE(0), dl = blob.readUInt32BE(4);
    if (il < 1 || il > MAX_TAGS) throw corrupt(`index count ${il}`);
    if (dl > MAX_DATA) throw corrupt(`data size ${dl}`);
    const dataStart = 8 + il * 16;
    if (blob.length < dataStart + dl) throw corrupt(`truncated: ${blob.length} bytes, header says ${dataStart + dl}`);
    const entries = new Map<number, Entry>();
    for (let i = 0; i < il; i++) {
      const o = 8 + i * 16;
      const tag = blob.readUInt32BE(o), type = blob.readUInt32BE(o + 4);
      const offset = blob.readInt32BE(o + 8), count = blob.readUInt32BE(o + 12);
      if (type > T_I18N || offset < 0 || offset > dl || count > dl + 1) throw corrupt(`bad index entry ${i} (tag ${tag})`);
      entries.set(tag, { type, offset, count });
    }
    return new RpmHeader(blob.subarray(dataStart, dataStart + dl), entries);
  }

  has(tag: number): boolean { return this.entries.has(tag); }

  /** Strings of a STRING, STRING_ARRAY or I18NSTRING entry (I18N: every locale). */
  strings(tag: number): string[] | undefined {
    const e = this.entries.get(tag);
    if (!e) return undefined;
    if (e.type !== T_STRING && e.type !== T_STRING_ARRAY && e.type !== T_I18N) throw this.bad(tag, 'not a string');
    const n = e.type === T_STRING ? 1 : e.count;
    const out: string[] = [];
    let p = e.offset;
    for (let i = 0; i < n; i++) {
      const end = this.data.indexOf(0, p);
      if (end < 0) throw this.bad(tag, 'string runs past the data');
      out.push(this.data.toString('utf8', p, end));
      p = end + 1;
    }
    return out;
  }

  string(tag: number): string | undefined { return this.strings(tag)?.[0]; }

  /** Numbers of an integer entry (INT64 as Number: RPM's sizes fit). */
  ints(tag: number): number[] | undefined {
    const e = this.entries.get(tag);
    if (!e) return undefined;
    const size = TYPE_SIZE[e.type];
    if (size === undefined || e.type === T_BIN) throw this.bad(tag, 'not an integer');
    if (e.offset + e.count * size > this.data.length) throw this.bad(tag, 'array runs past the data');
    const out = new Array<number>(e.count);
    for (let i = 0; i < e.count; i++) {
      const o = e.offset + i * size;
      out[i] = size === 1 ? this.data.readUInt8(o) : size === 2 ? this.data.readUInt16BE(o)
        : size === 4 ? this.data.readUInt32BE(o) : Number(this.data.readBigUInt64BE(o));
    }
    return out;
  }

  int(tag: number): number | undefined { return this.ints(tag)?.[0]; }

  private bad(tag: number, why: string): AgentError {
    return new AgentError('CW_SOURCE_CORRUPT', `rpm header tag ${tag}: ${why}`);
  }
}

export interface RpmPackage {
  name: string; epoch?: number | undefined; version: string; release: string;
  arch?: string | undefined; vendor?: string | undefined; installTime?: number | undefined;
  /** Every file path, and which of them are regular files (modes known). */
  files: string[]; regular: boolean[];
}

/** File paths of a header: compressed (dir + base) lists, or the pre-4.0 flat list. */
function headerFiles(h: RpmHeader): string[] {
  const bases = h.strings(TAG.BASENAMES);
  if (!bases) return h.strings(TAG.OLDFILENAMES) ?? [];
  const dirs = h.strings(TAG.DIRNAMES) ?? [];
  const idx = h.ints(TAG.DIRINDEXES) ?? [];
  if (idx.length !== bases.length) throw new AgentError('CW_SOURCE_CORRUPT', 'rpm header: DIRINDEXES and BASENAMES differ in length');
  return bases.map((b, i) => {
    const dir = dirs[idx[i]!];
    if (dir === undefined) throw new AgentError('CW_SOURCE_CORRUPT', `rpm header: dir index ${idx[i]} out of range`);
    return dir + b;
  });
}

/** The package facts of one header; throws CW_SOURCE_CORRUPT when it is not a usable header. */
export function packageFromHeader(h: RpmHeader): RpmPackage {
  const name = h.string(TAG.NAME), version = h.string(TAG.VERSION), release = h.string(TAG.RELEASE);
  if (!name || version === undefined || release === undefined) {
    throw new AgentError('CW_SOURCE_CORRUPT', 'rpm header lacks NAME, VERSION or RELEASE');
  }
  const files = headerFiles(h);
  const modes = h.ints(TAG.FILEMODES) ?? [];
  // S_IFREG; without modes (never in practice) we cannot tell, so nothing counts as regular.
  const regular = files.map((_, i) => modes[i] !== undefined && (modes[i]! & 0o170000) === 0o100000);
  return {
    name, version, release, files, regular,
    epoch: h.int(TAG.EPOCH), arch: h.string(TAG.ARCH), vendor: h.string(TAG.VENDOR), installTime: h.int(TAG.INSTALLTIME),
  };
}

/** `[epoch:]version-release`, epoch shown whenever the package sets one (rpm's %{EVR}). */
export function evr(p: Pick<RpmPackage, 'epoch' | 'version' | 'release'>): string {
  return `${p.epoch !== undefined ? `${p.epoch}:` : ''}${p.version}-${p.release}`;
}

function toItem(ctx: ScanContext, p: RpmPackage): SoftwareItem {
  const owner = `rpm:${p.name}`;
  p.files.forEach((f, i) => { if (p.regular[i]) ctx.owned.add(f, owner); });
  return softwareItem({
    source: 'rpm', scope: 'system', name: p.name, version: evr(p), arch: p.arch, vendor: p.vendor,
    id: `${p.name}-${evr(p)}${p.arch ? `.${p.arch}` : ''}`, install_date: isoFromUnix(p.installTime),
    files_count: p.files.length,
  });
}

export const rpm: Source = {
  id: ID,
  description: 'RPM packages from rpmdb.sqlite (or the rpm command for Berkeley DB/ndb databases)',
  phase: 0,
  async *collect(ctx) {
    try {
      yield* collectRpm(ctx);
    } catch (err) {
      yield errorItemFrom(ID, err, undefined, 'CW_SOURCE_FAILED');
    }
  },
};

async function* collectRpm(ctx: ScanContext): AsyncGenerator<InventoryItem> {
  const seen = new Set<string>();
  for (const dir of DB_DIRS) {
    const real = await safeResolve(ctx, dir).catch(() => null);
    if (real === null || seen.has(real)) continue;
    seen.add(real);
    if (await safeStatKind(ctx, `${dir}/rpmdb.sqlite`) === 'file') {
      yield* readSqliteDb(ctx, `${dir}/rpmdb.sqlite`);
      return;
    }
    for (const legacy of ['Packages', 'Packages.db']) {
      if (await safeStatKind(ctx, `${dir}/${legacy}`) === 'file') {
        yield* readWithCommand(ctx, dir, legacy);
        return;
      }
    }
  }
}

/** Rows of `Packages` → items; a bad blob is one error item, the rest still comes. */
async function* readSqliteDb(ctx: ScanContext, dbPath: string): AsyncGenerator<InventoryItem> {
  let opened: { db: Database.Database; cleanup(): Promise<void> };
  try {
    opened = await openDb(ctx, dbPath);
  } catch (err) {
    yield errorItemFrom(ID, err, dbPath, 'CW_SOURCE_UNREADABLE');
    return;
  }
  const items: SoftwareItem[] = [];
  const errors: InventoryItem[] = [];
  try {
    const rows = opened.db.prepare('SELECT hnum, blob FROM Packages ORDER BY hnum').iterate() as Iterable<{ hnum: number; blob: unknown }>;
    for (const row of rows) {
      if (ctx.signal.aborted) { errors.push(errorItem(ID, 'CW_SOURCE_TIMEOUT', 'stopped early: time budget spent', dbPath)); break; }
      try {
        if (!Buffer.isBuffer(row.blob)) throw new AgentError('CW_SOURCE_CORRUPT', `blob of hnum ${row.hnum} is not a BLOB`);
        items.push(toItem(ctx, packageFromHeader(RpmHeader.parse(row.blob))));
      } catch (err) {
        errors.push(errorItemFrom(ID, err, `${dbPath}#hnum=${row.hnum}`, 'CW_SOURCE_CORRUPT'));
      }
    }
  } catch (err) {
    // A damaged database file (not just a bad blob): keep what was read before it.
    errors.push(errorItemFrom(ID, err, dbPath, 'CW_SOURCE_CORRUPT'));
  } finally {
    opened.db.close();
    await opened.cleanup();
  }
  yield* disambiguateKeys(items);
  yield* errors;
}

/**
 * Opens the database read-only. Live: in place (SQLite's locks keep us consistent with a
 * running rpm), falling back to a copy when that fails (read-only mount of a WAL database).
 * Offline: always a copy, so the evidence tree is not touched.
 */

async function openDb(ctx: ScanContext, dbPath: string): Promise<{ db: Database.Database; cleanup(): Promise<void> }> {
  const real = await safeResolve(ctx, dbPath);
  if (real === null) throw new AgentError('CW_SOURCE_UNREADABLE', `${dbPath} vanished`);
  // Imported here, not with the source: only rpm hosts pay for the SQLite addon in a scan.
  const { default: SqliteDatabase } = await import('better-sqlite3');
  if (!ctx.offline) {
    try {
      const db = smallPageCache(new SqliteDatabase(real, { readonly: true, fileMustExist: true }));
      db.prepare('SELECT count(*) FROM Packages').get();
      return { db, cleanup: async () => {} };
    } catch (err) {
      ctx.log.debug({ err, path: dbPath }, 'rpmdb not readable in place; copying');
    }
  }
  const tmp = await mkdtemp(path.join(tmpdir(), 'chainwatch-rpmdb-'));
  const cleanup = () => rm(tmp, { recursive: true, force: true });
  try {
    await copyFile(real, path.join(tmp, 'rpmdb.sqlite'));
    // Committed transactions not yet checkpointed live in the WAL: copy it along.
    const wal = await safeResolve(ctx, `${dbPath}-wal`).catch(() => null);
    if (wal !== null && (await stat(wal).catch(() => null))?.isFile()) await copyFile(wal, path.join(tmp, 'rpmdb.sqlite-wal'));
    const db = smallPageCache(new SqliteDatabase(path.join(tmp, 'rpmdb.sqlite'), { readonly: true, fileMustExist: true }));
    return { db, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

const QF = 'P\\t%{NAME}\\t%|EPOCH?{%{EPOCH}}|\\t%{VERSION}\\t%{RELEASE}\\t%|ARCH?{%{ARCH}}|\\t%|VENDOR?{%{VENDOR}}|\\t%|INSTALLTIME?{%{INSTALLTIME}}|\\n'
  + '[F\\t%{FILEMODES}\\t%{FILENAMES}\\n]';

/** Berkeley DB / ndb databases: only librpm reads them reliably, so ask the rpm command. */
async function* readWithCommand(ctx: ScanContext, dbDir: string, file: string): AsyncGenerator<InventoryItem> {
  const where = `${dbDir}/${file}`;
  if (ctx.offline) {
    yield errorItem(ID, 'CW_SOURCE_UNREADABLE', 'pre-4.16 rpm database (Berkeley DB/ndb) and commands are not run on offline trees', where);
    return;
  }
  try {
    yield* await queryRpmCommand(ctx, dbDir);
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    yield errorItem(ID, 'CW_SOURCE_UNREADABLE', missing ? 'pre-4.16 rpm database and no rpm command to read it' : (err as Error).message, where);
  }
}

/** Packages of the database in `dbDir` (system path) as the rpm command lists them; throws on failure. */
export async function queryRpmCommand(ctx: ScanContext, dbDir: string): Promise<SoftwareItem[]> {
  const out = await run(ctx, ['--root', ctx.root, '--dbpath', dbDir, '-qa', '--qf', QF]);
  return disambiguateKeys(parseQueryOutput(out).map((p) => toItem(ctx, p)));
}

function run(ctx: ScanContext, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('rpm', args, { signal: ctx.signal, maxBuffer: 1 << 30, env: { ...process.env, LC_ALL: 'C' } },
      (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
}

/** Output of QF: a `P` line per package followed by its `F` lines. */
export function parseQueryOutput(out: string): RpmPackage[] {
  const pkgs: RpmPackage[] = [];
  let cur: RpmPackage | undefined;
  for (const line of out.split('\n')) {
    const f = line.split('\t');
    if (f[0] === 'P' && f.length >= 8) {
      const num = (s: string | undefined) => (s && /^\d+$/.test(s) ? Number(s) : undefined);
      cur = {
        name: f[1]!, epoch: num(f[2]), version: f[3]!, release: f[4]!, arch: f[5] || undefined,
        vendor: f[6] || undefined, installTime: num(f[7]), files: [], regular: [],
      };
      pkgs.push(cur);
    } else if (f[0] === 'F' && cur && f.length >= 3 && /^\d+$/.test(f[1]!) && f[2]!.startsWith('/')) {
      cur.files.push(f.slice(2).join('\t'));
      cur.regular.push((Number(f[1]) & 0o170000) === 0o100000);
    }
  }
  return pkgs;
}
