/**
 * Defensive PE32/PE32+ header parser: just enough of the layout to compute an Authenticode
 * digest and find the signatures (DOS header → NT headers → optional header → data
 * directories → section table → security directory with every WIN_CERTIFICATE entry).
 * Reads only what it parses — the headers, the section table and the attribute certificate
 * table — through a ByteReader (a Buffer, or a file read at offsets: bytes.ts), so a PE of any
 * size costs a few KB here; pe-digest.ts streams the rest into the hashes. Every offset is bounds-checked
 * against the file size, because the input is hostile by assumption; bad input throws
 * AgentError CW_PE_TRUNCATED (a structure runs past the end) or CW_PE_MALFORMED (fields
 * contradict each other).
 * Layout: Microsoft "PE Format" (learn.microsoft.com/windows/win32/debug/pe-format) and
 * "Windows Authenticode Portable Executable Signature Format" (Authenticode_PE.docx).
 */
import { AgentError } from '../errors.js';
import { bufferBytes, type ByteReader } from './bytes.js';

export const PE32_MAGIC = 0x10b;
export const PE32PLUS_MAGIC = 0x20b;
/** WIN_CERT_TYPE_PKCS_SIGNED_DATA: the only certificate type Authenticode uses. */
export const WIN_CERT_TYPE_PKCS_SIGNED_DATA = 0x0002;
const SECURITY_DIR = 4;
const MAX_SECTIONS = 96; // the loader's own limit; more means a crafted file
/**
 * Largest attribute certificate table read: real ones hold a few signatures in tens of KB
 * (a few MB with padding tricks); a bigger one is a crafted file that must not cost its size.
 */
export const MAX_CERT_TABLE_BYTES = 32 * 1024 * 1024;

export interface DataDirectory { rva: number; size: number }

export interface Section {
  name: string;
  virtualAddress: number;
  virtualSize: number;
  rawOffset: number;
  rawSize: number;
}

export interface WinCertificate {
  /** File offset of the 8-byte WIN_CERTIFICATE header. */
  offset: number;
  /** dwLength as declared (header included). */
  length: number;
  revision: number;
  type: number;
  /** bCertificate: dwLength − 8 bytes (may hold padding or smuggled data after the DER). */
  data: Buffer;
}

export interface PeInfo {
  magic: typeof PE32_MAGIC | typeof PE32PLUS_MAGIC;
  machine: number;
  /** File offset of OptionalHeader.CheckSum (4 bytes, skipped by the digest). */
  checksumOffset: number;
  /** File offset of the security directory entry (8 bytes, skipped by the digest). */
  securityDirOffset: number;
  sizeOfHeaders: number;
  directories: DataDirectory[];
  sections: Section[];
  /** Security directory as declared: a file offset (not an RVA) and a size; size 0 = unsigned. */
  certTable: { offset: number; size: number };
  certificates: WinCertificate[];
  /** End of the raw data of the last section (or of the headers): where the image ends. */
  imageEnd: number;
  /** File size in bytes. */
  size: number;
  /** The attribute certificate table's bytes (empty when unsigned); entries' data are views into it. */
  certTableBytes: Buffer;
}

function need(size: number, offset: number, len: number, what: string): void {
  if (offset < 0 || len < 0 || offset + len > size) {
    throw new AgentError('CW_PE_TRUNCATED', `${what} at ${offset}+${len} runs past end of file (${size})`);
  }
}

/** Bounds-checked read. */
function take(src: ByteReader, offset: number, len: number, what: string): Buffer {
  need(src.size, offset, len, what);
  return src.read(offset, len);
}

/** True when the buffer starts like a PE image ("MZ" and a "PE\0\0" where e_lfanew points). */
export function looksLikePe(buf: Buffer): boolean {
  if (buf.length < 0x40 || buf.readUInt16LE(0) !== 0x5a4d) return false;
  const lfanew = buf.readUInt32LE(0x3c);
  return lfanew + 4 <= buf.length && buf.readUInt32LE(lfanew) === 0x00004550;
}

/** Parse the headers of a PE image. Throws AgentError on truncated or inconsistent input. */
export function parsePe(input: Buffer | ByteReader): PeInfo {
  const src = Buffer.isBuffer(input) ? bufferBytes(input) : input;
  const dos = take(src, 0, 0x40, 'DOS header');
  if (dos.readUInt16LE(0) !== 0x5a4d) throw new AgentError('CW_PE_MALFORMED', 'no MZ signature');
  const lfanew = dos.readUInt32LE(0x3c);
  const nt = take(src, lfanew, 24, 'NT headers');
  if (nt.readUInt32LE(0) !== 0x00004550) throw new AgentError('CW_PE_MALFORMED', 'no PE signature');
  const machine = nt.readUInt16LE(4);
  const nSections = nt.readUInt16LE(6);
  const optSize = nt.readUInt16LE(20);
  const opt = lfanew + 24;
  const oh = take(src, opt, optSize, 'optional header');
  if (optSize < 2) throw new AgentError('CW_PE_MALFORMED', 'optional header missing');
  const magic = oh.readUInt16LE(0);
  if (magic !== PE32_MAGIC && magic !== PE32PLUS_MAGIC) {
    throw new AgentError('CW_PE_MALFORMED', `optional header magic 0x${magic.toString(16)}`);
  }
  const ddRel = magic === PE32_MAGIC ? 96 : 112;
  if (optSize < ddRel) throw new AgentError('CW_PE_MALFORMED', `optional header too small (${optSize})`);
  const nDirs = oh.readUInt32LE(ddRel - 4);
  // Only directories inside the declared optional header count: the loader ignores the rest.
  const dirCount = Math.min(nDirs, 16, Math.floor((optSize - ddRel) / 8));
  const directories: DataDirectory[] = [];
  for (let i = 0; i < dirCount; i++) {
    directories.push({ rva: oh.readUInt32LE(ddRel + i * 8), size: oh.readUInt32LE(ddRel + i * 8 + 4) });
  }
  if (dirCount <= SECURITY_DIR) throw new AgentError('CW_PE_MALFORMED', `only ${dirCount} data directories, no security directory`);
  const sizeOfHeaders = oh.readUInt32LE(60);
  const sections = parseSections(src, opt + optSize, nSections);
  const sec = directories[SECURITY_DIR]!;
  const certTable = { offset: sec.size === 0 ? 0 : sec.rva, size: sec.size };
  const certTableBytes = readCertTable(src, certTable.offset, certTable.size);
  const certificates = parseCertTable(certTableBytes, certTable.offset);
  let imageEnd = Math.min(sizeOfHeaders, src.size);
  for (const s of sections) if (s.rawSize > 0) imageEnd = Math.max(imageEnd, s.rawOffset + s.rawSize);
  return {
    magic, machine, checksumOffset: opt + 64, securityDirOffset: opt + ddRel + SECURITY_DIR * 8, sizeOfHeaders,
    directories, sections, certTable, certificates, imageEnd, size: src.size, certTableBytes,
  };
}

function parseSections(src: ByteReader, off: number, n: number): Section[] {
  if (n > MAX_SECTIONS) throw new AgentError('CW_PE_MALFORMED', `${n} sections`);
  const table = take(src, off, n * 40, 'section table');
  const out: Section[] = [];
  for (let i = 0; i < n; i++) {
    const o = i * 40;
    const raw = table.subarray(o, o + 8);
    const nul = raw.indexOf(0);
    const s: Section = {
      name: raw.subarray(0, nul < 0 ? 8 : nul).toString('latin1'),
      virtualSize: table.readUInt32LE(o + 8),
      virtualAddress: table.readUInt32LE(o + 12),
      rawSize: table.readUInt32LE(o + 16),
      rawOffset: table.readUInt32LE(o + 20),
    };
    if (s.rawSize > 0) need(src.size, s.rawOffset, s.rawSize, `section ${s.name}`);
    out.push(s);
  }
  return out;
}

/** The table's bytes; it must lie wholly inside the file and after the DOS header. */
function readCertTable(src: ByteReader, offset: number, size: number): Buffer {
  if (size === 0) return Buffer.alloc(0);
  need(src.size, offset, size, 'certificate table');
  if (offset < 0x40 || size < 8) throw new AgentError('CW_PE_MALFORMED', `certificate table at ${offset} size ${size}`);
  if (size > MAX_CERT_TABLE_BYTES) throw new AgentError('CW_PE_MALFORMED', `certificate table of ${size} bytes exceeds ${MAX_CERT_TABLE_BYTES}`);
  return src.read(offset, size);
}

/**
 * Every WIN_CERTIFICATE entry of the attribute certificate table (entries are 8-byte aligned;
 * shim carries two). `base` is the table's file offset.
 */
function parseCertTable(table: Buffer, base: number): WinCertificate[] {
  const out: WinCertificate[] = [];
  let o = 0;
  while (o + 8 <= table.length) {
    const length = table.readUInt32LE(o);
    if (length < 8 || o + length > table.length) {
      throw new AgentError('CW_PE_MALFORMED', `WIN_CERTIFICATE at ${base + o} declares ${length} bytes, table ends at ${base + table.length}`);
    }
    out.push({ offset: base + o, length, revision: table.readUInt16LE(o + 4), type: table.readUInt16LE(o + 6), data: table.subarray(o + 8, o + length) });
    if (out.length > 16) throw new AgentError('CW_PE_MALFORMED', 'more than 16 WIN_CERTIFICATE entries');
    o += Math.ceil(length / 8) * 8;
  }
  return out;
}
