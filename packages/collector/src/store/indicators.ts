/**
 * Indicator storage: bulk upsert (idempotent: same content → unchanged), whole-feed replace
 * (indicators missing from the new version retire; their alerts show it), and loading the
 * active set into the matcher.
 */
import type { DB } from './db.js';
import { nowIso } from './db.js';
import type { StoredIndicator } from '../match/indicator.js';
import { BUILTINS } from '../match/builtin.js';
import { compile, Matcher } from '../match/engine.js';
import { createHash } from 'node:crypto';

export interface UpsertResult { added: number; updated: number; unchanged: number; retired: number; changed: StoredIndicator[] }

export interface IndicatorRow {
  id: string; feed: string; type: string; value: string; spec: string; severity: string; description: string | null;
  reference: string | null; tags: string; valid_from: string | null; valid_until: string | null; created: string; updated: string; retired_at: string | null;
}

export function rowToStored(r: IndicatorRow): StoredIndicator {
  return {
    id: r.id, feed: r.feed, type: r.type as StoredIndicator['type'], value: r.value, spec: JSON.parse(r.spec) as Record<string, unknown>,
    severity: r.severity as StoredIndicator['severity'], description: r.description, reference: r.reference,
    tags: JSON.parse(r.tags) as string[], valid_from: r.valid_from, valid_until: r.valid_until, content_hash: '',
  };
}

export class IndicatorStore {
  private readonly q;
  constructor(private readonly db: DB) {
    this.q = {
      get: db.prepare('SELECT content_hash, retired_at FROM indicators WHERE id = ?'),
      insert: db.prepare(`INSERT INTO indicators (id, feed, type, value, spec, severity, description, reference, tags, valid_from, valid_until, content_hash, created, updated)
        VALUES (@id, @feed, @type, @value, @spec, @severity, @description, @reference, @tags, @valid_from, @valid_until, @content_hash, @now, @now)`),
      update: db.prepare(`UPDATE indicators SET feed = @feed, type = @type, value = @value, spec = @spec, severity = @severity, description = @description,
        reference = @reference, tags = @tags, valid_from = @valid_from, valid_until = @valid_until, content_hash = @content_hash, updated = @now, retired_at = NULL WHERE id = @id`),
      feedIds: db.prepare('SELECT id FROM indicators WHERE feed = ? AND retired_at IS NULL').pluck(),
      retire: db.prepare('UPDATE indicators SET retired_at = ?, updated = ? WHERE id = ?'),
      active: db.prepare('SELECT * FROM indicators WHERE retired_at IS NULL'),
    };
  }

  /** Inserts or updates indicators in one transaction. With `replaceFeed`, the feed's other indicators retire. */
  upsert(list: StoredIndicator[], replaceFeed?: string): UpsertResult {
    return this.db.transaction(() => {
      const now = nowIso();
      const res: UpsertResult = { added: 0, updated: 0, unchanged: 0, retired: 0, changed: [] };
      const seen = new Set<string>();
      for (const ind of list) {
        seen.add(ind.id);
        const row = { ...ind, spec: JSON.stringify(ind.spec), tags: JSON.stringify(ind.tags), now };
        const cur = this.q.get.get(ind.id) as { content_hash: string; retired_at: string | null } | undefined;
        if (!cur) { this.q.insert.run(row); res.added++; res.changed.push(ind); }
        else if (cur.content_hash !== ind.content_hash || cur.retired_at) { this.q.update.run(row); res.updated++; res.changed.push(ind); }
        else res.unchanged++;
      }
      if (replaceFeed !== undefined) {
        for (const id of this.q.feedIds.all(replaceFeed) as string[]) {
          if (!seen.has(id)) { this.q.retire.run(now, now, id); res.retired++; }
        }
      }
      return res;
    })();
  }

  /** Built-in detections get indicator rows like any other, so alerts have one shape. */
  ensureBuiltins(): void {
    this.upsert(BUILTINS.map((b) => ({ ...b.indicator, content_hash: createHash('sha256').update(JSON.stringify(b.indicator)).digest('hex') })));
  }

  /** A matcher holding every active indicator. */
  loadMatcher(): Matcher {
    const m = new Matcher();
    for (const r of this.q.active.iterate() as Iterable<IndicatorRow>) {
      if (r.feed === 'builtin') continue; // matched by code, see match/builtin.ts
      m.add(compile(rowToStored(r)));
    }
    return m;
  }
}
