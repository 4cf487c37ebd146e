/**
 * Counting, the "zero lost or duplicated" check: what the collector stores per host against
 * what the simulator sent, and alerts raised for the simulator's feed against what it planted.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { requestJson, type Endpoint } from './http.js';

const run = promisify(execFile);

export interface StoredCount { keys: number; pairs: number }

/**
 * Current items per host, read-only from the collector's database with the sqlite3 CLI:
 * distinct item keys (what the host holds) and (host, item) pairs (rows).
 */
export async function storedCountsFromDb(dbFile: string): Promise<Map<string, StoredCount>> {
  const sql = `SELECT hi.host_id, count(DISTINCT it.ikey), count(*) FROM host_items hi JOIN items it ON it.id = hi.item_id
    WHERE hi.removed_at IS NULL GROUP BY hi.host_id;`;
  const { stdout } = await run('sqlite3', ['-readonly', '-separator', '\t', `file:${dbFile}?mode=ro`, sql], { maxBuffer: 512 * 1024 * 1024 });
  const out = new Map<string, StoredCount>();
  for (const line of stdout.split('\n')) {
    const [id, keys, pairs] = line.split('\t');
    if (id && keys) out.set(id, { keys: Number(keys), pairs: Number(pairs) });
  }
  return out;
}

/** Current item rows per host from GET /api/v1/hosts (counts.items). */
export async function storedCountsFromApi(ep: Endpoint, token: string): Promise<Map<string, StoredCount>> {
  const out = new Map<string, StoredCount>();
  let cursor: string | null = null;
  do {
    const r = await requestJson(ep, 'GET', `/api/v1/hosts?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, undefined, token, 600_000);
    if (r.status !== 200) throw new Error(`GET /api/v1/hosts: HTTP ${r.status}`);
    const page = r.json as { items: Array<{ id: string; counts: { items: number } }>; next: string | null };
    for (const h of page.items) out.set(h.id, { keys: h.counts.items, pairs: h.counts.items });
    cursor = page.next;
  } while (cursor);
  return out;
}

/** Alerts of one feed, counted by paging the alerts API. */
export async function countAlerts(ep: Endpoint, token: string, feed: string): Promise<number> {
  let n = 0, cursor: string | null = null;
  do {
    const r = await requestJson(ep, 'GET', `/api/v1/alerts?feed=${encodeURIComponent(feed)}&limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, undefined, token);
    if (r.status !== 200) throw new Error(`GET /api/v1/alerts: HTTP ${r.status}`);
    const page = r.json as { items: unknown[]; next: string | null };
    n += page.items.length;
    cursor = page.next;
  } while (cursor);
  return n;
}
