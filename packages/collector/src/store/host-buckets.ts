/**
 * Finding the hosts that hold an item. host_inv's item index (migration 9) leads with the
 * host's bucket, `host >> 6` (64 consecutive host numbers), not the item: hosts that sync
 * together have neighbouring numbers (numbered at first ingest), so a group's new pairs land
 * on one bucket's few index pages. An index keyed by item alone put nearly every new pair on
 * a page of its own all over a 30-million-entry index — a 4 KB page written to the WAL (and
 * again at checkpoint) per stored item; raw inserts of 3,000 hosts ran 1.8× faster bucketed.
 *
 * The price is on reads: a lookup by item probes each bucket (157 at 10,000 hosts), so every
 * query by item must name the bucket the way the index does, or SQLite scans host_inv.
 */

/** Hosts per bucket, as a shift: fixed by migration 9's index expression (a change needs a migration). */
export const HOST_BUCKET_SHIFT = 6;

/**
 * SQL condition on host_inv alias `hi`: pairs of the item(s) `item` (`= expr` or `IN (...)`),
 * in the index's form — probed bucket by bucket (view host_buckets, migration 9).
 */
export function pairsOfItem(hi: string, item: string): string {
  return `(${hi}.host >> ${HOST_BUCKET_SHIFT}) IN (SELECT b FROM host_buckets) AND ${hi}.item ${item}`;
}
