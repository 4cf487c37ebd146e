/**
 * Latency histogram with ~2 % relative precision (log buckets over microseconds), cheap to
 * record and mergeable across worker processes: it travels over IPC as a plain count array.
 */
const RATIO = Math.log(1.02);
const BUCKETS = 1200; // 1.02^1200 µs ≈ 2e10 µs: far beyond any timeout

export class Histogram {
  readonly counts: number[];
  total = 0;
  max = 0;

  constructor(counts?: number[]) {
    this.counts = counts ? [...counts] : new Array<number>(BUCKETS).fill(0);
    for (const c of this.counts) this.total += c;
  }

  record(ms: number): void {
    const us = Math.max(1, ms * 1000);
    const i = Math.min(BUCKETS - 1, Math.floor(Math.log(us) / RATIO));
    this.counts[i]!++;
    this.total++;
    if (ms > this.max) this.max = ms;
  }

  merge(other: { counts: number[]; max: number }): void {
    for (let i = 0; i < BUCKETS; i++) { const c = other.counts[i] ?? 0; this.counts[i]! += c; this.total += c; }
    if (other.max > this.max) this.max = other.max;
  }

  /** Upper edge of the bucket holding the q-th quantile, in ms (0 when empty). */
  quantile(q: number): number {
    if (this.total === 0) return 0;
    const rank = Math.ceil(q * this.total);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(this.max, Math.exp((i + 1) * RATIO) / 1000);
    }
    return this.max;
  }

  toJSON(): { counts: number[]; max: number } { return { counts: this.counts, max: this.max }; }
}
