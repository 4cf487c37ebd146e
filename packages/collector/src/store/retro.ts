/**
 * Retro-hunt: when indicators arrive or change, every host's stored inventory — current
 * items and items already gone — is matched against them as indexed joins
 * (item_keys → host_items), not a rescan. Hits become alerts marked `retro`, carrying the time
 * the item was first seen on the host, so responders know how long it has been there.
 */
import type { DB } from './db.js';
import { nowIso } from './db.js';
import type { InventoryItem } from '@chainwatch/shared';
import type { StoredIndicator } from '../match/indicator.js';
import { compile, refine, type CompiledIndicator } from '../match/engine.js';

export interface RetroResult { indicators: number; candidates: number; alerts: number }

interface Candidate { host_id: string; item_id: number; first_seen: string; removed_at: string | null }

const NEEDS_ITEM = new Set(['software', 'cert_serial']);

export class RetroHunter {
  private readonly q;
  constructor(private readonly db: DB) {
    this.q = {
      byKey: db.prepare(`SELECT hi.host_id, hi.item_id, hi.first_seen, hi.removed_at
        FROM item_keys k JOIN host_items hi ON hi.item_id = k.item_id WHERE k.value = ?`),
      fileNames: db.prepare(`SELECT value, item_id FROM item_keys WHERE value >= 'fn:' AND value < 'fn;'`),
      hostsOf: db.prepare('SELECT host_id, item_id, first_seen, removed_at FROM host_items WHERE item_id = ?'),
      itemData: db.prepare('SELECT data FROM items WHERE id = ?').pluck(),
      insertAlert: db.prepare(`INSERT INTO alerts (host_id, indicator_id, item_id, severity, first_seen, last_seen, item_first_seen, retro, item_removed)
        VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?) ON CONFLICT (host_id, indicator_id, item_id) DO NOTHING`),
    };
  }

  private candidates(ind: CompiledIndicator): Candidate[] {
    if (ind.key !== null) return this.q.byKey.all(ind.key) as Candidate[];
    const out: Candidate[] = [];
    for (const r of this.q.fileNames.iterate() as Iterable<{ value: string; item_id: number }>) {
      if (ind.glob!.test(r.value.slice(3))) out.push(...(this.q.hostsOf.all(r.item_id) as Candidate[]));
    }
    return out;
  }

  /** Matches stored inventory against `indicators` (one transaction per call). */
  hunt(indicators: StoredIndicator[], now = Date.now()): RetroResult {
    return this.db.transaction(() => {
      const ts = nowIso();
      const res: RetroResult = { indicators: indicators.length, candidates: 0, alerts: 0 };
      const cache = new Map<number, InventoryItem>();
      for (const stored of indicators) {
        const ind = compile(stored);
        if (ind.from > now || ind.until < now) continue;
        for (const c of this.candidates(ind)) {
          res.candidates++;
          if (NEEDS_ITEM.has(ind.type)) {
            let item = cache.get(c.item_id);
            if (!item) { item = JSON.parse(this.q.itemData.get(c.item_id) as string) as InventoryItem; cache.set(c.item_id, item); }
            if (!refine(ind, item)) continue;
          }
          res.alerts += this.q.insertAlert.run(c.host_id, ind.id, c.item_id, ind.severity, ts, ts, c.first_seen, c.removed_at ? 1 : 0).changes;
        }
      }
      return res;
    })();
  }
}
