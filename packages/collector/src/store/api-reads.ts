/**
 * The API's heavy reads (alert list, fleet-wide search, /metrics' counts) as plain data in, JSON
 * text out, so the same code runs on the reader thread (store/reader-worker.ts) or inline
 * (plugins/api-reader.ts).
 * Requests arrive validated by their routes; what is left here is SQL and serialisation — the
 * work that, on the main thread, held up every agent and every other request for its length.
 */
import type { DB } from './db.js';
import { listAlerts, storeGauges, type AlertFilter } from './queries.js';
import { searchByKey, searchWithVersions } from './search.js';
import { compareVersions, satisfies } from '../match/version.js';

export type ApiRead =
  | { op: 'alerts'; filter: AlertFilter; limit: number; cursor: number | undefined }
  /** Software by lookup key (`sw:<normalised name>`), kept to an exact version or a range. */
  | { op: 'software'; key: string; version?: string | undefined; range?: string | undefined; includeRemoved?: boolean | undefined; limit: number }
  /** Files and certificates by lookup key (`h:<hex>`, `serial:…`, `thumb:…`, `signer:…`). */
  | { op: 'key'; key: string; includeRemoved?: boolean | undefined; limit: number }
  /** /metrics' counts (StoreGauges): a scan of the alerts' status index, ~15 ms at 400,000 alerts. */
  | { op: 'gauges' };

/** Whether a software item is the version asked for (compared as its source orders versions) and within the range. */
function versionFilter(version: string | undefined, range: string | undefined): ((it: Record<string, unknown>) => boolean) | undefined {
  if (version === undefined && range === undefined) return undefined;
  return (it) => {
    const v = String(it.version ?? ''), src = typeof it.source === 'string' ? it.source : undefined;
    if (version !== undefined && v !== version && compareVersions(v, version, 'auto', src) !== 0) return false;
    return range === undefined || satisfies(v, range, 'auto', src);
  };
}

/** The answer's body, as the route's 200 schema describes it. */
export function runApiRead(db: DB, r: ApiRead): string {
  switch (r.op) {
    case 'alerts': return JSON.stringify(listAlerts(db, r.filter, r.limit, r.cursor));
    case 'software': return JSON.stringify(searchWithVersions(db, r.key, { includeRemoved: r.includeRemoved, limit: r.limit, keep: versionFilter(r.version, r.range) }));
    case 'key': return JSON.stringify(searchByKey(db, r.key, { includeRemoved: r.includeRemoved, limit: r.limit }));
    case 'gauges': return JSON.stringify(storeGauges(db));
  }
}
