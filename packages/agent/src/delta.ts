/**
 * Incremental inventories: after the first full inventory, the agent sends only what was
 * added or changed, plus the keys of what disappeared. It remembers, per item key, a digest
 * of the item it last delivered (SQLite in the state directory, so the memory cost does not
 * grow with the inventory). The remembered state moves forward only once the whole scan is
 * durably spooled (the spool never drops a batch), so an interrupted scan is recomputed.
 */
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { canonicalJson, type InventoryItem } from '@chainwatch/shared';
import { smallPageCache } from './sqlite-cache.js';

export interface DeltaScan {
  /** Items new or changed since the baseline (host facts always pass); in a full scan, use every item. */
  filter(items: AsyncIterable<InventoryItem>): AsyncGenerator<InventoryItem>;
  /** Keys that were delivered before and were not seen in this scan. */
  removed(): string[];
  /** Makes this scan the new baseline; call once every batch is durably spooled or acknowledged. */
  commit(full: boolean): void;
  /** Forgets this scan without touching the baseline. */
  abort(): void;
}

/** Digest of an item's content (keys sorted, so field order never matters). */
export function itemDigest(item: InventoryItem): Buffer {
  return createHash('sha256').update(canonicalJson(item)).digest().subarray(0, 16);
}

export class DeltaStore {
  private readonly db: Database.Database;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // With the default cache the scan's temp table and the baseline lookups both grew toward the
    // inventory's size (~25 MB resident for 110k items, the difference between a service scan
    // and the 100 MB ceiling).
    smallPageCache(this.db, ['main', 'temp']);
    this.db.exec(`CREATE TABLE IF NOT EXISTS delivered (key TEXT PRIMARY KEY, digest BLOB NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT);`);
  }

  /** True when a full inventory has been acknowledged before (the next scan can be a delta). */
  hasBaseline(): boolean {
    return this.db.prepare(`SELECT v FROM meta WHERE k = 'baseline'`).pluck().get() === 'yes';
  }

  /** When the last full inventory became the baseline (epoch ms; 0 = never). */
  lastFullAt(): number {
    return Number(this.db.prepare(`SELECT v FROM meta WHERE k = 'full_at'`).pluck().get() ?? 0);
  }

  /** Forget the baseline: the next scan is sent in full (e.g. the collector asked for a rescan). */
  reset(): void {
    this.db.exec(`DELETE FROM delivered; DELETE FROM meta WHERE k = 'baseline';`);
  }

  /** Starts a scan; with `full`, every item passes (the collector then drops what it did not see). */
  begin(full = false): DeltaScan {
    const db = this.db;
    db.exec('DROP TABLE IF EXISTS temp.scan; CREATE TEMP TABLE scan (key TEXT PRIMARY KEY, digest BLOB NOT NULL) WITHOUT ROWID;');
    const get = db.prepare('SELECT digest FROM delivered WHERE key = ?').pluck();
    const put = db.prepare('INSERT OR REPLACE INTO temp.scan (key, digest) VALUES (?, ?)');
    return {
      async *filter(items) {
        for await (const item of items) {
          const d = itemDigest(item);
          put.run(item.key, d);
          const prev = get.get(item.key) as Buffer | undefined;
          if (full || item.kind === 'host' || !prev || !prev.equals(d)) yield item;
        }
      },
      removed: () => db.prepare('SELECT key FROM delivered WHERE key NOT IN (SELECT key FROM temp.scan)').pluck().all() as string[],
      commit: (full) => db.transaction(() => {
        db.exec(`DELETE FROM delivered; INSERT INTO delivered SELECT key, digest FROM temp.scan; DROP TABLE temp.scan;
          INSERT OR REPLACE INTO meta (k, v) VALUES ('baseline', 'yes');`);
        if (full) db.prepare(`INSERT OR REPLACE INTO meta (k, v) VALUES ('full_at', ?)`).run(String(Date.now()));
      })(),
      abort: () => db.exec('DROP TABLE IF EXISTS temp.scan'),
    };
  }

  close(): void { this.db.close(); }
}
