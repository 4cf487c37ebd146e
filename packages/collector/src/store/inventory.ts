/**
 * Applying one agent batch: items deduplicated fleet-wide, the host's (host, item) pairs with
 * first/last seen, matches turned into deduplicated alerts, and the batch's sequence number —
 * all in one transaction, so a batch is stored whole or not at all, and at most once.
 */
import { createHash } from 'node:crypto';
import type { InventoryFrame, InventoryItem, HostItem } from '@chainwatch/shared';
import type { Matcher } from '../match/engine.js';
import { itemKeys } from '../match/keys.js';
import type { DB } from './db.js';

export interface BatchResult { applied: boolean; items: number; alerts: number; removed: number }

/** Canonical JSON (keys sorted) so the same item always gets the same digest. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
}

export class InventoryStore {
  private readonly q;

  constructor(private readonly db: DB) {
    this.q = {
      hostSeq: db.prepare('SELECT last_seq FROM hosts WHERE id = ?'),
      itemByDigest: db.prepare('SELECT id FROM items WHERE digest = ?').pluck(),
      insertItem: db.prepare('INSERT INTO items (digest, kind, ikey, data) VALUES (?, ?, ?, ?)'),
      insertKey: db.prepare('INSERT OR IGNORE INTO item_keys (value, item_id) VALUES (?, ?)'),
      upsertHostItem: db.prepare(`INSERT INTO host_items (host_id, item_id, first_seen, last_seen, scan_id) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (host_id, item_id) DO UPDATE SET last_seen = excluded.last_seen, removed_at = NULL, scan_id = excluded.scan_id
        RETURNING first_seen`).pluck(),
      upsertAlert: db.prepare(`INSERT INTO alerts (host_id, indicator_id, item_id, severity, first_seen, last_seen, item_first_seen, retro)
        VALUES (?, ?, ?, ?, ?, ?, ?, 0)
        ON CONFLICT (host_id, indicator_id, item_id) DO UPDATE SET last_seen = excluded.last_seen, item_removed = 0`),
      removeNotSeen: db.prepare(`UPDATE host_items SET removed_at = ? WHERE host_id = ? AND removed_at IS NULL AND scan_id != ?`),
      removeByKey: db.prepare(`UPDATE host_items SET removed_at = ? WHERE host_id = ? AND removed_at IS NULL
        AND item_id IN (SELECT id FROM items WHERE ikey = ?)`),
      markAlertsRemoved: db.prepare(`UPDATE alerts SET item_removed = 1 WHERE host_id = ? AND item_removed = 0
        AND item_id IN (SELECT item_id FROM host_items WHERE host_id = ? AND removed_at IS NOT NULL)`),
      hostFacts: db.prepare('UPDATE hosts SET hostname = ?, os = ?, agent_version = ? WHERE id = ?'),
      hostSeen: db.prepare('UPDATE hosts SET last_seq = ?, last_seen = ? WHERE id = ?'),
    };
  }

  /** The stored id of an item, inserting it (and its lookup keys) when new. */
  private itemId(item: InventoryItem): number {
    const data = canonicalJson(item);
    const digest = createHash('sha256').update(data).digest();
    const found = this.q.itemByDigest.get(digest) as number | undefined;
    if (found !== undefined) return found;
    const id = Number(this.q.insertItem.run(digest, item.kind, item.key, data).lastInsertRowid);
    for (const k of itemKeys(item)) this.q.insertKey.run(k, id);
    return id;
  }

  /** Applies a batch at most once (idempotent on host + seq). */
  readonly apply = (hostId: string, frame: InventoryFrame, matcher: Matcher, now = new Date()): BatchResult => this.db.transaction(() => {
    const host = this.q.hostSeq.get(hostId) as { last_seq: number } | undefined;
    if (!host || frame.seq <= host.last_seq) return { applied: false, items: 0, alerts: 0, removed: 0 };
    const ts = now.toISOString();
    let alerts = 0, removed = 0;
    for (const item of frame.items) {
      const id = this.itemId(item);
      const firstSeen = this.q.upsertHostItem.get(hostId, id, ts, ts, frame.scan_id) as string;
      for (const ind of matcher.match(item, now.getTime())) {
        this.q.upsertAlert.run(hostId, ind.id, id, ind.severity, ts, ts, firstSeen);
        alerts++;
      }
      if (item.kind === 'host') this.updateHostFacts(hostId, item);
    }
    if (frame.mode === 'delta') for (const key of frame.removed ?? []) removed += this.q.removeByKey.run(ts, hostId, key).changes;
    if (frame.mode === 'full' && frame.final) removed += this.q.removeNotSeen.run(ts, hostId, frame.scan_id).changes;
    if (removed) this.q.markAlertsRemoved.run(hostId, hostId);
    this.q.hostSeen.run(frame.seq, ts, hostId);
    return { applied: true, items: frame.items.length, alerts, removed };
  })();

  private updateHostFacts(hostId: string, h: HostItem): void {
    this.q.hostFacts.run(h.hostname, `${h.os.name} ${h.os.version}`.trim(), h.agent_version, hostId);
  }
}
