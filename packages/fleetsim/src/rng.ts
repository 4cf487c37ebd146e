/** Seeded randomness: the same seed gives the same fleet, run after run and worker after worker. */
import { createHash } from 'node:crypto';

/** mulberry32: tiny, fast, good enough to pick packages and versions. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 32-bit seed from any parts (host index, delta number…). */
export function seedOf(...parts: Array<string | number>): number {
  return createHash('sha256').update(parts.join('\0')).digest().readUInt32LE(0);
}

/** Deterministic hex digest of the parts: stands in for hashes the simulator cannot know. */
export function hexOf(algorithm: 'sha256' | 'sha1' | 'md5', ...parts: Array<string | number>): string {
  return createHash(algorithm).update(parts.join('\0')).digest('hex');
}
