/**
 * Retention: forgets inventory that left hosts long ago. A host pair (host_inv, migration 4) with removed_at older
 * than the cutoff is deleted; then items no host holds and no alert points at (alerts keep
 * their evidence), and the lookup keys of those items. Deletions run in short transactions
 * (PRUNE_BATCH rows) so a running collector's ingest waits milliseconds, not the whole prune.
 * Reusable by the running collector: pruneInventory(db, { retentionDays }) has no CLI in it.
 */
import type { DB } from './db.js';

export interface PruneResult { hostItems: number; items: number; itemKeys: number; cutoff: string; ms: number }

export const PRUNE_BATCH = 5000;

export function pruneInventory(db: DB, opts: { retentionDays: number; now?: Date; dryRun?: boolean }): PruneResult {
  const t0 = Date.now();
  const cutoff = new Date((opts.now ?? new Date()).getTime() - opts.retentionDays * 86400_000).toISOString();
  const removed = db.prepare('SELECT host, item FROM host_inv WHERE removed_at IS NOT NULL AND removed_at < ?').raw().all(cutoff) as Array<[number, number]>;
  const orphanSql = `SELECT id FROM items i WHERE NOT EXISTS (SELECT 1 FROM host_inv h WHERE h.item = i.id)
                     AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.item_id = i.id)`;
  if (opts.dryRun) {
    // Items that would become orphans are not counted here: that needs the deletes first.
    return { hostItems: removed.length, items: (db.prepare(orphanSql).pluck().all() as number[]).length, itemKeys: 0, cutoff, ms: Date.now() - t0 };
  }
  const delHostItem = db.prepare('DELETE FROM host_inv WHERE host = ? AND item = ?');
  let hostItems = 0;
  for (let i = 0; i < removed.length; i += PRUNE_BATCH) {
    const slice = removed.slice(i, i + PRUNE_BATCH);
    db.transaction(() => { for (const [h, it] of slice) hostItems += delHostItem.run(h, it).changes; })();
  }
  const orphans = db.prepare(orphanSql).pluck().all() as number[];
  const delItem = db.prepare('DELETE FROM items WHERE id = ?');
  let items = 0;
  for (let i = 0; i < orphans.length; i += PRUNE_BATCH) {
    const slice = orphans.slice(i, i + PRUNE_BATCH);
    db.transaction(() => { for (const id of slice) items += delItem.run(id).changes; })();
  }
  // item_keys has no index on item_id: one pass over it, probing items by primary key.
  const itemKeys = items ? db.prepare('DELETE FROM item_keys WHERE NOT EXISTS (SELECT 1 FROM items WHERE items.id = item_keys.item_id)').run().changes : 0;
  return { hostItems, items, itemKeys, cutoff, ms: Date.now() - t0 };
}
