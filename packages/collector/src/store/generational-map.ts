/**
 * A bounded map that keeps what is used, for the ingest writer's caches. Two generations: a hit
 * in the older one moves the entry to the current one; when the current one is full it becomes
 * the older one and the previous older one is dropped. Eviction costs nothing per entry, and a
 * hot set survives it — a fleet's most common 10,000 items are ~97 % of its (host, item) pairs
 * (fleet bench data, 5,000 hosts), while the long tail is seen once per host. Clearing the whole
 * cache when full (as before) dropped the hot set with the tail.
 */
export class GenerationalMap<K, V> {
  private current = new Map<K, V>();
  private previous = new Map<K, V>();

  /** At most 2 × perGeneration entries are held. */
  constructor(private readonly perGeneration: number) {}

  get(key: K): V | undefined {
    const v = this.current.get(key);
    if (v !== undefined) return v;
    const old = this.previous.get(key);
    if (old !== undefined) { this.previous.delete(key); this.set(key, old); }
    return old;
  }

  set(key: K, value: V): void {
    if (this.current.size >= this.perGeneration && !this.current.has(key)) {
      this.previous = this.current;
      this.current = new Map();
    }
    this.current.set(key, value);
  }

  clear(): void { this.current.clear(); this.previous.clear(); }

  get size(): number { return this.current.size + this.previous.size; }
}
