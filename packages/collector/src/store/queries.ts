/**
 * Read side of the API: alerts, hosts, inventories, indicators, each paged by an opaque
 * cursor (the last row's sort key, base64url) so pages stay stable while ingest goes on.
 */
import type { ApiAlert, ApiHost, ApiIndicator } from '@chainwatch/shared';
import { cachedStatement, type DB } from './db.js';
import { rowToStored, type IndicatorRow } from './indicators.js';

export const encodeCursor = (v: string | number): string => Buffer.from(JSON.stringify(v)).toString('base64url');
export function decodeCursor(c: string | undefined): string | number | null | undefined {
  if (c === undefined) return undefined;
  try {
    const v = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as unknown;
    return typeof v === 'string' || typeof v === 'number' ? v : null;
  } catch { return null; }
}

export interface AlertFilter { status?: string | undefined; severity?: string | undefined; host?: string | undefined; indicator?: string | undefined; feed?: string | undefined; since?: string | undefined }

interface AlertRow {
  id: number; host_id: string; hostname: string; indicator_id: string; itype: string; ivalue: string; ifeed: string; idesc: string | null; iref: string | null;
  iretired: string | null; data: string; severity: string; status: string; first_seen: string; last_seen: string; item_first_seen: string;
  retro: number; item_removed: number; close_reason: string | null; note: string | null; updated_by: string | null;
}

function toApiAlert(r: AlertRow): ApiAlert {
  return {
    id: r.id, host: { id: r.host_id, hostname: r.hostname },
    indicator: { id: r.indicator_id, type: r.itype, value: r.ivalue, feed: r.ifeed, description: r.idesc, reference: r.iref, retired: r.iretired !== null },
    item: JSON.parse(r.data) as Record<string, unknown>, severity: r.severity as ApiAlert['severity'], status: r.status as ApiAlert['status'],
    first_seen: r.first_seen, last_seen: r.last_seen, item_first_seen: r.item_first_seen, retro: r.retro === 1, item_removed: r.item_removed === 1,
    close_reason: r.close_reason, note: r.note, updated_by: r.updated_by,
  };
}

const ALERT_SELECT = `SELECT a.*, h.hostname, i.type AS itype, i.value AS ivalue, i.feed AS ifeed, i.description AS idesc, i.reference AS iref,
  i.retired_at AS iretired, it.data FROM alerts a JOIN hosts h ON h.id = a.host_id JOIN indicators i ON i.id = a.indicator_id JOIN items it ON it.id = a.item_id`;

export function listAlerts(db: DB, f: AlertFilter, limit: number, cursor: number | undefined): { items: ApiAlert[]; next: string | null } {
  const where: string[] = [];
  const args: unknown[] = [];
  if (f.status) { where.push('a.status = ?'); args.push(f.status); }
  if (f.severity) { where.push('a.severity = ?'); args.push(f.severity); }
  if (f.host) { where.push('(a.host_id = ? OR h.hostname = ?)'); args.push(f.host, f.host); }
  if (f.indicator) { where.push('a.indicator_id = ?'); args.push(f.indicator); }
  if (f.feed) { where.push('i.feed = ?'); args.push(f.feed); }
  if (f.since) { where.push('a.last_seen >= ?'); args.push(new Date(f.since).toISOString()); }
  if (cursor !== undefined) { where.push('a.id < ?'); args.push(cursor); }
  const sql = `${ALERT_SELECT} ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY a.id DESC LIMIT ?`;
  const rows = cachedStatement(db, sql).all(...args, limit + 1) as AlertRow[];
  const more = rows.length > limit;
  const items = rows.slice(0, limit).map(toApiAlert);
  return { items, next: more ? encodeCursor(items[items.length - 1]!.id) : null };
}

export function getAlert(db: DB, id: number): ApiAlert | null {
  const r = db.prepare(`${ALERT_SELECT} WHERE a.id = ?`).get(id) as AlertRow | undefined;
  return r ? toApiAlert(r) : null;
}

interface HostRow { id: string; hostname: string; os: string | null; enrolled_at: string; last_seen: string | null; revoked_at: string | null }

export function hostCounts(db: DB, id: string): ApiHost['counts'] {
  const c = db.prepare(`SELECT count(*) AS items, sum(it.kind = 'software') AS software, sum(it.kind = 'file') AS files
    FROM host_items hi JOIN items it ON it.id = hi.item_id WHERE hi.host_id = ? AND hi.removed_at IS NULL`).get(id) as { items: number; software: number | null; files: number | null };
  const a = db.prepare(`SELECT count(*) AS n FROM alerts WHERE host_id = ? AND status != 'closed'`).pluck().get(id) as number;
  return { items: c.items, software: c.software ?? 0, files: c.files ?? 0, open_alerts: a };
}

/** Inventory of one host by kind: current and removed items, and the span it was seen over. */
export function hostSummary(db: DB, id: string) {
  const byKind = db.prepare(`SELECT it.kind, sum(hi.removed_at IS NULL) AS current, sum(hi.removed_at IS NOT NULL) AS removed
    FROM host_items hi JOIN items it ON it.id = hi.item_id WHERE hi.host_id = ? GROUP BY it.kind ORDER BY it.kind`).all(id) as Array<{ kind: string; current: number; removed: number }>;
  const span = db.prepare('SELECT min(first_seen) AS first_seen, max(last_seen) AS last_seen FROM host_items WHERE host_id = ?').get(id) as { first_seen: string | null; last_seen: string | null };
  return { by_kind: byKind, ...span };
}

export function toApiHost(db: DB, r: HostRow, onlineAfter: number): ApiHost {
  return {
    id: r.id, hostname: r.hostname, os: r.os, enrolled_at: r.enrolled_at, last_seen: r.last_seen,
    online: r.last_seen !== null && Date.parse(r.last_seen) >= onlineAfter, revoked: r.revoked_at !== null, counts: hostCounts(db, r.id),
  };
}

export function listHosts(db: DB, limit: number, cursor: string | undefined, onlineAfter: number): { items: ApiHost[]; next: string | null } {
  const rows = db.prepare(`SELECT * FROM hosts ${cursor !== undefined ? 'WHERE id > ?' : ''} ORDER BY id LIMIT ?`)
    .all(...(cursor !== undefined ? [cursor] : []), limit + 1) as HostRow[];
  const more = rows.length > limit;
  const items = rows.slice(0, limit).map((r) => toApiHost(db, r, onlineAfter));
  return { items, next: more ? encodeCursor(items[items.length - 1]!.id) : null };
}

export function getHost(db: DB, id: string, onlineAfter: number): ApiHost | null {
  const r = db.prepare('SELECT * FROM hosts WHERE id = ?').get(id) as HostRow | undefined;
  return r ? toApiHost(db, r, onlineAfter) : null;
}

export function hostInventory(db: DB, id: string, limit: number, cursor: number | undefined, opts: { kind?: string | undefined; includeRemoved?: boolean | undefined } = {}) {
  const where = ['hi.host_id = ?'];
  const args: unknown[] = [id];
  if (!opts.includeRemoved) where.push('hi.removed_at IS NULL');
  if (opts.kind) { where.push('it.kind = ?'); args.push(opts.kind); }
  if (cursor !== undefined) { where.push('hi.item_id > ?'); args.push(cursor); }
  const rows = db.prepare(`SELECT hi.item_id, it.data, hi.first_seen, hi.last_seen, hi.removed_at FROM host_items hi JOIN items it ON it.id = hi.item_id
    WHERE ${where.join(' AND ')} ORDER BY hi.item_id LIMIT ?`).all(...args, limit + 1) as Array<{ item_id: number; data: string; first_seen: string; last_seen: string; removed_at: string | null }>;
  const more = rows.length > limit;
  const page = rows.slice(0, limit);
  return {
    items: page.map((r) => ({ ...(JSON.parse(r.data) as Record<string, unknown>), first_seen: r.first_seen, last_seen: r.last_seen, ...(r.removed_at ? { removed_at: r.removed_at } : {}) })),
    next: more ? encodeCursor(page[page.length - 1]!.item_id) : null,
  };
}

export function toApiIndicator(r: IndicatorRow): ApiIndicator {
  const s = rowToStored(r);
  return { ...s, retired: r.retired_at !== null, created: r.created, updated: r.updated } as ApiIndicator;
}

export function listIndicators(db: DB, limit: number, cursor: string | undefined, f: { feed?: string | undefined; type?: string | undefined; includeRetired?: boolean | undefined }) {
  const where: string[] = [];
  const args: unknown[] = [];
  if (!f.includeRetired) where.push('retired_at IS NULL');
  if (f.feed) { where.push('feed = ?'); args.push(f.feed); }
  if (f.type) { where.push('type = ?'); args.push(f.type); }
  if (cursor !== undefined) { where.push('id > ?'); args.push(cursor); }
  const rows = db.prepare(`SELECT * FROM indicators ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id LIMIT ?`).all(...args, limit + 1) as IndicatorRow[];
  const more = rows.length > limit;
  const items = rows.slice(0, limit).map(toApiIndicator);
  return { items, next: more ? encodeCursor(items[items.length - 1]!.id) : null };
}

/** What /metrics reports from the store: one pass each over small tables and the alerts' status index. */
export interface StoreGauges { hosts_enrolled: number; jobs_running: number; indicators_active: number; alerts_by_status: Record<string, number> }

export function storeGauges(db: DB): StoreGauges {
  const n = (sql: string): number => (cachedStatement(db, sql, 'pluck').get() as number | undefined) ?? 0;
  const alerts = cachedStatement(db, 'SELECT status, count(*) FROM alerts GROUP BY status', 'raw').all() as Array<[string, number]>;
  return {
    hosts_enrolled: n('SELECT count(*) FROM hosts WHERE revoked_at IS NULL'),
    jobs_running: n("SELECT count(*) FROM jobs WHERE status = 'running'"),
    indicators_active: n('SELECT count(*) FROM indicators WHERE retired_at IS NULL'),
    alerts_by_status: Object.fromEntries(alerts),
  };
}
