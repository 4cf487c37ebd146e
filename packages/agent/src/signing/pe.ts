/**
 * Defensive PE32/PE32+ header parser: just enough of the layout to compute an Authenticode
 * digest and find the signatures (DOS header → NT headers → optional header → data
 * directories → section table → security directory with every WIN_CERTIFICATE entry).
 * Pure: works on a Buffer the caller read whole. Every offset is bounds-checked, because
 * the input is hostile by assumption; bad input throws AgentError CW_PE_TRUNCATED (a
 * structure runs past the end) or CW_PE_MALFORMED (fields contradict each other).
 * Layout: Microsoft "PE Format" (learn.microsoft.com/windows/win32/debug/pe-format) and
 * "Windows Authenticode Portable Executable Signature Format" (Authenticode_PE.docx).
 */
import { AgentError } from '../errors.js';

export const PE32_MAGIC = 0x10b;
export const PE32PLUS_MAGIC = 0x20b;
/** WIN_CERT_TYPE_PKCS_SIGNED_DATA: the only certificate type Authenticode uses. */
export const WIN_CERT_TYPE_PKCS_SIGNED_DATA = 0x0002;
const SECURITY_DIR = 4;
const MAX_SECTIONS = 96; // the loader's own limit; more means a crafted file

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
}

function need(buf: Buffer, offset: number, len: number, what: string): void {
  if (offset < 0 || len < 0 || offset + len > buf.length) {
    throw new AgentError('CW_PE_TRUNCATED', `${what} at ${offset}+${len} runs past end of file (${buf.length})`);
  }
}

/** True when the buffer starts like a PE image ("MZ" and a "PE\0\0" where e_lfanew points). */
export function looksLikePe(buf: Buffer): boolean {
  if (buf.length < 0x40 || buf.readUInt16LE(0) !== 0x5a4d) return false;
  const lfanew = buf.readUInt32LE(0x3c);
  return lfanew + 4 <= buf.length && buf.readUInt32LE(lfanew) === 0x00004550;
}

/** Parse the headers of a PE image. Throws AgentError on truncated or inconsistent input. */
export function parsePe(buf: Buffer): PeInfo {
  need(buf, 0, 0x40, 'DOS header');
  if (buf.readUInt16LE(0) !== 0x5a4d) throw new AgentError('CW_PE_MALFORMED', 'no MZ signature');
  const lfanew = buf.readUInt32LE(0x3c);
  need(buf, lfanew, 24, 'NT headers');
  if (buf.readUInt32LE(lfanew) !== 0x00004550) throw new AgentError('CW_PE_MALFORMED', 'no PE signature');
  const machine = buf.readUInt16LE(lfanew + 4);
  const nSections = buf.readUInt16LE(lfanew + 6);
  const optSize = buf.readUInt16LE(lfanew + 20);
  const opt = lfanew + 24;
  need(buf, opt, optSize, 'optional header');
  if (optSize < 2) throw new AgentError('CW_PE_MALFORMED', 'optional header missing');
  const magic = buf.readUInt16LE(opt);
  if (magic !== PE32_MAGIC && magic !== PE32PLUS_MAGIC) {
    throw new AgentError('CW_PE_MALFORMED', `optional header magic 0x${magic.toString(16)}`);
  }
  const ddOff = opt + (magic === PE32_MAGIC ? 96 : 112);
  if (optSize < ddOff - opt) throw new AgentError('CW_PE_MALFORMED', `optional header too small (${optSize})`);
  const nDirs = buf.readUInt32LE(ddOff - 4);
  // Only directories inside the declared optional header count: the loader ignores the rest.
  const dirCount = Math.min(nDirs, 16, Math.floor((opt + optSize - ddOff) / 8));
  const directories: DataDirectory[] = [];
  for (let i = 0; i < dirCount; i++) {
    directories.push({ rva: buf.readUInt32LE(ddOff + i * 8), size: buf.readUInt32LE(ddOff + i * 8 + 4) });
  }
  if (dirCount <= SECURITY_DIR) throw new AgentError('CW_PE_MALFORMED', `only ${dirCount} data directories, no security directory`);
  const sizeOfHeaders = buf.readUInt32LE(opt + 60);
  const sections = parseSections(buf, opt + optSize, nSections);
  const sec = directories[SECURITY_DIR]!;
  const certTable = { offset: sec.size === 0 ? 0 : sec.rva, size: sec.size };
  const certificates = parseCertTable(buf, certTable.offset, certTable.size);
  let imageEnd = Math.min(sizeOfHeaders, buf.length);
  for (const s of sections) if (s.rawSize > 0) imageEnd = Math.max(imageEnd, s.rawOffset + s.rawSize);
  return {
    magic, machine, checksumOffset: opt + 64, securityDirOffset: ddOff + SECURITY_DIR * 8, sizeOfHeaders,
    directories, sections, certTable, certificates, imageEnd,
  };
}

function parseSections(buf: Buffer, off: number, n: number): Section[] {
  if (n > MAX_SECTIONS) throw new AgentError('CW_PE_MALFORMED', `${n} sections`);
  need(buf, off, n * 40, 'section table');
  const out: Section[] = [];
  for (let i = 0; i < n; i++) {
    const o = off + i * 40;
    const raw = buf.subarray(o, o + 8);
    const nul = raw.indexOf(0);
    const s: Section = {
      name: raw.subarray(0, nul < 0 ? 8 : nul).toString('latin1'),
      virtualSize: buf.readUInt32LE(o + 8),
      virtualAddress: buf.readUInt32LE(o + 12),
      rawSize: buf.readUInt32LE(o + 16),
      rawOffset: buf.readUInt32LE(o + 20),
    };
    if (s.rawSize > 0) need(buf, s.rawOffset, s.rawSize, `section ${s.name}`);
    out.push(s);
  }
  return out;
}

/**
 * Every WIN_CERTIFICATE entry of the attribute certificate table (entries are 8-byte aligned;
 * shim carries two). The table must lie wholly inside the file and after the headers.
 */
function parseCertTable(buf: Buffer, offset: number, size: number): WinCertificate[] {
  if (size === 0) return [];
  need(buf, offset, size, 'certificate table');
  if (offset < 0x40 || size < 8) throw new AgentError('CW_PE_MALFORMED', `certificate table at ${offset} size ${size}`);
  const end = offset + size;
  const out: WinCertificate[] = [];
  let o = offset;
  while (o + 8 <= end) {
    const length = buf.readUInt32LE(o);
    if (length < 8 || o + length > end) {
      throw new AgentError('CW_PE_MALFORMED', `WIN_CERTIFICATE at ${o} declares ${length} bytes, table ends at ${end}`);
    }
    out.push({ offset: o, length, revision: buf.readUInt16LE(o + 4), type: buf.readUInt16LE(o + 6), data: buf.subarray(o + 8, o + length) });
    if (out.length > 16) throw new AgentError('CW_PE_MALFORMED', 'more than 16 WIN_CERTIFICATE entries');
    o += Math.ceil(length / 8) * 8;
  }
  return out;
}
