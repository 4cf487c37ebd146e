/**
 * Fleet-wide search ("which hosts have X_TRADER, which versions?", "where is this hash?",
 * "who holds a certificate with this serial?"): one item_keys lookup (the same keys the matcher
 * uses, match/keys.ts), then host_inv (host-item pairs) by item — index probes, never a scan of inventories.
 */
import type { DB } from './db.js';

export interface SearchHit { item: Record<string, unknown>; first_seen: string; last_seen: string; removed_at: string | null }
export interface SearchHost { id: string; hostname: string; items: SearchHit[] }
export interface SearchResult { hosts: SearchHost[]; total_hosts: number; total_items: number; truncated: boolean }

interface Row { host_id: string; hostname: string; item_id: number; data: string; first_seen: string; last_seen: string; removed_at: string | null }

/**
 * Hosts holding an item with lookup key `key`, optionally filtered by `keep` (version ranges).
 * `includeRemoved` adds items that have left the host (inventory history).
 */
export function searchByKey(db: DB, key: string, opts: { includeRemoved?: boolean | undefined; limit: number; keep?: (item: Record<string, unknown>) => boolean }): SearchResult {
  const rows = db.prepare(`SELECT n.host_id, h.hostname, hi.item AS item_id, it.data, hi.first_seen,
      CASE WHEN hi.removed_at IS NULL AND n.confirmed_at > hi.last_seen THEN n.confirmed_at ELSE hi.last_seen END AS last_seen, hi.removed_at
    FROM item_keys k JOIN items it ON it.id = k.item_id JOIN host_inv hi ON hi.item = k.item_id
    JOIN host_nums n ON n.num = hi.host JOIN hosts h ON h.id = n.host_id
    WHERE k.value = ? ${opts.includeRemoved ? '' : 'AND hi.removed_at IS NULL'} ORDER BY h.hostname, n.host_id, hi.item`).all(key) as Row[];
  const hosts = new Map<string, SearchHost>();
  const parsed = new Map<number, Record<string, unknown>>();
  let items = 0;
  for (const r of rows) {
    let item = parsed.get(r.item_id);
    if (!item) { item = JSON.parse(r.data) as Record<string, unknown>; parsed.set(r.item_id, item); }
    if (opts.keep && !opts.keep(item)) continue;
    items++;
    let h = hosts.get(r.host_id);
    if (!h) { h = { id: r.host_id, hostname: r.hostname, items: [] }; hosts.set(r.host_id, h); }
    h.items.push({ item, first_seen: r.first_seen, last_seen: r.last_seen, removed_at: r.removed_at });
  }
  const all = [...hosts.values()];
  return { hosts: all.slice(0, opts.limit), total_hosts: all.length, total_items: items, truncated: all.length > opts.limit };
}

/** Distinct versions among the hits, with how many hosts run each. */
export function versionSummary(r: SearchResult): Array<{ version: string; hosts: number }> {
  const m = new Map<string, Set<string>>();
  for (const h of r.hosts) for (const i of h.items) {
    const v = String(i.item.version ?? '');
    (m.get(v) ?? m.set(v, new Set()).get(v)!).add(h.id);
  }
  return [...m].map(([version, s]) => ({ version, hosts: s.size })).sort((a, b) => b.hosts - a.hosts || a.version.localeCompare(b.version));
}
