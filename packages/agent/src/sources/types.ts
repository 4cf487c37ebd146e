import type { InventoryItem } from '@chainwatch/shared';
import type { Logger } from 'pino';
import type { OwnedFiles } from '../owned-files.js';

/**
 * Where a scan reads from. Every source reads through `resolve`, so the same code inventories
 * the live system (root `/`) and an offline tree (a mounted disk image, a container rootfs),
 * and reports paths as they are on that system.
 */
export interface ScanContext {
  /** Absolute real path of the scanned root ('/' when live). */
  readonly root: string;
  /** True when scanning an offline tree: sources must not run commands or read live state. */
  readonly offline: boolean;
  /** System path ('/var/lib/dpkg/status', 'C:/Windows/…' as '/Windows/…') → real path below root. */
  resolve(systemPath: string): string;
  /** Real path below root → system path as reported. */
  systemPath(realPath: string): string;
  readonly log: Logger;
  /** Aborted when the source's time budget is spent or the scan is cancelled. */
  readonly signal: AbortSignal;
  /**
   * Files a package owns, shared between sources: package sources add what they own
   * (system path → `<source>:<name>`, first owner wins), the files source hashes them.
   */
  readonly owned: OwnedFiles;
  /**
   * Files that can carry a code signature, found by the files source (system path → format);
   * the signatures source verifies them in phase 2.
   */
  readonly signable: Map<string, 'pe' | 'msi' | 'macho'>;
  /** Options from the command line or config. */
  readonly options: ScanOptions;
  /** Live counters the files source updates (progress bar, benches, tests); optional. */
  readonly stats?: FileScanCounters;
}

/** What the files source has done so far; read it any time (e.g. from a progress timer). */
export interface FileScanCounters {
  /** Candidate files considered. */
  files: number;
  /** Files read and hashed in this scan. */
  hashed: number;
  /** Files whose hashes came from the cache (unchanged since the last scan). */
  cached: number;
  /** Bytes read for hashing. */
  bytesHashed: number;
  /** Error items emitted by the files source. */
  errors: number;
}

export interface ScanOptions {
  /** Largest file hashed, in bytes. */
  maxFileSize: number;
  /** Hash files at all (off for a quick software-only pass). */
  hashFiles: boolean;
  /** Extra PEM trust anchors for signature verdicts. */
  trustFiles: string[];
  /** Paths where code-signing keys may legitimately live (none by default). */
  approvedKeyLocations: string[];
  /** Time budget per source, in milliseconds. */
  sourceBudgetMs: number;
  /** Hash cache (SQLite) that makes rescans incremental; none = hash everything every time. */
  cacheFile?: string;
  /** CPU ceiling for hashing, percent of one core (100 = one full core); 0 or unset = unlimited. */
  maxCpuPercent?: number;
  /** Hashing threads run at nice 19 and idle I/O class (ionice -c3) where available. */
  ioNice?: boolean;
  /** Hashing worker threads; unset = one per core, at most 4. */
  hashWorkers?: number;
}

/**
 * One inventory source (osquery's "one table, one file"): it knows one artifact, reads it
 * below the scan root, and yields items. It never throws for bad input: a corrupt database or
 * an unreadable file becomes an `error` item and the rest of the inventory still comes.
 */
export interface Source {
  /** snake_case id, used in logs, error items and item keys. */
  readonly id: string;
  /** What it reads, in a few words (shown by `scan --list-sources`). */
  readonly description: string;
  /**
   * Sources run in phases: 0 = host facts and package databases (fill `ctx.owned`),
   * 1 = files and hashing, 2 = signing and certificates (which may reuse file results).
   */
  readonly phase: 0 | 1 | 2;
  collect(ctx: ScanContext): AsyncIterable<InventoryItem>;
}
