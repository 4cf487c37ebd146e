/**
 * Read-only parser for Windows registry hive files (REGF): SOFTWARE, SYSTEM, NTUSER.DAT…
 *
 * Why our own: the agent reads hives of offline Windows volumes (a disk image mounted on a
 * Linux box, `--root` at the volume root), where no Windows API exists, and no maintained npm
 * library reads REGF. The hive is attacker-reachable input (any user writes NTUSER.DAT), so
 * every offset is bounds-checked, subkey lists are walked with cycle protection and limits, and
 * damage is skipped with a warning (`hive.warnings`) instead of an exception. Only a hive whose
 * header or root key is unreadable throws, as AgentError CW_REGF_MALFORMED.
 *
 * Not done: transaction logs (.LOG1/.LOG2) are not replayed, so a dirty hive (copied while
 * Windows had it loaded) shows its last flushed state; a warning says so.
 *
 * Format: Joachim Metz, "Windows NT Registry File (REGF) format specification"
 * (https://github.com/libyal/libregf/blob/main/documentation/Windows%20NT%20Registry%20File%20(REGF)%20format.asciidoc),
 * Maxim Suhanov, "Windows registry file format specification"
 * (https://github.com/msuhanov/regf/blob/master/Windows%20registry%20file%20format%20specification.md).
 * Privileges: none beyond reading the hive file (on a live system it is locked; use reg-query.ts).
 */
import { AgentError } from '../errors.js';
import { sameName, walkPath, type RegData, type RegKey, type RegValue } from './registry-key.js';

/** Hive bins start after the 4 KiB base block; every cell offset is relative to this point. */
const BASE = 4096;
const NO_CELL = 0xffffffff;
/** Big-data (db) segments hold at most this many bytes each; larger values use db in hives ≥ 1.4. */
const DB_SEGMENT = 16344;
/** Limits against hostile hives: nesting, entries per subkey list, bytes per value, warnings kept. */
const MAX_DEPTH = 512;
const MAX_LIST_ENTRIES = 500_000;
const MAX_RI_NESTING = 4;
const MAX_VALUE_BYTES = 16 * 1024 * 1024;
const MAX_WARNINGS = 100;

const KEY_COMP_NAME = 0x0020;
const VALUE_COMP_NAME = 0x0001;

export interface Hive {
  root(): RegKey;
  /** Damage seen so far (reading is lazy, so this grows as keys are read). At most 100 kept. */
  readonly warnings: readonly string[];
  /** Primary and secondary sequence numbers differ: the hive was not cleanly written. */
  readonly dirty: boolean;
  readonly version: string;
}

interface Nk { off: number; name: string; nSub: number; subList: number; nVal: number; valList: number }

/**
 * Opens a hive from its bytes. Throws AgentError CW_REGF_MALFORMED only when the base block or
 * the root key is unreadable; later damage becomes `warnings` and skipped keys or values.
 */
export function openHive(buf: Buffer): Hive {
  const r = new HiveReader(buf);
  const rootNk = r.nk(buf.readUInt32LE(36));
  if (!rootNk) throw new AgentError('CW_REGF_MALFORMED', `root key cell unreadable (${r.warnings.at(-1) ?? 'no detail'})`);
  const root = new RegfKey(r, rootNk, 0, undefined);
  return { root: () => root, warnings: r.warnings, dirty: r.dirty, version: r.version };
}

class HiveReader {
  readonly warnings: string[] = [];
  readonly dirty: boolean;
  readonly version: string;
  /** End of readable cell data: the declared hive bins size, or the file end if shorter. */
  readonly end: number;

  constructor(readonly buf: Buffer) {
    if (buf.length < BASE + 32) throw new AgentError('CW_REGF_MALFORMED', `file is ${buf.length} bytes, smaller than a base block and one hive bin`);
    if (buf.toString('latin1', 0, 4) !== 'regf') throw new AgentError('CW_REGF_MALFORMED', 'no "regf" signature');
    const major = buf.readUInt32LE(20), minor = buf.readUInt32LE(24);
    this.version = `${major}.${minor}`;
    if (major !== 1) throw new AgentError('CW_REGF_MALFORMED', `unsupported format version ${this.version}`);
    this.dirty = buf.readUInt32LE(4) !== buf.readUInt32LE(8);
    if (this.dirty) this.warn('hive is dirty (sequence numbers differ); transaction logs were not applied');
    if (checksum(buf) !== buf.readUInt32LE(508)) this.warn('base block checksum mismatch');
    if (buf.toString('latin1', BASE, BASE + 4) !== 'hbin') this.warn('first hive bin has no "hbin" signature');
    const declared = buf.readUInt32LE(40);
    if (BASE + declared > buf.length) this.warn(`hive truncated: ${declared} bytes of hive bins declared, ${buf.length - BASE} present`);
    this.end = declared > 0 && BASE + declared <= buf.length ? BASE + declared : buf.length;
  }

  warn(msg: string): void {
    if (this.warnings.length < MAX_WARNINGS && !this.warnings.includes(msg)) this.warnings.push(msg);
  }

  /** Data of the cell at `off` (size field excluded), or undefined (with a warning) if out of bounds. */
  cell(off: number, what: string): Buffer | undefined {
    const abs = BASE + off;
    if (off === NO_CELL || abs + 4 > this.end) { this.warn(`${what} cell offset 0x${off.toString(16)} outside the hive`); return undefined; }
    // Allocated cells have a negative size; a positive one is a free cell, read anyway (some tools leave them).
    const size = Math.abs(this.buf.readInt32LE(abs));
    if (size < 8 || abs + size > this.end) { this.warn(`${what} cell at 0x${off.toString(16)} has bad size ${size}`); return undefined; }
    return this.buf.subarray(abs + 4, abs + size);
  }

  nk(off: number): Nk | undefined {
    const d = this.cell(off, 'key');
    if (!d) return undefined;
    if (d.length < 76 || d.toString('latin1', 0, 2) !== 'nk') { this.warn(`cell at 0x${off.toString(16)} is not a key (nk)`); return undefined; }
    const nameLen = d.readUInt16LE(72);
    if (76 + nameLen > d.length) { this.warn(`key at 0x${off.toString(16)}: name runs past its cell`); return undefined; }
    const name = decodeName(d.subarray(76, 76 + nameLen), (d.readUInt16LE(2) & KEY_COMP_NAME) !== 0);
    return { off, name, nSub: d.readUInt32LE(20), subList: d.readUInt32LE(28), nVal: d.readUInt32LE(36), valList: d.readUInt32LE(40) };
  }

  /**
   * Key cell offsets of a subkey list (lf, lh, li, or ri of those). `seen` holds list cells
   * already walked, so a list that points back into itself is read once.
   */
  listOffsets(off: number, out: number[], seen: Set<number>, level = 0): void {
    if (seen.has(off)) { this.warn(`subkey list 0x${off.toString(16)} is referenced twice (cycle)`); return; }
    seen.add(off);
    const d = this.cell(off, 'subkey list');
    if (!d) return;
    const sig = d.toString('latin1', 0, 2), count = d.readUInt16LE(2);
    const width = sig === 'lf' || sig === 'lh' ? 8 : sig === 'li' || sig === 'ri' ? 4 : 0;
    if (width === 0) { this.warn(`cell at 0x${off.toString(16)} is not a subkey list (${JSON.stringify(sig)})`); return; }
    const n = Math.min(count, Math.floor((d.length - 4) / width));
    if (n < count) this.warn(`subkey list 0x${off.toString(16)}: ${count} entries declared, ${n} fit in its cell`);
    for (let i = 0; i < n; i++) {
      if (out.length >= MAX_LIST_ENTRIES) { this.warn(`subkey list 0x${off.toString(16)}: more than ${MAX_LIST_ENTRIES} entries`); return; }
      const entry = d.readUInt32LE(4 + i * width);
      if (sig !== 'ri') out.push(entry);
      else if (level < MAX_RI_NESTING) this.listOffsets(entry, out, seen, level + 1);
      else this.warn(`subkey index (ri) nested deeper than ${MAX_RI_NESTING}`);
    }
  }

  values(nk: Nk): RegValue[] {
    if (nk.nVal === 0) return [];
    const list = this.cell(nk.valList, 'value list');
    if (!list) return [];
    const n = Math.min(nk.nVal, Math.floor(list.length / 4));
    if (n < nk.nVal) this.warn(`key ${JSON.stringify(nk.name)}: ${nk.nVal} values declared, ${n} fit in the value list`);
    const out: RegValue[] = [];
    for (let i = 0; i < n; i++) {
      const v = this.vk(list.readUInt32LE(i * 4));
      if (v) out.push(v);
    }
    return out;
  }

  vk(off: number): RegValue | undefined {
    const d = this.cell(off, 'value');
    if (!d) return undefined;
    if (d.length < 20 || d.toString('latin1', 0, 2) !== 'vk') { this.warn(`cell at 0x${off.toString(16)} is not a value (vk)`); return undefined; }
    const nameLen = d.readUInt16LE(2);
    if (20 + nameLen > d.length) { this.warn(`value at 0x${off.toString(16)}: name runs past its cell`); return undefined; }
    const name = decodeName(d.subarray(20, 20 + nameLen), (d.readUInt16LE(16) & VALUE_COMP_NAME) !== 0);
    const type = d.readUInt32LE(12);
    const raw = this.valueBytes(d, name);
    return raw ? { name, type, data: decodeData(type, raw) } : undefined;
  }

  /** Value bytes: inline in the vk cell (≤ 4 bytes, size high bit set), one data cell, or big data (db). */
  valueBytes(vk: Buffer, name: string): Buffer | undefined {
    const sizeField = vk.readUInt32LE(4), dataOff = vk.readUInt32LE(8);
    if (sizeField & 0x80000000) return Buffer.from(vk.subarray(8, 8 + Math.min(sizeField & 0x7fffffff, 4)));
    if (sizeField === 0) return Buffer.alloc(0);
    if (sizeField > MAX_VALUE_BYTES) { this.warn(`value ${JSON.stringify(name)}: ${sizeField} bytes exceeds the ${MAX_VALUE_BYTES}-byte limit`); return undefined; }
    const d = this.cell(dataOff, `value ${JSON.stringify(name)} data`);
    if (!d) return undefined;
    if (sizeField > DB_SEGMENT && d.length >= 8 && d.toString('latin1', 0, 2) === 'db') return this.bigData(d, sizeField, name);
    if (d.length < sizeField) this.warn(`value ${JSON.stringify(name)}: ${sizeField} bytes declared, cell holds ${d.length}`);
    return Buffer.from(d.subarray(0, Math.min(sizeField, d.length)));
  }

  /** Concatenates the segments of a big-data (db) value, each at most 16344 bytes. */
  bigData(db: Buffer, size: number, name: string): Buffer | undefined {
    const count = db.readUInt16LE(2);
    const list = this.cell(db.readUInt32LE(4), `value ${JSON.stringify(name)} segment list`);
    if (!list) return undefined;
    const parts: Buffer[] = [];
    let have = 0;
    for (let i = 0; i < count && i < list.length / 4 && have < size; i++) {
      const seg = this.cell(list.readUInt32LE(i * 4), `value ${JSON.stringify(name)} segment`);
      if (!seg) return undefined;
      const take = seg.subarray(0, Math.min(seg.length, DB_SEGMENT, size - have));
      parts.push(take);
      have += take.length;
    }
    if (have < size) this.warn(`value ${JSON.stringify(name)}: big data has ${have} of ${size} bytes`);
    return Buffer.concat(parts);
  }
}

class RegfKey implements RegKey {
  readonly name: string;
  constructor(private readonly r: HiveReader, private readonly nk: Nk, private readonly depth: number,
    private readonly parent: RegfKey | undefined) {
    this.name = nk.name;
  }

  /** Offsets of this key's subkey cells (bounded, each list cell read once). */
  private childOffsets(): number[] {
    const out: number[] = [];
    if (this.nk.nSub === 0) return out;
    if (this.depth >= MAX_DEPTH) { this.r.warn(`keys nested deeper than ${MAX_DEPTH}; deeper keys skipped`); return out; }
    this.r.listOffsets(this.nk.subList, out, new Set());
    return out;
  }

  /** A key that is its own ancestor would make every recursive walk endless: skipped. */
  private isAncestor(off: number): boolean {
    for (let k: RegfKey | undefined = this; k; k = k.parent) if (k.nk.off === off) return true;
    return false;
  }

  private child(off: number): RegfKey | undefined {
    if (this.isAncestor(off)) { this.r.warn(`key ${JSON.stringify(this.name)} lists an ancestor as subkey (cycle)`); return undefined; }
    const nk = this.r.nk(off);
    return nk ? new RegfKey(this.r, nk, this.depth + 1, this) : undefined;
  }

  subkeys(): RegKey[] {
    const out: RegKey[] = [];
    for (const off of this.childOffsets()) {
      const k = this.child(off);
      if (k) out.push(k);
    }
    return out;
  }

  subkey(path: string): RegKey | undefined {
    return walkPath(this, path, (k, part) => (k as RegfKey).named(part));
  }

  private named(part: string): RegKey | undefined {
    for (const off of this.childOffsets()) {
      const nk = this.r.nk(off);
      if (nk && sameName(nk.name, part)) return this.child(off);
    }
    return undefined;
  }

  values(): RegValue[] {
    return this.r.values(this.nk);
  }

  value(name: string): RegValue | undefined {
    return this.values().find((v) => sameName(v.name, name));
  }
}

/** Compressed names are one byte per character (Latin-1, as Windows' ASCII + ANSI range); others UTF-16LE. */
function decodeName(b: Buffer, compressed: boolean): string {
  return compressed ? b.toString('latin1') : b.toString('utf16le', 0, b.length & ~1);
}

/** UTF-16LE up to the first NUL (a string value's terminator, or garbage after it). */
function utf16z(b: Buffer): string {
  const s = b.toString('utf16le', 0, b.length & ~1);
  const nul = s.indexOf('\0');
  return nul < 0 ? s : s.slice(0, nul);
}

function decodeData(type: number, raw: Buffer): RegData {
  switch (type) {
    case 1: case 2: case 6: return utf16z(raw);
    case 7: {
      // Strings separated by NUL, the list ended by an empty string.
      const parts = raw.toString('utf16le', 0, raw.length & ~1).split('\0');
      const end = parts.indexOf('');
      return end < 0 ? parts : parts.slice(0, end);
    }
    case 4: return raw.length === 4 ? raw.readUInt32LE(0) : raw;
    case 5: return raw.length === 4 ? raw.readUInt32BE(0) : raw;
    case 11: return raw.length === 8 ? raw.readBigUInt64LE(0) : raw;
    default: return raw;
  }
}

/** XOR of the first 127 dwords of the base block (0 → 1, -1 → -2, as Windows writes it). */
function checksum(buf: Buffer): number {
  let x = 0;
  for (let i = 0; i < 508; i += 4) x ^= buf.readUInt32LE(i);
  x >>>= 0;
  return x === 0 ? 1 : x === 0xffffffff ? 0xfffffffe : x;
}
