/**
 * Applying one agent batch: items deduplicated fleet-wide, the host's (host, item) pairs with
 * first/last seen, matches turned into deduplicated alerts, and the batch's sequence number —
 * all in one transaction, so a batch is stored whole or not at all, and at most once.
 */
import { createHash } from 'node:crypto';
import { canonicalJson, type InventoryFrame, type InventoryItem, type HostItem } from '@chainwatch/shared';
import type { Matcher, CompiledIndicator } from '../match/engine.js';
import { itemKeys } from '../match/keys.js';
import { isoOfMs, type DB } from './db.js';
import { pruneBefore } from './prune.js';
import { GenerationalMap } from './generational-map.js';

export interface BatchResult { applied: boolean; items: number; alerts: number; removed: number }

/**
 * A host's host_nums row: its integer number, current scan (id and number) and current host
 * item; `seq`, the hosts.last_seq it was read or last written at — when the stored one differs,
 * another connection stored a batch of the host since, and the row is read again.
 */
interface HostRow { num: number; scan_id: string | null; scan: number; host_item: number | null; seq: number }

/**
 * Whether two items have the same content, i.e. the same canonicalJson (and digest): same
 * defined fields with equal values, in any order; arrays in order. Walked, not serialised:
 * building both sides' canonical text for every nested value (a signature item's signer chain,
 * the host item's os) was ~5 % of the ingest writer's time in a first sync.
 */
export function sameItem(a: InventoryItem, b: InventoryItem): boolean { return sameJson(a, b); }

function sameJson(v: unknown, w: unknown): boolean {
  if (v === w) return true;
  if (typeof v !== 'object' || typeof w !== 'object' || v === null || w === null) return false;
  if (Array.isArray(v) || Array.isArray(w)) {
    if (!Array.isArray(v) || !Array.isArray(w) || v.length !== w.length) return false;
    for (let i = 0; i < v.length; i++) if (!sameJson(v[i], w[i])) return false;
    return true;
  }
  const x = v as Record<string, unknown>, y = w as Record<string, unknown>;
  let n = 0;
  for (const k in x) {
    const e = x[k];
    if (e === undefined) continue;
    n++;
    if (!sameJson(e, y[k])) return false;
  }
  for (const k in y) if (y[k] !== undefined) n--;
  return n === 0;
}

/** Item kinds whose built-in detections depend on the clock (expiry): never served from the match cache. */
const CLOCK_KINDS = new Set(['certificate', 'signature']);
const NO_HITS: readonly CompiledIndicator[] = Object.freeze([]);

/** A stored item as the writer caches it: its content, row id, its key's entry, and what the matcher said of it in which epoch. */
interface Variant { readonly item: InventoryItem; readonly id: number; readonly under: KeyEntry; hits: readonly CompiledIndicator[]; epoch: number }
/**
 * The cache under one item key: the latest variants, and `ids`, every item id stored under the
 * key — read from SQL the first time a delta needs it (undefined until then), then kept by
 * adding each item this store inserts under the key; null once there are too many to keep.
 */
interface KeyEntry { readonly variants: Variant[]; ids: number[] | null | undefined }
/** SQL: a held row's last sighting, counting its host's last whole-inventory confirmation (migration 6). */
const LAST_KNOWN = 'max(last_seen, coalesce((SELECT confirmed_at FROM host_nums WHERE num = host_inv.host), last_seen))';
/**
 * SQL: removes the host's held pairs among host_inv rows matching `where` (migration 12: a removal
 * is a host_removed row, so the host's host_inv pages are not rewritten). A pair removed before
 * keeps its first removal and counts no change.
 */
const removeWhere = (where: string): string => `INSERT INTO host_removed (host, item, removed_at, last_seen)
  SELECT host, item, @ts, ${LAST_KNOWN} FROM host_inv WHERE host = @host AND ${where}
  AND NOT EXISTS (SELECT 1 FROM host_removed r WHERE r.host = host_inv.host AND r.item = host_inv.item)`;

export class InventoryStore {
  private readonly q;

  constructor(private readonly db: DB) {
    // Ingest's connection checkpoints every 64 MB of WAL instead of 4 MB: a first inventory dirties
    // pages all over the item index, and checkpointing (with its fsync) after nearly every frame
    // halved its throughput. Readers are unaffected; the WAL file just grows larger between checkpoints.
    if (!db.memory) db.pragma('wal_autocheckpoint = 16384');
    this.q = {
      hostSeq: db.prepare('SELECT last_seq FROM hosts WHERE id = ?').pluck(),
      hostNum: db.prepare('SELECT num, scan_id, scan, host_item FROM host_nums WHERE host_id = ?'),
      addHostNum: db.prepare('INSERT INTO host_nums (host_id) VALUES (?) RETURNING num, scan_id, scan, host_item'),
      setHostItem: db.prepare('UPDATE host_nums SET host_item = ? WHERE num = ?'),
      removePair: db.prepare(removeWhere('item = @item')),
      setScan: db.prepare('UPDATE host_nums SET scan_id = ?, scan = ? WHERE num = ?'),
      itemByDigest: db.prepare('SELECT id FROM items WHERE digest = ?').pluck(),
      idsByKey: db.prepare('SELECT id FROM items WHERE ikey = ?').pluck(),
      itemsTop: db.prepare('SELECT max(id) FROM items').pluck(),
      insertItem: db.prepare('INSERT INTO items (digest, kind, ikey, data) VALUES (?, ?, ?, ?)'),
      insertKey: db.prepare('INSERT OR IGNORE INTO item_keys (value, item_id) VALUES (?, ?)'),
      // One statement per frame: the ids travel as one JSON array, sorted so the B-tree is walked in order.
      upsertPairs: db.prepare(`INSERT INTO host_inv (host, item, first_seen, last_seen, scan) SELECT ?, value, ?, ?, ? FROM json_each(?) WHERE true
        ON CONFLICT (host, item) DO UPDATE SET last_seen = excluded.last_seen, scan = excluded.scan`),
      // A pair sent again is held again.
      unremovePairs: db.prepare('DELETE FROM host_removed WHERE host = ? AND item IN (SELECT value FROM json_each(?))'),
      firstSeen: db.prepare('SELECT first_seen FROM host_inv WHERE host = ? AND item = ?').pluck(),
      upsertAlert: db.prepare(`INSERT INTO alerts (host_id, indicator_id, item_id, severity, first_seen, last_seen, item_first_seen, retro)
        VALUES (?, ?, ?, ?, ?, ?, ?, 0)
        ON CONFLICT (host_id, indicator_id, item_id) DO UPDATE SET last_seen = excluded.last_seen, item_removed = 0`),
      // A removed row keeps the last time it was known present: its own, or its host's last confirmation.
      removeNotSeen: db.prepare(removeWhere('scan != @scan')),
      removeByKey: db.prepare(removeWhere('item IN (SELECT id FROM items WHERE ikey = @key)')),
      // A delta that sends a key with new content replaces the host's older content under that key.
      // One statement per frame (a delta storm is thousands of small frames): the keys and ids travel as JSON arrays.
      replaceOlder: db.prepare(removeWhere(`item IN (SELECT it.id FROM json_each(@keys) k JOIN items it ON it.ikey = k.value)
        AND item NOT IN (SELECT value FROM json_each(@ids))`)),
      // The same, from the items' ids under those keys when the writer keeps them (KeyEntry): no key lookups.
      replaceOlderIds: db.prepare(removeWhere('item IN (SELECT value FROM json_each(@old))')),
      confirmPresent: db.prepare('UPDATE host_nums SET confirmed_at = ? WHERE num = ?'),
      // From the host's open alerts (few) to their pairs by primary key: not a pass over the host's whole inventory per frame.
      markAlertsRemoved: db.prepare(`UPDATE alerts SET item_removed = 1 WHERE host_id = ? AND item_removed = 0
        AND EXISTS (SELECT 1 FROM host_removed WHERE host = ? AND item = alerts.item_id)`),
      hostFacts: db.prepare('UPDATE hosts SET hostname = ?, os = ?, agent_version = ? WHERE id = ?'),
      hostSeen: db.prepare('UPDATE hosts SET last_seq = ?, last_seen = ? WHERE id = ?'),
      nextBoundary: db.prepare(`SELECT min(t) FROM (SELECT valid_from AS t FROM indicators WHERE retired_at IS NULL AND valid_from > @now
        UNION ALL SELECT valid_until FROM indicators WHERE retired_at IS NULL AND valid_until > @now)`).pluck(),
    };
  }

  /** Whether any inventory is stored (a retro-hunt over nothing is skipped). */
  hasItems(): boolean { return this.db.prepare('SELECT EXISTS (SELECT 1 FROM host_inv)').pluck().get() === 1; }

  /**
   * Item ids of items seen before, by the item's own key (`file:/usr/lib/x.so`), each with the
   * latest variants (versions, hashes) stored under that key: the fleet sends the same items
   * again and again (shared packages, every rescan), so most items resolve here by comparing a
   * few fields — no serialising, hashing or SQLite. Bounded (a miss costs one lookup): keys by
   * generation, variants per key to the latest few (a file that differs on every host would
   * otherwise be compared against the whole fleet's copies).
   */
  private static readonly CACHE_GENERATION = 50_000;
  private static readonly VARIANTS_PER_KEY = 8;
  private static readonly IDS_PER_KEY = 64;
  private readonly idCache = new GenerationalMap<string, KeyEntry>(InventoryStore.CACHE_GENERATION);
  /**
   * The highest items.id when the cached `ids` were last known whole (-1: not yet read). Only
   * this store inserts items where it writes, but should anything else add one, the top moves
   * past what this store inserted and every cached `ids` is dropped (one index seek per batch).
   */
  private itemsTop = -1;

  /**
   * What the matcher said about an item is kept on its cached variant (one lookup per item, not
   * a second map by id): a rescan sends the same items with the same indicators loaded, so
   * matching them again would only repeat the answer (and costs as much as the whole store
   * path). An answer is valid while its epoch is current: the matcher is the same object,
   * unchanged (matcherChanged), and before the next indicator validity boundary; clock-dependent
   * kinds are never cached.
   */
  private matchEpoch = 0;
  private matchCacheOf: Matcher | null = null;
  private matchCacheUntil = -Infinity;

  /** The service calls this whenever indicators were added to or changed in the live matcher. */
  matcherChanged(): void { this.matchCacheOf = null; }

  /** host id → its host_nums row; rows are created on first ingest. */
  private readonly hosts = new Map<string, HostRow>();

  /**
   * The stored id of an item, inserting it (and its lookup keys) when new. Host items are cached
   * per host: every host has its own under the one key `host`, so a shared list would be compared
   * against the whole fleet's.
   */
  private itemRef(item: InventoryItem, hostId: string): Variant {
    const cacheKey = item.kind === 'host' ? `host\0${hostId}` : item.key;
    let under = this.idCache.get(cacheKey);
    if (under) for (const v of under.variants) if (sameItem(v.item, item)) return v;
    // Host items share the key `host` fleet-wide: never replaced by key (see setHostItem).
    if (!under) this.idCache.set(cacheKey, under = { variants: [], ids: item.kind === 'host' ? null : undefined });
    const v: Variant = { item, id: this.resolveItem(item, under), under, hits: NO_HITS, epoch: -1 };
    if (under.variants.length >= InventoryStore.VARIANTS_PER_KEY) under.variants.shift();
    under.variants.push(v);
    return v;
  }

  private resolveItem(item: InventoryItem, under: KeyEntry): number {
    const data = canonicalJson(item);
    const digest = createHash('sha256').update(data).digest();
    const found = this.q.itemByDigest.get(digest) as number | undefined;
    if (found !== undefined) return found;
    const id = Number(this.q.insertItem.run(digest, item.kind, item.key, data).lastInsertRowid);
    for (const k of itemKeys(item)) this.q.insertKey.run(k, id);
    this.itemsTop = id;
    if (under.ids) { if (under.ids.length < InventoryStore.IDS_PER_KEY) under.ids.push(id); else under.ids = null; }
    return id;
  }

  /** Every item id under the variant's key, read once and then kept (KeyEntry); null when not kept. */
  private idsUnder(v: Variant): number[] | null {
    const e = v.under;
    if (e.ids === undefined) {
      const ids = this.q.idsByKey.all(v.item.key) as number[];
      e.ids = ids.length <= InventoryStore.IDS_PER_KEY ? ids : null;
    }
    return e.ids;
  }

  /** Drops every kept `ids` when items.id moved past what this store knows (someone else inserted). */
  private checkItemsTop(): void {
    const top = (this.q.itemsTop.get() as number | null) ?? 0;
    if (top !== this.itemsTop && this.itemsTop !== -1) this.forgetItems();
    this.itemsTop = top;
  }

  private matches(matcher: Matcher, item: InventoryItem, v: Variant, now: number): readonly CompiledIndicator[] {
    if (CLOCK_KINDS.has(item.kind)) return matcher.match(item, now);
    if (this.matchCacheOf !== matcher || now >= this.matchCacheUntil) this.resetMatchCache(matcher, now);
    if (v.epoch !== this.matchEpoch) {
      const found = matcher.match(item, now);
      v.hits = found.length ? found : NO_HITS;
      v.epoch = this.matchEpoch;
    }
    return v.hits;
  }

  /** Starts a new match epoch, valid until the next time any stored indicator starts or stops being valid. */
  private resetMatchCache(matcher: Matcher, now: number): void {
    this.matchEpoch++;
    this.matchCacheOf = matcher;
    const next = this.q.nextBoundary.get({ now: new Date(now).toISOString() }) as string | null;
    this.matchCacheUntil = next ? Date.parse(next) : Infinity;
  }

  /** The host's row, with `scanId` as its current scan (a new scan id starts the next scan number). */
  private hostScan(hostId: string, scanId: string, lastSeq: number): HostRow {
    let h = this.hosts.get(hostId);
    if (!h || h.seq !== lastSeq) {
      h = { ...(this.q.hostNum.get(hostId) ?? this.q.addHostNum.get(hostId)) as Omit<HostRow, 'seq'>, seq: lastSeq };
      this.hosts.set(hostId, h);
    }
    if (h.scan_id !== scanId) {
      h.scan_id = scanId; h.scan++;
      this.q.setScan.run(scanId, h.scan, h.num);
    }
    return h;
  }

  /**
   * The frame's host item becomes the host's current one. A delta retires the previous one here,
   * by id (the key-based replacement skips host items: their key is shared by every host); a
   * full scan's end removes it anyway, with everything else it did not see.
   */
  private setHostItem(h: HostRow, id: number, delta: boolean, ts: number): number {
    if (h.host_item === id) return 0;
    const old = h.host_item;
    h.host_item = id;
    this.q.setHostItem.run(id, h.num);
    return delta && old !== null ? this.q.removePair.run({ ts, host: h.num, item: old }).changes : 0;
  }

  /** Applies a batch at most once (idempotent on host + seq). */
  readonly apply = (hostId: string, frame: InventoryFrame, matcher: Matcher, now = new Date()): BatchResult => {
    try { return this.applyTx(hostId, frame, matcher, now); } catch (err) {
      this.forgetCaches();
      throw err;
    }
  };

  /** After a rollback: ids of items and hosts inserted by the rolled-back transaction no longer exist. */
  forgetCaches(): void {
    this.forgetItems(); this.hosts.clear(); this.itemsTop = -1;
  }

  /** Cached item ids, kept ids under keys and match answers: all re-read as items come. */
  private forgetItems(): void { this.idCache.clear(); this.matchEpoch++; }

  private readonly applyTx = (hostId: string, frame: InventoryFrame, matcher: Matcher, now: Date): BatchResult => this.db.transaction(() => {
    const lastSeq = this.q.hostSeq.get(hostId) as number | undefined;
    if (lastSeq === undefined || frame.seq <= lastSeq) return { applied: false, items: 0, alerts: 0, removed: 0 };
    // host_inv and host_nums keep integer milliseconds (migration 11); hosts keeps ISO text.
    const ts = now.getTime();
    this.checkItemsTop();
    const h = this.hostScan(hostId, frame.scan_id, lastSeq);
    h.seq = frame.seq;
    const { num, scan } = h, delta = frame.mode === 'delta';
    const refs = new Array<Variant>(frame.items.length);
    const ids = new Float64Array(frame.items.length);
    const keys: string[] = [], older: number[] = [];
    let removed = 0;
    for (let i = 0; i < frame.items.length; i++) {
      const item = frame.items[i]!;
      const v = refs[i] = this.itemRef(item, hostId);
      ids[i] = v.id;
      if (item.kind === 'host') removed += this.setHostItem(h, v.id, delta, ts);
      else if (delta) {
        const under = this.idsUnder(v);
        if (under) { for (const id of under) if (id !== v.id) older.push(id); } else keys.push(item.key);
      }
    }
    const idList = `[${ids.sort().join(',')}]`;
    this.q.upsertPairs.run(num, ts, ts, scan, idList);
    this.q.unremovePairs.run(num, idList);
    const alerts = this.alertsFor(hostId, num, frame.items, refs, matcher, now);
    if (delta) {
      if (keys.length) removed += this.q.replaceOlder.run({ ts, host: num, keys: JSON.stringify(keys), ids: idList }).changes;
      if (older.length) removed += this.replaceOlderIds(num, ts, older, ids);
      for (const key of frame.removed ?? []) removed += this.q.removeByKey.run({ ts, host: num, key }).changes;
    }
    if (frame.mode === 'full' && frame.final) removed += this.q.removeNotSeen.run({ ts, host: num, scan }).changes;
    // A delta scan sends only changes: its end confirms every item still held was present.
    if (frame.mode === 'delta' && frame.final) this.q.confirmPresent.run(ts, num);
    if (removed) this.q.markAlertsRemoved.run(hostId, num);
    this.q.hostSeen.run(frame.seq, now.toISOString(), hostId);
    return { applied: true, items: frame.items.length, alerts, removed };
  })();

  /** Removes the host's pairs of `older` (ids under the frame's keys), less those the frame itself holds. */
  private replaceOlderIds(host: number, ts: number, older: number[], frameIds: Float64Array): number {
    const held = new Set(frameIds);
    const gone = older.filter((id) => !held.has(id)).sort((a, b) => a - b);
    return gone.length ? this.q.replaceOlderIds.run({ ts, host, old: JSON.stringify(gone) }).changes : 0;
  }

  /** Alerts for the frame's matching items (first_seen is read only for those); host facts from its host item. */
  private alertsFor(hostId: string, num: number, items: InventoryItem[], refs: Variant[], matcher: Matcher, now: Date): number {
    const ts = now.toISOString(), t = now.getTime();
    let alerts = 0;
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!, v = refs[i]!;
      const hits = this.matches(matcher, item, v, t);
      if (hits.length) {
        const firstSeen = isoOfMs(this.q.firstSeen.get(num, v.id) as number);
        for (const ind of hits) { this.q.upsertAlert.run(hostId, ind.id, v.id, ind.severity, ts, ts, firstSeen); alerts++; }
      }
      if (item.kind === 'host') this.updateHostFacts(hostId, item);
    }
    return alerts;
  }

  /** Retention (store/prune.ts), then forgets cached item ids: pruned items may come back as new rows. */
  prune(before: Date): { hostItems: number; items: number } {
    try {
      const r = pruneBefore(this.db, before);
      return { hostItems: r.hostItems, items: r.items };
    } finally { this.forgetCaches(); }
  }

  private updateHostFacts(hostId: string, h: HostItem): void {
    this.q.hostFacts.run(h.hostname, `${h.os.name} ${h.os.version}`.trim(), h.agent_version, hostId);
  }
}
