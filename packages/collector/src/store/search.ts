/**
 * Fleet-wide search ("which hosts have X_TRADER, which versions?", "where is this hash?",
 * "who holds a certificate with this serial?"): one item_keys lookup (the same keys the matcher
 * uses, match/keys.ts), then host_inv (host-item pairs) by item, bucket by bucket
 * (store/host-buckets.ts) — index probes, never a scan of inventories.
 *
 * The hits are read ONCE, as (host, item) integers: totals, per-version host counts and the set
 * the page is cut from all come from that one pass, from the two bucketed indexes (pairs, and
 * removed pairs) without reading a row. Objects are built only for the returned page.
 */
import { cachedStatement, isoOfMs, type DB } from './db.js';
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

/** Times in integer milliseconds, as host_inv keeps them (migration 11). */
type PairRow = [host: number, item: number, firstSeen: number, lastSeen: number, removedAt: number | null];
interface Hits { items: Map<number, Record<string, unknown>>; hosts: Int32Array; itemsOf: Int32Array }

/** SQL: a pair's last sighting: a removed one's (migration 12), or a held one's counting its host's last whole-inventory confirmation (migration 6). */
const LAST_SEEN = 'CASE WHEN r.host IS NOT NULL THEN r.last_seen WHEN n.confirmed_at > hi.last_seen THEN n.confirmed_at ELSE hi.last_seen END';
/** Up to this many hit hosts per page row, the page is sorted from the hit hosts; past it, cut from all hosts in name order. */
const SPARSE_FACTOR = 4;

/** Items stored under lookup key `key` that `keep` accepts, by id. */
function itemsUnder(db: DB, key: string, keep: SearchOptions['keep']): Map<number, Record<string, unknown>> {
  const rows = cachedStatement(db, 'SELECT it.id, it.data FROM item_keys k JOIN items it ON it.id = k.item_id WHERE k.value = ? ORDER BY it.id', 'raw').all(key) as Array<[number, string]>;
  const kept = new Map<number, Record<string, unknown>>();
  for (const [id, data] of rows) {
    const item = JSON.parse(data) as Record<string, unknown>;
    if (!keep || keep(item)) kept.set(id, item);
  }
  return kept;
}

/** Hosts holding an item with lookup key `key`, ordered by hostname; the first `limit` in full. */
export function searchByKey(db: DB, key: string, opts: SearchOptions): SearchResult {
  const hits = readHits(db, key, opts);
  return page(db, hits, opts);
}

/** As searchByKey, with how many hosts hold each version among all hits (not only the page). */
export function searchWithVersions(db: DB, key: string, opts: SearchOptions): SearchResult & { versions: VersionCount[] } {
  const hits = readHits(db, key, opts);
  return { ...page(db, hits, opts), versions: versionCounts(hits) };
}

/**
 * Every (host, item) pair of the accepted items, held (or also removed, with includeRemoved),
 * from the indexes alone: all pairs (host_inv_bucket_item), less the removed ones
 * (host_removed_bucket, migration 12) — no row is read.
 */
function readHits(db: DB, key: string, opts: SearchOptions): Hits {
  const items = itemsUnder(db, key, opts.keep);
  if (!items.size) return { items, hosts: new Int32Array(0), itemsOf: new Int32Array(0) };
  const ids = JSON.stringify([...items.keys()]);
  if ((cachedStatement(db, 'SELECT max(num) FROM host_nums', 'pluck').get() as number | null ?? 0) >= MAX_PACKED_HOST) return readHitsUnpacked(db, ids, items, opts);
  // One number per pair (PAIR_SHIFT), computed by SQLite: no two-element array per hit for the GC.
  const pairs = (table: 'host_inv' | 'host_removed'): number[] => cachedStatement(db, `SELECT p.host * ${PAIR_SHIFT} + p.item FROM ${table} p
    WHERE ${pairsOfItem('p', 'IN (SELECT value FROM json_each(?))')}`, 'pluck').all(ids) as number[];
  const all = pairs('host_inv');
  const removed = opts.includeRemoved ? null : new Set(pairs('host_removed'));
  const held = removed?.size ? all.filter((k) => !removed.has(k)) : all;
  const hosts = new Int32Array(held.length), itemsOf = new Int32Array(held.length);
  for (let i = 0; i < held.length; i++) { const k = held[i]!, host = Math.floor(k / PAIR_SHIFT); hosts[i] = host; itemsOf[i] = k - host * PAIR_SHIFT; }
  return { items, hosts, itemsOf };
}

/**
 * A pair as one number, host * 2^31 + item: exact (below 2^53) while host numbers are below
 * 2^22 (MAX_PACKED_HOST, 4,194,304 hosts ever stored) and item ids below 2^31.
 */
const PAIR_SHIFT = 2 ** 31;
const MAX_PACKED_HOST = 2 ** 22;

/** readHits past MAX_PACKED_HOST: the pairs as [host, item] rows. */
function readHitsUnpacked(db: DB, ids: string, items: Hits['items'], opts: SearchOptions): Hits {
  const pairs = (table: 'host_inv' | 'host_removed') => cachedStatement(db, `SELECT p.host, p.item FROM ${table} p
    WHERE ${pairsOfItem('p', 'IN (SELECT value FROM json_each(?))')}`, 'raw').all(ids) as Array<[number, number]>;
  const removed = opts.includeRemoved ? null : new Set(pairs('host_removed').map(([h, i]) => `${h}:${i}`));
  const held = pairs('host_inv').filter(([h, i]) => !removed?.has(`${h}:${i}`));
  return { items, hosts: Int32Array.from(held, ([h]) => h), itemsOf: Int32Array.from(held, ([, i]) => i) };
}

/**
 * The distinct hosts among the hits. Host numbers are dense (host_nums.num counts up from 1), so
 * membership is a byte per host number: a Set of a fleet-wide search's 10,000 hosts took ~3 ms
 * to build, a third of the whole search on a quiet store. Sparse numbers fall back to a Set.
 */
class HitHosts {
  readonly size: number;
  private readonly map: Uint8Array | null;
  private readonly set: Set<number> | null;
  private readonly list: number[];

  constructor(hosts: Int32Array) {
    let max = 0;
    for (let i = 0; i < hosts.length; i++) if (hosts[i]! > max) max = hosts[i]!;
    this.list = [];
    if (denseHosts(max, hosts.length)) {
      const map = this.map = new Uint8Array(max + 1);
      this.set = null;
      for (let i = 0; i < hosts.length; i++) { const h = hosts[i]!; if (!map[h]) { map[h] = 1; this.list.push(h); } }
    } else {
      this.map = null;
      this.set = new Set(hosts);
      this.list = [...this.set];
    }
    this.size = this.list.length;
  }

  has(host: number): boolean { return this.map ? this.map[host] === 1 : this.set!.has(host); }
  values(): number[] { return this.list; }
}
/** Whether host numbers up to `maxHost` are few enough, against `hits`, to map one entry per number (64 per hit, plus a little). */
function denseHosts(maxHost: number, hits: number): boolean { return maxHost <= 64 * hits + 1024; }

/** The first `limit` hit hosts by hostname (then id), each with its hits in full. */
function page(db: DB, hits: Hits, opts: SearchOptions): SearchResult {
  const hitHosts = new HitHosts(hits.hosts);
  const rows = hitHosts.size <= SPARSE_FACTOR * opts.limit
    ? cachedStatement(db, `SELECT n.num, h.id, h.hostname FROM hosts h JOIN host_nums n ON n.host_id = h.id
        WHERE n.num IN (SELECT value FROM json_each(?)) ORDER BY h.hostname, h.id LIMIT ?`, 'raw').all(JSON.stringify(hitHosts.values()), opts.limit) as Array<[number, string, string]>
    : firstInNameOrder(db, hitHosts, opts.limit);
  const hosts = new Map<number, SearchHost>(rows.map(([num, id, hostname]) => [num, { id, hostname, items: [] }]));
  if (hosts.size) {
    const pairs = cachedStatement(db, `SELECT hi.host, hi.item, hi.first_seen, ${LAST_SEEN}, r.removed_at FROM host_inv hi JOIN host_nums n ON n.num = hi.host
      LEFT JOIN host_removed r ON r.host = hi.host AND r.item = hi.item
      WHERE hi.host IN (SELECT value FROM json_each(?)) AND hi.item IN (SELECT value FROM json_each(?)) ${opts.includeRemoved ? '' : 'AND r.host IS NULL'}
      ORDER BY hi.host, hi.item`, 'raw').all(JSON.stringify([...hosts.keys()]), JSON.stringify([...hits.items.keys()])) as PairRow[];
    for (const [host, item, first_seen, last_seen, removed_at] of pairs) {
      hosts.get(host)!.items.push({ item: hits.items.get(item)!, first_seen: isoOfMs(first_seen), last_seen: isoOfMs(last_seen), removed_at: removed_at === null ? null : isoOfMs(removed_at) });
    }
  }
  return { hosts: [...hosts.values()], total_hosts: hitHosts.size, total_items: hits.hosts.length, truncated: hitHosts.size > rows.length };
}

/** Hits on most hosts: walk all hosts in name order (index hosts_hostname) and stop at `limit` hit hosts. */
function firstInNameOrder(db: DB, hitHosts: HitHosts, limit: number): Array<[number, string, string]> {
  const out: Array<[number, string, string]> = [];
  const all = cachedStatement(db, 'SELECT n.num, h.id, h.hostname FROM hosts h JOIN host_nums n ON n.host_id = h.id ORDER BY h.hostname, h.id', 'raw');
  for (const row of all.iterate() as Iterable<[number, string, string]>) {
    if (!hitHosts.has(row[0])) continue;
    out.push(row);
    if (out.length >= limit) break;
  }
  return out;
}

/**
 * Distinct versions among the hits, with how many hosts run each (a host counted once per
 * version, though it may hold several items of one version: two architectures), most hosts
 * first. The hits are grouped by version (a counting sort) and each group's hosts are counted
 * with one shared mark per host number: O(hits), no Set per version.
 */
function versionCounts(hits: Hits): VersionCount[] {
  const versions: string[] = [], indexOf = new Map<string, number>(), versionOfItem = new Map<number, number>();
  for (const [id, item] of hits.items) {
    const v = String(item.version ?? '');
    let i = indexOf.get(v);
    if (i === undefined) { indexOf.set(v, i = versions.length); versions.push(v); }
    versionOfItem.set(id, i);
  }
  const n = hits.hosts.length, of = new Int32Array(n), start = new Int32Array(versions.length + 1);
  let maxHost = 0;
  for (let i = 0; i < n; i++) {
    const v = of[i] = versionOfItem.get(hits.itemsOf[i]!)!;
    start[v + 1]!++;
    if (hits.hosts[i]! > maxHost) maxHost = hits.hosts[i]!;
  }
  for (let v = 0; v < versions.length; v++) start[v + 1]! += start[v]!;
  const grouped = new Int32Array(n), next = start.slice(0, versions.length);
  for (let i = 0; i < n; i++) grouped[next[of[i]!]!++] = hits.hosts[i]!;
  // mark[host] = 1 + the version last counted for it: each version's hosts are contiguous in `grouped`.
  const mark = denseHosts(maxHost, n) ? new Int32Array(maxHost + 1) : null;
  const counts = versions.map((version, v) => {
    let hosts = 0;
    if (mark) {
      for (let i = start[v]!; i < start[v + 1]!; i++) { const h = grouped[i]!; if (mark[h] !== v + 1) { mark[h] = v + 1; hosts++; } }
    } else hosts = new Set(grouped.subarray(start[v]!, start[v + 1]!)).size;
    return { version, hosts };
  });
  return counts.filter((c) => c.hosts > 0).sort((a, b) => b.hosts - a.hosts || a.version.localeCompare(b.version));
}
