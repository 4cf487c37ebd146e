/**
 * The files packages own (system path → `<source>:<package>`), shared between sources: package
 * sources add what they own in phase 0, the files source hashes it in phase 1.
 *
 * Why not a Map<string, string>: a Debian host lists ~140k paths, and as a Map of JS strings
 * they held ~20 MB of the agent's heap (each key a string object, most of them slices that
 * kept their whole .list file alive, plus the hash table), all of it traced by every major GC
 * for the whole scan. Here a path is its directory's number plus its last segment as UTF-8
 * bytes in one growing buffer, with an open-addressing index over typed arrays: ~45 bytes a
 * path, outside the GC's reach. Paths come back out as fresh flat strings.
 *
 * Semantics are those of `if (!map.has(p)) map.set(p, owner)`: the first owner of a path
 * wins, and iteration is in insertion order. Paths are compared as UTF-8, so a string with a
 * lone surrogate (which no decoded file list can hold) equals its U+FFFD spelling.
 */

/** Directory number of a path without '/' (a relative name: no directory part to rebuild). */
const NO_DIR = 0;
const EMPTY = -1;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

export class OwnedFiles implements Iterable<[string, string]> {
  private readonly dirIds = new Map<string, number>();
  private readonly dirs: string[] = [''];
  private readonly ownerIds = new Map<string, number>();
  private readonly owners: string[] = [];
  /** Last path segments, UTF-8, back to back; entry i's bytes end where entry i+1's start. */
  private names = Buffer.allocUnsafe(64 * 1024);
  private namesEnd = 0;
  private nameStart = new Uint32Array(1024);
  private dirOf = new Uint32Array(1024);
  private ownerOf = new Uint32Array(1024);
  /** Open addressing (linear probing): entry number or EMPTY; kept at most half full. */
  private slots = new Int32Array(2048).fill(EMPTY);
  private count = 0;
  /** Scratch for encoding a looked-up name, and for rebuilding a whole path. */
  private scratch = Buffer.allocUnsafe(4096);

  /** Built from [path, owner] pairs (a Map, a test's list); first owner of a path wins. */
  static from(entries: Iterable<readonly [string, string]>): OwnedFiles {
    const out = new OwnedFiles();
    for (const [p, owner] of entries) out.add(p, owner);
    return out;
  }

  get size(): number { return this.count; }

  /** Records `path` as owned by `owner` unless some package owns it already; true if added. */
  add(path: string, owner: string): boolean {
    const slash = path.lastIndexOf('/');
    const dir = slash < 0 ? NO_DIR : this.internDir(path, slash);
    const start = this.namesEnd;
    const nameLen = this.encodeName(path, slash + 1);
    const hash = this.hashOf(dir, this.names, start, nameLen);
    const slot = this.findSlot(hash, dir, this.names, start, nameLen);
    if (this.slots[slot] !== EMPTY) return false; // the bytes written above are simply reused
    this.growEntries();
    const i = this.count++;
    this.nameStart[i] = start;
    this.dirOf[i] = dir;
    this.ownerOf[i] = this.internOwner(owner);
    this.namesEnd = start + nameLen;
    this.slots[slot] = i;
    if (this.count * 2 > this.slots.length) this.rehash();
    return true;
  }

  has(path: string): boolean { return this.indexOf(path) !== EMPTY; }

  /** The owner of `path`, or undefined. */
  get(path: string): string | undefined {
    const i = this.indexOf(path);
    return i === EMPTY ? undefined : this.owners[this.ownerOf[i]!];
  }

  /** Path of entry `i` (0 ≤ i < size, insertion order), as a new flat string. */
  pathAt(i: number): string {
    const start = this.nameStart[i]!;
    const len = this.nameEnd(i) - start;
    const dir = this.dirOf[i]!;
    if (dir === NO_DIR) return this.names.toString('utf8', start, start + len);
    const dirPath = this.dirs[dir]!;
    this.ensureScratch(dirPath.length * 3 + 1 + len);
    let n = this.scratch.write(dirPath, 0, 'utf8');
    this.scratch[n++] = 0x2f; // '/'
    n += this.names.copy(this.scratch, n, start, start + len);
    return this.scratch.toString('utf8', 0, n);
  }

  /** Owner of entry `i`: the interned string, shared by every file of that package. */
  ownerAt(i: number): string { return this.owners[this.ownerOf[i]!]!; }

  *[Symbol.iterator](): IterableIterator<[string, string]> {
    for (let i = 0; i < this.count; i++) yield [this.pathAt(i), this.ownerAt(i)];
  }

  *keys(): IterableIterator<string> {
    for (let i = 0; i < this.count; i++) yield this.pathAt(i);
  }

  private indexOf(path: string): number {
    const slash = path.lastIndexOf('/');
    let dir = NO_DIR;
    if (slash >= 0) {
      const id = this.dirIds.get(path.slice(0, slash));
      if (id === undefined) return EMPTY;
      dir = id;
    }
    this.ensureScratch((path.length - slash - 1) * 3);
    const len = this.scratch.write(slash < 0 ? path : path.slice(slash + 1), 0, 'utf8');
    return this.slots[this.findSlot(this.hashOf(dir, this.scratch, 0, len), dir, this.scratch, 0, len)]!;
  }

  /**
   * Directory number of path.slice(0, slash). New directories are stored as a copy decoded from
   * bytes: a slice would be a V8 sliced string pinning the whole text the path came from.
   */
  private internDir(path: string, slash: number): number {
    const dir = path.slice(0, slash);
    const known = this.dirIds.get(dir);
    if (known !== undefined) return known;
    const copy = Buffer.from(dir, 'utf8').toString('utf8');
    // A lone surrogate does not survive UTF-8; such a name keeps its slice (and its pin).
    const flat = copy === dir ? copy : dir;
    const id = this.dirs.push(flat) - 1;
    this.dirIds.set(flat, id);
    return id;
  }

  private internOwner(owner: string): number {
    const known = this.ownerIds.get(owner);
    if (known !== undefined) return known;
    const id = this.owners.push(owner) - 1;
    this.ownerIds.set(owner, id);
    return id;
  }

  /** UTF-8 of path.slice(from) appended at namesEnd (not yet committed); returns its length. */
  private encodeName(path: string, from: number): number {
    const chars = path.length - from;
    if (this.namesEnd + chars * 3 > this.names.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.names.length * 2, this.namesEnd + chars * 3));
      this.names.copy(bigger, 0, 0, this.namesEnd);
      this.names = bigger;
    }
    if (chars === 0) return 0;
    return this.names.write(from === 0 ? path : path.slice(from), this.namesEnd, 'utf8');
  }

  private nameEnd(i: number): number { return i + 1 < this.count ? this.nameStart[i + 1]! : this.namesEnd; }

  private hashOf(dir: number, buf: Buffer, start: number, len: number): number {
    let h = Math.imul(FNV_OFFSET ^ dir, FNV_PRIME);
    for (let k = start; k < start + len; k++) h = Math.imul(h ^ buf[k]!, FNV_PRIME);
    return h >>> 0;
  }

  /** The slot holding (dir, name), or the empty slot where it would go. */
  private findSlot(hash: number, dir: number, buf: Buffer, start: number, len: number): number {
    const mask = this.slots.length - 1;
    for (let s = hash & mask; ; s = (s + 1) & mask) {
      const i = this.slots[s]!;
      if (i === EMPTY) return s;
      if (this.dirOf[i] === dir && this.sameName(i, buf, start, len)) return s;
    }
  }

  private sameName(i: number, buf: Buffer, start: number, len: number): boolean {
    const s = this.nameStart[i]!;
    if (this.nameEnd(i) - s !== len) return false;
    return this.names.compare(buf, start, start + len, s, s + len) === 0;
  }

  private growEntries(): void {
    if (this.count < this.nameStart.length) return;
    const n = this.nameStart.length * 2;
    this.nameStart = grown(this.nameStart, n);
    this.dirOf = grown(this.dirOf, n);
    this.ownerOf = grown(this.ownerOf, n);
  }

  private rehash(): void {
    this.slots = new Int32Array(this.slots.length * 2).fill(EMPTY);
    const mask = this.slots.length - 1;
    for (let i = 0; i < this.count; i++) {
      const start = this.nameStart[i]!;
      let s = this.hashOf(this.dirOf[i]!, this.names, start, this.nameEnd(i) - start) & mask;
      while (this.slots[s] !== EMPTY) s = (s + 1) & mask;
      this.slots[s] = i;
    }
  }

  private ensureScratch(bytes: number): void {
    if (bytes > this.scratch.length) this.scratch = Buffer.allocUnsafe(Math.max(bytes, this.scratch.length * 2));
  }
}

function grown(a: Uint32Array, n: number) {
  const b = new Uint32Array(n);
  b.set(a);
  return b;
}
