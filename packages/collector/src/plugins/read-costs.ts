/**
 * What an API read is expected to cost, in milliseconds of its reader thread, learned from the
 * reads before it: by op and lookup key when that key was read before (a search for a package
 * every host holds costs ~100 times one for a rare hash), else by op. The reader pool sends each
 * read to the thread expected to be free first (plugins/api-reader.ts), so a cheap read does not
 * queue behind a known long one.
 */
import type { ApiRead } from '../store/api-reads.js';
import { GenerationalMap } from '../store/generational-map.js';

/** A read of a kind never seen: cheap, so the first of each kind is not kept from an idle thread's queue. */
export const UNKNOWN_COST_MS = 1;
/** Weight of the newest sample: a key's cost follows the store as it grows, within a few reads. */
const ALPHA = 0.3;
/** Keys remembered: a generation of this many, the last two kept (store/generational-map.ts). */
const KEYS_PER_GENERATION = 1_000;

/** Reads that cost the same: searches by op and key (versions and ranges filter the same hits), lists by op and filter. */
function costKey(r: ApiRead): string {
  switch (r.op) {
    case 'software': case 'key': return `${r.op}\0${r.key}\0${r.includeRemoved ? 1 : 0}`;
    case 'alerts': return `alerts\0${JSON.stringify(r.filter)}`;
    case 'gauges': return 'gauges';
  }
}

export class ReadCosts {
  private readonly byKey = new GenerationalMap<string, number>(KEYS_PER_GENERATION);
  private readonly byOp = new Map<ApiRead['op'], number>();

  estimate(r: ApiRead): number {
    return this.byKey.get(costKey(r)) ?? this.byOp.get(r.op) ?? UNKNOWN_COST_MS;
  }

  /** Records a read's time on its thread (a failed read counts too: its time was spent). */
  learn(r: ApiRead, ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    const key = costKey(r), known = this.byKey.get(key), op = this.byOp.get(r.op);
    this.byKey.set(key, known === undefined ? ms : known + ALPHA * (ms - known));
    this.byOp.set(r.op, op === undefined ? ms : op + ALPHA * (ms - op));
  }
}
