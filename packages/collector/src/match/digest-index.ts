/**
 * Hex-digest keys (`h:<sha256>`, `thumb:<sha1>`…) to values, for feeds of millions of hashes.
 *
 * A JavaScript Map of 5 million string keys costs the matcher ~2.5 µs per lookup: each probe
 * walks a bucket chain through entries and key strings spread over a heap of gigabytes, a cache
 * and TLB miss at every step (collector-indicators bench: 170k items/s at 5M indicators, 1.7M at
 * 100k). Digests are uniformly random already, so their first 16 hex digits make a 64-bit
 * fingerprint that both places and identifies an entry: the table is one Int32Array of
 * [fingerprint high, fingerprint low, value index + 1] per slot, linear probing, so a lookup
 * that misses (nearly all of them) reads one or two neighbouring cache lines and never touches
 * a string. A fingerprint hit is confirmed on the whole key string.
 *
 * No library does this: hash-table packages on npm store JS values (the same chains) or only
 * numbers; this is ~150 lines with deletion by backward shift, checked against a Map in tests.
 */

/**
 * Where the hex digits start in a key of a digest namespace (`h:`, `thumb:`), long enough for a
 * fingerprint; -1 for any other key. Cheap: the digits themselves are checked by get()/set().
 */
export function digestOffset(key: string): number {
  if (key.charCodeAt(0) === 104 /* h */ && key.charCodeAt(1) === 58 /* : */) return key.length >= 18 ? 2 : -1;
  return key.startsWith('thumb:') && key.length >= 22 ? 6 : -1;
}

// The last fingerprint parsed: two int32 halves (module state, so parsing allocates nothing).
let fpHigh = 0, fpLow = 0;

function nibble(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 32;
  return l >= 97 && l <= 102 ? l - 87 : -1;
}

/** Parses 16 hex digits at `off` into fpHigh/fpLow; false if any is not hex. */
function fingerprint(key: string, off: number): boolean {
  let hi = 0, lo = 0;
  for (let i = 0; i < 8; i++) {
    const a = nibble(key.charCodeAt(off + i)), b = nibble(key.charCodeAt(off + 8 + i));
    if (a < 0 || b < 0) return false;
    hi = (hi << 4) | a; lo = (lo << 4) | b;
  }
  fpHigh = hi; fpLow = lo;
  return true;
}

/** Home slot of a fingerprint: mixed, so keys crafted to share leading digits do not all pile up. */
function home(hi: number, lo: number, mask: number): number {
  let h = Math.imul(hi ^ Math.imul(lo, 0x85ebca6b), 0xc2b2ae35);
  h ^= h >>> 15;
  return h & mask;
}

const STRIDE = 3;
const NOT_HEX = -2;
const MIN_CAPACITY = 1024;
/** Grow past this load: linear probing stays at a few probes per miss below it. */
const MAX_LOAD = 0.75;

export class DigestIndex<V> {
  private table = new Int32Array(MIN_CAPACITY * STRIDE);
  private mask = MIN_CAPACITY - 1;
  private readonly keys: string[] = [];
  private readonly values: V[] = [];

  get size(): number { return this.values.length; }

  /**
   * The value under `key` (`off` from digestOffset(key), >= 0), undefined if absent, or null if
   * the key's digits are not hex: such a key is never stored here (set() refuses it).
   */
  get(key: string, off: number): V | undefined | null {
    const at = this.find(key, off);
    return at >= 0 ? this.values[this.table[at * STRIDE + 2]! - 1] : at === NOT_HEX ? null : undefined;
  }

  /** Stores `value` under `key`; false (nothing stored) if the key's digits are not hex. */
  set(key: string, off: number, value: V): boolean {
    const at = this.find(key, off);
    if (at === NOT_HEX) return false;
    if (at >= 0) { this.values[this.table[at * STRIDE + 2]! - 1] = value; return true; }
    if ((this.values.length + 1) > (this.mask + 1) * MAX_LOAD) this.grow();
    fingerprint(key, off);
    this.values.push(value); this.keys.push(key);
    this.place(fpHigh, fpLow, this.values.length);
    return true;
  }

  delete(key: string, off: number): boolean {
    const at = this.find(key, off);
    if (at < 0) return false;
    const ref = this.table[at * STRIDE + 2]!;
    this.vacate(at);
    // Keep values dense: the last one moves into the hole, and its slot is repointed.
    const last = this.values.length;
    if (ref !== last) {
      const lastKey = this.keys[last - 1]!;
      const moved = this.find(lastKey, digestOffset(lastKey));
      this.table[moved * STRIDE + 2] = ref;
      this.values[ref - 1] = this.values[last - 1]!;
      this.keys[ref - 1] = lastKey;
    }
    this.values.pop(); this.keys.pop();
    return true;
  }

  /** Slot of `key`, -1 if absent, NOT_HEX if its digits are not hex. */
  private find(key: string, off: number): number {
    if (!fingerprint(key, off)) return NOT_HEX;
    const t = this.table, mask = this.mask, hi = fpHigh, lo = fpLow;
    for (let i = home(hi, lo, mask); ; i = (i + 1) & mask) {
      const p = i * STRIDE, ref = t[p + 2]!;
      if (ref === 0) return -1;
      if (t[p] === hi && t[p + 1] === lo && this.keys[ref - 1] === key) return i;
    }
  }

  private place(hi: number, lo: number, ref: number): void {
    const t = this.table, mask = this.mask;
    let i = home(hi, lo, mask);
    while (t[i * STRIDE + 2] !== 0) i = (i + 1) & mask;
    t[i * STRIDE] = hi; t[i * STRIDE + 1] = lo; t[i * STRIDE + 2] = ref;
  }

  /** Empties slot `i` and shifts later entries of its run back, so no lookup stops short (no tombstones). */
  private vacate(i: number): void {
    const t = this.table, mask = this.mask;
    for (let j = (i + 1) & mask; t[j * STRIDE + 2] !== 0; j = (j + 1) & mask) {
      const k = home(t[j * STRIDE]!, t[j * STRIDE + 1]!, mask);
      // Entry j may move to i only if its home is not in (i, j] (cyclically).
      const between = i <= j ? (k > i && k <= j) : (k > i || k <= j);
      if (between) continue;
      t[i * STRIDE] = t[j * STRIDE]!; t[i * STRIDE + 1] = t[j * STRIDE + 1]!; t[i * STRIDE + 2] = t[j * STRIDE + 2]!;
      i = j;
    }
    t[i * STRIDE] = 0; t[i * STRIDE + 1] = 0; t[i * STRIDE + 2] = 0;
  }

  private grow(): void {
    const old = this.table;
    this.table = new Int32Array(old.length * 2);
    this.mask = this.mask * 2 + 1;
    for (let p = 0; p < old.length; p += STRIDE) if (old[p + 2] !== 0) this.place(old[p]!, old[p + 1]!, old[p + 2]!);
  }
}
