/**
 * Retention: forgets inventory that left hosts long ago. A host pair (host_inv, migration 4)
 * removed before the cutoff (host_removed, migration 12) is deleted, with its removal; then,
 * among the items of the deleted pairs, those no host holds any more and no alert points at
 * (alerts keep their evidence), with their lookup keys. Only the deleted pairs' items are
 * checked — by item, bucket by bucket (store/host-buckets.ts) — not every stored item.
 * Deletions run in short transactions (PRUNE_BATCH rows) so a running collector's ingest waits
 * milliseconds, not the whole prune.
 * One implementation for the CLI (`prune`) and the running collector (InventoryStore.prune).
 */
import type { InventoryItem } from '@chainwatch/shared';
import { itemKeys } from '../match/keys.js';
import type { DB } from './db.js';
import { pairsOfItem } from './host-buckets.js';

export interface PruneResult { hostItems: number; items: number; itemKeys: number; cutoff: string; ms: number }

export const PRUNE_BATCH = 5000;

export function pruneInventory(db: DB, opts: { retentionDays: number; now?: Date; dryRun?: boolean }): PruneResult {
  const cutoff = new Date((opts.now ?? new Date()).getTime() - opts.retentionDays * 86400_000);
  return pruneBefore(db, cutoff, opts.dryRun ?? false);
}

/** Prunes pairs removed before `cutoff`; a dry run counts what would go (items included) and changes nothing. */
export function pruneBefore(db: DB, cutoff: Date, dryRun = false): PruneResult {
  const t0 = Date.now();
  const ts = cutoff.toISOString(), ms = cutoff.getTime();
  // Pair times are integer milliseconds (migration 11).
  const removed = db.prepare('SELECT host, item FROM host_removed WHERE removed_at < ?').raw().all(ms) as Array<[number, number]>;
  const candidates = JSON.stringify([...new Set(removed.map(([, item]) => item))]);
  // Items that keep no pair once the old ones are gone: the same question before (dry run) and after the deletes.
  const orphansSql = `SELECT c.value FROM json_each(?) c WHERE c.value NOT IN (SELECT item_id FROM alerts)
    AND NOT EXISTS (SELECT 1 FROM host_inv hi WHERE ${pairsOfItem('hi', '= c.value')}
      AND NOT EXISTS (SELECT 1 FROM host_removed r WHERE r.host = hi.host AND r.item = hi.item AND r.removed_at < ?))`;
  if (dryRun) {
    const items = (db.prepare(orphansSql).pluck().all(candidates, ms) as number[]).length;
    return { hostItems: removed.length, items, itemKeys: 0, cutoff: ts, ms: Date.now() - t0 };
  }
  const delPair = db.prepare('DELETE FROM host_inv WHERE host = ? AND item = ?');
  const delRemoval = db.prepare('DELETE FROM host_removed WHERE host = ? AND item = ?');
  let hostItems = 0;
  for (let i = 0; i < removed.length; i += PRUNE_BATCH) {
    const slice = removed.slice(i, i + PRUNE_BATCH);
    db.transaction(() => { for (const [h, it] of slice) { hostItems += delPair.run(h, it).changes; delRemoval.run(h, it); } })();
  }
  const orphans = db.prepare(orphansSql).pluck().all(candidates, ms) as number[];
  const itemData = db.prepare('SELECT data FROM items WHERE id = ?').pluck();
  const delKey = db.prepare('DELETE FROM item_keys WHERE value = ? AND item_id = ?');
  const delItem = db.prepare('DELETE FROM items WHERE id = ?');
  let items = 0, keys = 0;
  for (let i = 0; i < orphans.length; i += PRUNE_BATCH) {
    const slice = orphans.slice(i, i + PRUNE_BATCH);
    db.transaction(() => {
      for (const id of slice) {
        const data = itemData.get(id) as string | undefined;
        if (data === undefined) continue;
        // item_keys has no index on item_id: its rows are found by value, recomputed from the item.
        for (const k of itemKeys(JSON.parse(data) as InventoryItem)) keys += delKey.run(k, id).changes;
        items += delItem.run(id).changes;
      }
    })();
  }
  return { hostItems, items, itemKeys: keys, cutoff: ts, ms: Date.now() - t0 };
}
