/**
 * Retro-hunt: when indicators arrive or change, every host's stored inventory — current
 * items and items already gone — is matched against them as ONE indexed join per chunk:
 * the indicators' lookup keys go into a temp table, joined to item_keys (primary key on value)
 * and host_inv (item index, bucket by bucket: store/host-buckets.ts), never a rescan of
 * inventories. Glob file-name indicators are matched against the distinct stored file names
 * through the same GlobIndex the live matcher uses. Hits become alerts marked `retro`, carrying
 * when the item was first seen on the host, so responders know how long it has been there.
 *
 * Reading happens outside any write transaction; alerts are written in short transactions
 * (ALERT_TX rows) so a hunt never holds the write lock long enough to stall ingest. Runs in a
 * worker thread on its own connection (store/retro-worker.ts) or, for in-memory databases, in
 * slices on the main thread (service.ts).
 */
import type { DB } from './db.js';
import { isoOfMs, nowIso } from './db.js';
import { pairsOfItem } from './host-buckets.js';
import type { InventoryItem } from '@chainwatch/shared';
import type { StoredIndicator } from '../match/indicator.js';
import { compile, refine, type CompiledIndicator } from '../match/engine.js';
import { GlobIndex, isPathGlob } from '../match/glob.js';

export interface RetroResult { indicators: number; candidates: number; alerts: number }

type Hit = [host: string, item: number, firstSeen: string, removed: number, ind: CompiledIndicator];

const NEEDS_ITEM = new Set(['software', 'cert_serial']);
const ALERT_TX = 2000;
/** SQL: whether host_inv pair `hi` has left its host (migration 12). */
const REMOVED = 'EXISTS (SELECT 1 FROM host_removed r WHERE r.host = hi.host AND r.item = hi.item)';

export class RetroHunter {
  private readonly q;
  constructor(private readonly db: DB) {
    db.exec('CREATE TEMP TABLE IF NOT EXISTS retro_keys (key TEXT NOT NULL, ind INTEGER NOT NULL)');
    this.q = {
      clearKeys: db.prepare('DELETE FROM temp.retro_keys'),
      addKey: db.prepare('INSERT INTO temp.retro_keys (key, ind) VALUES (?, ?)'),
      // CROSS JOIN pins the order: temp keys drive, item_keys, host_inv (bucketed item index) and host_nums are probed by index.
      join: db.prepare(`SELECT t.ind, n.host_id, hi.item, hi.first_seen, ${REMOVED} AS removed
        FROM temp.retro_keys t CROSS JOIN item_keys k ON k.value = t.key CROSS JOIN host_inv hi ON ${pairsOfItem('hi', '= k.item_id')}
        CROSS JOIN host_nums n ON n.num = hi.host`).raw(),
      fileNames: db.prepare(`SELECT value, item_id FROM item_keys WHERE value >= 'fn:' AND value < 'fn;'`).raw(),
      filePaths: db.prepare(`SELECT id, json_extract(data, '$.path') FROM items WHERE kind = 'file'`).raw(),
      hostsOf: db.prepare(`SELECT n.host_id, hi.item, hi.first_seen, ${REMOVED} FROM host_inv hi
        JOIN host_nums n ON n.num = hi.host WHERE ${pairsOfItem('hi', '= ?')}`).raw(),
      itemData: db.prepare('SELECT data FROM items WHERE id = ?').pluck(),
      insertAlert: db.prepare(`INSERT INTO alerts (host_id, indicator_id, item_id, severity, first_seen, last_seen, item_first_seen, retro, item_removed)
        VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?) ON CONFLICT (host_id, indicator_id, item_id) DO NOTHING`),
    };
  }

  /** Matches stored inventory against `indicators`; returns what was found and written. */
  hunt(indicators: StoredIndicator[], now = Date.now()): RetroResult {
    const active = indicators.map((s) => compile(s)).filter((c) => c.from <= now && now <= c.until);
    const keyed = active.filter((c) => c.key !== null);
    const globs = active.filter((c) => c.key === null);
    const hits = [...this.keyedHits(keyed), ...this.globHits(globs)];
    const res: RetroResult = { indicators: indicators.length, candidates: hits.length, alerts: 0 };
    const kept = this.refined(hits);
    const ts = nowIso();
    for (let i = 0; i < kept.length; i += ALERT_TX) {
      res.alerts += this.db.transaction(() => {
        let n = 0;
        for (const [host, item, first, removed, ind] of kept.slice(i, i + ALERT_TX)) {
          n += this.q.insertAlert.run(host, ind.id, item, ind.severity, ts, ts, first, removed).changes;
        }
        return n;
      })();
    }
    return res;
  }

  private keyedHits(keyed: CompiledIndicator[]): Hit[] {
    if (!keyed.length) return [];
    this.db.transaction(() => {
      this.q.clearKeys.run();
      keyed.forEach((c, i) => this.q.addKey.run(c.key, i));
    })();
    const out: Hit[] = [];
    for (const [i, host, item, first, removed] of this.q.join.iterate() as Iterable<[number, string, number, number, number]>) {
      out.push([host, item, isoOfMs(first), removed, keyed[i]!]);
    }
    this.q.clearKeys.run();
    return out;
  }

  /** Globs against each distinct stored file name (and path, for path globs) — once per name, not per host. */
  private globHits(globs: CompiledIndicator[]): Hit[] {
    if (!globs.length) return [];
    const idx = new GlobIndex<CompiledIndicator & { pattern: string; re: RegExp }>();
    for (const g of globs) idx.add({ ...g, pattern: g.pattern ?? '', re: g.glob! });
    const matched: Array<[number, CompiledIndicator]> = [];
    const anyPath = globs.some((g) => isPathGlob(g.pattern ?? ''));
    const rows = anyPath ? this.q.filePaths.all() as Array<[number, string]> : (this.q.fileNames.all() as Array<[string, number]>).map(([v, id]) => [id, v.slice(3)] as [number, string]);
    for (const [id, p] of rows) {
      const name = anyPath ? p.slice(Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\')) + 1) : p;
      for (const g of idx.match(name, p)) matched.push([id, g]);
    }
    const out: Hit[] = [];
    for (const [id, g] of matched) {
      for (const [host, item, first, removed] of this.q.hostsOf.all(id) as Array<[string, number, number, number]>) out.push([host, item, isoOfMs(first), removed, g]);
    }
    return out;
  }

  /** Software versions and serial issuers are checked on the item itself (parsed once per item). */
  private refined(hits: Hit[]): Hit[] {
    const cache = new Map<number, InventoryItem>();
    return hits.filter(([, itemId, , , ind]) => {
      if (!NEEDS_ITEM.has(ind.type)) return true;
      let item = cache.get(itemId);
      if (!item) { item = JSON.parse(this.q.itemData.get(itemId) as string) as InventoryItem; cache.set(itemId, item); }
      return refine(ind, item);
    });
  }
}
