/**
 * Member digest → catalog, for the million or so digests a Windows volume's catalogs list.
 * A Map of hex strings cost ~170 bytes per member (170 MB on a real CatRoot, measured with
 * 400 catalogs of 2,500 members); here each member is 16 bytes of digest and a 4-byte catalog
 * number in typed arrays, found through an open-addressing table: ~28 bytes per member.
 *
 * Only the first 16 bytes of a digest are kept (digests of one length live in one table, so a
 * SHA-1 never meets a SHA-256): two different members sharing 128 bits is as unlikely as a
 * collision of the digest itself. As with the Map before, the first catalog to list a digest
 * keeps it.
 */
import type { Judged } from './judge.js';

/** A catalog as its members see it: where it is and its signer's verdict. */
export interface CatalogVerdict {
  path: string;
  judged: Judged;
}

const KEY_BYTES = 16;

/** One digest length's members: keys and catalog numbers by insertion, slots by hash. */
class Table {
  private keys = Buffer.alloc(KEY_BYTES * 1024);
  private owners = new Uint32Array(1024);
  /** Member number + 1, or 0 for an empty slot; the length is a power of two. */
  private slots = new Uint32Array(2048);
  count = 0;

  /** Adds `key` (KEY_BYTES bytes) for catalog `owner` unless it is already there. */
  add(key: Buffer, owner: number): void {
    if ((this.count + 1) * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    const slot = this.find(key);
    if (this.slots[slot] !== 0) return;
    if (this.count === this.owners.length) this.growMembers();
    key.copy(this.keys, this.count * KEY_BYTES);
    this.owners[this.count] = owner;
    this.slots[slot] = ++this.count;
  }

  /** The catalog number of `key`, or -1. */
  owner(key: Buffer): number {
    const m = this.slots[this.find(key)]!;
    return m === 0 ? -1 : this.owners[m - 1]!;
  }

  /** The slot holding `key`, or the empty slot where it would go (linear probing). */
  private find(key: Buffer): number {
    const mask = this.slots.length - 1;
    // Digests are uniform: their first bytes are as good a hash as any.
    for (let s = (key.readUInt32LE(0) ^ key.readUInt32LE(4)) & mask; ; s = (s + 1) & mask) {
      const m = this.slots[s]!;
      if (m === 0 || key.compare(this.keys, (m - 1) * KEY_BYTES, m * KEY_BYTES) === 0) return s;
    }
  }

  private rehash(size: number): void {
    this.slots = new Uint32Array(size);
    const mask = size - 1;
    for (let m = 0; m < this.count; m++) {
      const at = m * KEY_BYTES;
      let s = (this.keys.readUInt32LE(at) ^ this.keys.readUInt32LE(at + 4)) & mask;
      while (this.slots[s] !== 0) s = (s + 1) & mask;
      this.slots[s] = m + 1;
    }
  }

  private growMembers(): void {
    const keys = Buffer.alloc(this.keys.length * 2);
    this.keys.copy(keys);
    this.keys = keys;
    const owners = new Uint32Array(this.owners.length * 2);
    owners.set(this.owners);
    this.owners = owners;
  }
}

export class CatalogIndex {
  private readonly catalogs: CatalogVerdict[] = [];
  private readonly tables = new Map<number, Table>();
  /** Scratch key: a million members must not mean a million small Buffers to collect. */
  private readonly key = Buffer.alloc(KEY_BYTES);

  /** Number of member digests indexed. */
  get size(): number {
    let n = 0;
    for (const t of this.tables.values()) n += t.count;
    return n;
  }

  /** Index one catalog's members (lower-case hex digests). */
  add(catalog: CatalogVerdict, members: Iterable<string>): void {
    const owner = this.catalogs.push({ path: catalog.path, judged: catalog.judged }) - 1;
    for (const hex of members) {
      const length = keyInto(hex, this.key);
      if (length < 0) continue;
      let table = this.tables.get(length);
      if (!table) this.tables.set(length, (table = new Table()));
      table.add(this.key, owner);
    }
  }

  /** The catalog that lists this digest (lower- or upper-case hex), if any. */
  get(hex: string): CatalogVerdict | undefined {
    const length = keyInto(hex, this.key);
    const owner = length < 0 ? -1 : this.tables.get(length)?.owner(this.key) ?? -1;
    return owner < 0 ? undefined : this.catalogs[owner];
  }
}

/**
 * The first KEY_BYTES of a hex digest into `key` (zero-padded); returns the digest's length in
 * bytes, or -1 for text that is not hex.
 */
function keyInto(hex: string, key: Buffer): number {
  if (hex.length === 0 || hex.length % 2 !== 0) return -1;
  key.fill(0);
  for (let i = 0; i < hex.length; i += 2) {
    const hi = nibble(hex.charCodeAt(i)), lo = nibble(hex.charCodeAt(i + 1));
    if (hi < 0 || lo < 0) return -1;
    if (i / 2 < KEY_BYTES) key[i / 2] = hi * 16 + lo;
  }
  return hex.length / 2;
}

function nibble(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}
