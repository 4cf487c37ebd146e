/**
 * Fleet-wide search ("which hosts have X_TRADER, which versions?", "where is this hash?",
 * "who holds a certificate with this serial?"): one item_keys lookup (the same keys the matcher
 * uses, match/keys.ts), then host_inv (host-item pairs) by item, bucket by bucket (store/host-buckets.ts) —
 * index probes, never a scan of inventories.
 *
 * Only the page is built as objects: totals and per-version host counts are counted by SQLite.
 * A package every host runs is 10,000 pairs; turning each into an object (and sorting them in
 * JavaScript) to return the first hundred took tens of milliseconds of the event loop per request.
 */
import type { DB } from './db.js';
import { pairsOfItem } from './host-buckets.js';

export interface SearchHit { item: Record<string, unknown>; first_seen: string; last_seen: string; removed_at: string | null }
export interface SearchHost { id: string; hostname: string; items: SearchHit[] }
export interface SearchResult { hosts: SearchHost[]; total_hosts: number; total_items: number; truncated: boolean }
export interface VersionCount { version: string; hosts: number }

export interface SearchOptions {
  /** Adds items that have left the host (inventory history). */
  includeRemoved?: boolean | undefined;
  limit: number;
  /** Keeps only items it returns true for (version ranges). */
  keep?: ((item: Record<string, unknown>) => boolean) | undefined;
}

type PairRow = [host: number, item: number, firstSeen: string, lastSeen: string, removedAt: string | null];

/** SQL: a held row's last sighting, counting its host's last whole-inventory confirmation (migration 6). */
const LAST_SEEN = 'CASE WHEN hi.removed_at IS NULL AND n.confirmed_at > hi.last_seen THEN n.confirmed_at ELSE hi.last_seen END';

/** Items stored under lookup key `key` that `keep` accepts, by id. */
function itemsUnder(db: DB, key: string, keep: SearchOptions['keep']): Map<number, Record<string, unknown>> {
  const rows = db.prepare('SELECT it.id, it.data FROM item_keys k JOIN items it ON it.id = k.item_id WHERE k.value = ? ORDER BY it.id').raw().all(key) as Array<[number, string]>;
  const kept = new Map<number, Record<string, unknown>>();
  for (const [id, data] of rows) {
    const item = JSON.parse(data) as Record<string, unknown>;
    if (!keep || keep(item)) kept.set(id, item);
  }
  return kept;
}

/** Hosts holding an item with lookup key `key`, ordered by hostname; the first `limit` in full. */
export function searchByKey(db: DB, key: string, opts: SearchOptions): SearchResult {
  return search(db, key, opts).result;
}

/** As searchByKey, with how many hosts hold each version among all hits (not only the page). */
export function searchWithVersions(db: DB, key: string, opts: SearchOptions): SearchResult & { versions: VersionCount[] } {
  const { result, items, held } = search(db, key, opts);
  return { ...result, versions: versionCounts(db, items, held) };
}

function search(db: DB, key: string, opts: SearchOptions): { result: SearchResult; items: Map<number, Record<string, unknown>>; held: string } {
  const items = itemsUnder(db, key, opts.keep);
  // Integers only (item ids), so the list is written into the SQL text: every statement below reuses it.
  const ids = JSON.stringify([...items.keys()]);
  const held = `${pairsOfItem('hi', `IN (SELECT value FROM json_each('${ids}'))`)}${opts.includeRemoved ? '' : ' AND hi.removed_at IS NULL'}`;
  if (!items.size) return { result: { hosts: [], total_hosts: 0, total_items: 0, truncated: false }, items, held };
  const totals = db.prepare(`SELECT count(*), count(DISTINCT hi.host) FROM host_inv hi WHERE ${held}`).raw().get() as [number, number];
  const page = db.prepare(`SELECT n.num, h.id, h.hostname FROM hosts h JOIN host_nums n ON n.host_id = h.id
    WHERE n.num IN (SELECT hi.host FROM host_inv hi WHERE ${held}) ORDER BY h.hostname, h.id LIMIT ?`).raw().all(opts.limit) as Array<[number, string, string]>;
  const hosts = new Map<number, SearchHost>(page.map(([num, id, hostname]) => [num, { id, hostname, items: [] }]));
  const pairs = db.prepare(`SELECT hi.host, hi.item, hi.first_seen, ${LAST_SEEN}, hi.removed_at FROM host_inv hi JOIN host_nums n ON n.num = hi.host
    WHERE hi.host IN (SELECT value FROM json_each(?)) AND ${held} ORDER BY hi.host, hi.item`).raw().all(JSON.stringify([...hosts.keys()])) as PairRow[];
  for (const [host, item, first_seen, last_seen, removed_at] of pairs) {
    hosts.get(host)!.items.push({ item: items.get(item)!, first_seen, last_seen, removed_at });
  }
  return { result: { hosts: [...hosts.values()], total_hosts: totals[1], total_items: totals[0], truncated: totals[1] > page.length }, items, held };
}

/** Distinct versions among the hits, with how many hosts run each, most hosts first. */
function versionCounts(db: DB, items: Map<number, Record<string, unknown>>, held: string): VersionCount[] {
  const byVersion = new Map<string, number[]>();
  for (const [id, item] of items) {
    const v = String(item.version ?? '');
    (byVersion.get(v) ?? byVersion.set(v, []).get(v)!).push(id);
  }
  // One item per version is the common case: its pair count is its host count. A version held as
  // several items (architectures, variants) counts each host once.
  const perItem = new Map(db.prepare(`SELECT hi.item, count(*) FROM host_inv hi WHERE ${held} GROUP BY hi.item`).raw().all() as Array<[number, number]>);
  const distinctHosts = db.prepare(`SELECT count(DISTINCT hi.host) FROM host_inv hi WHERE ${held} AND hi.item IN (SELECT value FROM json_each(?))`).pluck();
  const out: VersionCount[] = [];
  for (const [version, ids] of byVersion) {
    const hosts = ids.length === 1 ? perItem.get(ids[0]!) ?? 0 : distinctHosts.get(JSON.stringify(ids)) as number;
    if (hosts > 0) out.push({ version, hosts });
  }
  return out.sort((a, b) => b.hosts - a.hosts || a.version.localeCompare(b.version));
}
