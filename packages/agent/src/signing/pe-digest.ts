/**
 * Authenticode image digests and the file's SHA-256 of a PE in one pass over the file, read in
 * bounded chunks (bytes.ts): memory stays at one chunk whatever the file's size (the signatures
 * source used to read PEs of hundreds of MB whole). Every requested algorithm is fed the ranges of
 * authenticode.ts's digestRanges as the chunks go by; the ranges never go back, so one
 * sequential read serves the file hash and every image digest.
 */
import { createHash, type Hash } from 'node:crypto';
import { AgentError } from '../errors.js';
import { digestPadding, digestRanges, type DigestName } from './authenticode.js';
import type { ChunkSource } from './bytes.js';
import type { PeInfo } from './pe.js';

export interface PeDigests {
  /** SHA-256 of the whole file. */
  fileSha256: Buffer;
  /** Authenticode digest per algorithm (an unsigned image padded to 8 bytes, as signers do). */
  image: Map<DigestName, Buffer>;
  /** The same without that padding: catalogs list unsigned files either way. */
  unpadded: Map<DigestName, Buffer>;
}

/** One image digest being fed: its hash and how far into its ranges it is. */
class RangeHash {
  private next = 0;
  constructor(readonly hash: Hash, private readonly ranges: Array<[number, number]>) {}

  /** Feed the part of `chunk` (file bytes [pos, pos + chunk.length)) that the ranges cover. */
  update(chunk: Buffer, pos: number): void {
    const end = pos + chunk.length;
    while (this.next < this.ranges.length) {
      const [s, e] = this.ranges[this.next]!;
      if (s >= end) return;
      const from = Math.max(s, pos), to = Math.min(e, end);
      if (to > from) this.hash.update(chunk.subarray(from - pos, to - pos));
      if (e > end) return;
      this.next++;
    }
  }
}

/** The file's SHA-256 and the Authenticode digests for `algs`, in one read of `src`. */
export async function peDigests(src: ChunkSource, pe: PeInfo, algs: Iterable<DigestName>, withFileHash = true): Promise<PeDigests> {
  const ranges = digestRanges(pe);
  const feeds = new Map([...new Set(algs)].map((a) => [a, new RangeHash(createHash(a), ranges)] as const));
  const file = withFileHash ? createHash('sha256') : null;
  let pos = 0;
  for await (const chunk of src.chunks()) {
    file?.update(chunk);
    for (const f of feeds.values()) f.update(chunk, pos);
    pos += chunk.length;
  }
  if (pos !== src.size) throw new AgentError('CW_FILE_UNREADABLE', `read ${pos} of ${src.size} bytes`);
  const out: PeDigests = { fileSha256: file?.digest() ?? Buffer.alloc(0), image: new Map(), unpadded: new Map() };
  const pad = digestPadding(pe);
  for (const [alg, f] of feeds) {
    out.unpadded.set(alg, f.hash.copy().digest());
    if (pad > 0) f.hash.update(Buffer.alloc(pad));
    out.image.set(alg, f.hash.digest());
  }
  return out;
}

/** The file's SHA-256 alone, read the same bounded way (for files that are no valid PE). */
export async function fileSha256(src: ChunkSource): Promise<Buffer> {
  const h = createHash('sha256');
  for await (const chunk of src.chunks()) h.update(chunk);
  return h.digest();
}
