/**
 * Mach-O code signatures, read without macOS: thin (32/64-bit, either byte order) and
 * universal ("fat", 32- and 64-bit headers) binaries. The 3CX macOS app shipped a trojanised
 * libffmpeg.dylib signed with 3CX's own Developer ID, so the signer and the CodeDirectory are
 * what an indicator matches and what a patched binary breaks.
 *
 * Layout: <mach-o/loader.h>, <mach-o/fat.h>, and Apple's xnu osfmk/kern/cs_blobs.h for the
 * code signature (SuperBlob 0xfade0cc0 → CodeDirectory 0xfade0c02, requirements, entitlements,
 * CMS 0xfade0b01). The CMS is a detached SignedData over the CodeDirectory; its messageDigest
 * (and Apple's CDHashes2 attribute, 1.2.840.113635.100.9.2) pin the CodeDirectory, whose page
 * hashes pin the code. Checked here: every code page, the in-signature special slots, the
 * messageDigest/CDHashes2 against the CodeDirectories, and the signer's signature over its
 * signed attributes (node:crypto). Not checked: Info.plist and resource seals (files outside
 * this buffer), the timestamp authority's own signature, and chain trust unless the caller
 * passes trusted roots (Apple's roots are not bundled).
 *
 * Pure: bytes in, facts out, through a ByteReader (bytes.ts): the load commands and the code
 * signature are read at their offsets and the code pages streamed through their hashes in
 * bounded chunks, so a universal binary of hundreds of MB costs about one chunk here. Hostile
 * input is assumed: every offset is bounds-checked and bad structures end as verdict
 * 'malformed' (AgentError CW_MACHO_MALFORMED inside), never a throw.
 */
import { createHash, verify as cryptoVerify, constants as cryptoConstants } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import type { SignatureInfo, Verdict } from '@chainwatch/shared';
import { AgentError } from '../errors.js';
import { bufferBytes, DIGEST_CHUNK, type ByteReader } from './bytes.js';
import { allowsCodeSigning, parseCert, type Cert } from './x509.js';

const MH_MAGIC = 0xfeedface, MH_MAGIC_64 = 0xfeedfacf, MH_CIGAM = 0xcefaedfe, MH_CIGAM_64 = 0xcffaedfe;
const FAT_MAGIC = 0xcafebabe, FAT_MAGIC_64 = 0xcafebabf;
const LC_CODE_SIGNATURE = 0x1d;
const CSMAGIC_EMBEDDED_SIGNATURE = 0xfade0cc0;
const CSMAGIC_CODEDIRECTORY = 0xfade0c02;
const CSMAGIC_BLOBWRAPPER = 0xfade0b01;
const CSSLOT_CODEDIRECTORY = 0, CSSLOT_ALTERNATE_FIRST = 0x1000, CSSLOT_ALTERNATE_LAST = 0x1004;
const CSSLOT_SIGNATURESLOT = 0x10000;
/** Special slots whose blobs live inside the signature (requirements, entitlements, DER entitlements). */
const CHECKABLE_SPECIAL_SLOTS = [2, 5, 7];
export const CS_ADHOC = 0x2;
export const CS_LINKER_SIGNED = 0x20000;
/** Apple caps fat binaries at a handful of slices; a Java class file (same magic) shows ≥ 45. */
const MAX_FAT_ARCHS = 32;
const MAX_LOAD_COMMANDS = 4096;
const MAX_BLOBS = 64;
/**
 * Largest code signature read: page hashes of a 1 GB binary take ~8 MB per CodeDirectory; a
 * bigger one is a crafted file that must not cost its size.
 */
export const MAX_SIGNATURE_BYTES = 64 * 1024 * 1024;

const OID_SIGNED_DATA = '1.2.840.113549.1.7.2';
const OID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';
const OID_CDHASHES2 = '1.2.840.113635.100.9.2';
const OID_TIMESTAMP_TOKEN = '1.2.840.113549.1.9.16.2.14';
const OID_RSA_PSS = '1.2.840.113549.1.1.10';

type HashName = 'sha1' | 'sha256' | 'sha384' | 'sha512';
/** CodeDirectory hashType → digest and slot width (3 is SHA-256 truncated to 20 bytes). */
const CD_HASHES: Record<number, { name: HashName; size: number }> = {
  1: { name: 'sha1', size: 20 }, 2: { name: 'sha256', size: 32 }, 3: { name: 'sha256', size: 20 }, 4: { name: 'sha384', size: 48 },
};
const DIGEST_OIDS: Record<string, HashName> = {
  '1.3.14.3.2.26': 'sha1', '2.16.840.1.101.3.4.2.1': 'sha256', '2.16.840.1.101.3.4.2.2': 'sha384', '2.16.840.1.101.3.4.2.3': 'sha512',
};
const CPU_NAMES: Record<number, string> = {
  0x7: 'i386', 0x01000007: 'x86_64', 0xc: 'arm', 0x0100000c: 'arm64', 0x0200000c: 'arm64_32', 0x12: 'ppc', 0x01000012: 'ppc64',
};

/** One CodeDirectory's facts. */
export interface CodeDirectoryInfo {
  slot: number;
  version: number;
  flags: number;
  identifier: string;
  teamId?: string;
  hashType: string;
  pageSize: number;
  codeSlots: number;
  /** CDHash as codesign shows it: the CodeDirectory's digest truncated to 20 bytes. */
  cdhash: string;
}

export interface SliceInfo {
  arch: string;
  offset: number;
  size: number;
  bits: 32 | 64;
  bigEndian: boolean;
  verdict: Verdict;
  reason: string;
  adhoc: boolean;
  codeDirectories: CodeDirectoryInfo[];
  signatures: SignatureInfo[];
}

export interface MachOInspection {
  verdict: Verdict;
  reason: string;
  identifier?: string;
  team_id?: string;
  signatures: SignatureInfo[];
  slices: SliceInfo[];
}

export interface MachOOptions {
  /** Decides signer expiry (default: now). */
  now?: Date;
  /** SHA-256 thumbprints of trusted roots; without them the chain is not judged. */
  trustedRoots?: ReadonlySet<string>;
}

function malformed(detail: string): AgentError {
  return new AgentError('CW_MACHO_MALFORMED', detail);
}

/** True when the bytes start like a thin or universal Mach-O (cheap sniff, first 8 bytes). */
export function isMachO(buf: Buffer): boolean {
  if (buf.length < 8) return false;
  const be = buf.readUInt32BE(0);
  if (be === FAT_MAGIC || be === FAT_MAGIC_64) {
    const n = buf.readUInt32BE(4);
    return n > 0 && n <= MAX_FAT_ARCHS;
  }
  return be === MH_MAGIC || be === MH_MAGIC_64 || be === MH_CIGAM || be === MH_CIGAM_64;
}

/**
 * Code-signing verdict of a Mach-O file. Universal binaries get the worst slice's verdict
 * (one unsigned or tampered slice is what runs on some Macs) and the union of their signers.
 * Ad-hoc signatures (CS_ADHOC, or an empty CMS blob as ld64 writes) map to 'unsigned' with
 * reason 'ad-hoc signature (no signer)': no identity vouches for the code, which is what
 * 'unsigned' means to an indicator; their page hashes are still checked, so a binary patched
 * after linking shows 'digest_mismatch' rather than passing as merely unsigned.
 */
export function inspectMachO(input: Buffer | ByteReader, opts: MachOOptions = {}): MachOInspection {
  const src = Buffer.isBuffer(input) ? bufferBytes(input) : input;
  let ranges: Array<{ offset: number; size: number }>;
  try {
    ranges = sliceRanges(src);
  } catch (err) {
    return { verdict: 'malformed', reason: reasonOf(err), signatures: [], slices: [] };
  }
  const slices = ranges.map((r) => inspectSlice(src, r.offset, r.size, opts));
  return summarize(slices);
}

function reasonOf(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 1024);
}

/** Thin file: one slice; fat: every fat_arch, bounds-checked against the file. */
function sliceRanges(src: ByteReader): Array<{ offset: number; size: number }> {
  const head = src.read(0, Math.min(src.size, 8));
  if (!isMachO(head)) throw malformed('not a Mach-O file');
  const magic = head.readUInt32BE(0);
  if (magic !== FAT_MAGIC && magic !== FAT_MAGIC_64) return [{ offset: 0, size: src.size }];
  const n = head.readUInt32BE(4);
  const wide = magic === FAT_MAGIC_64, entry = wide ? 32 : 20;
  if (8 + n * entry > src.size) throw malformed('fat header truncated');
  const table = src.read(8, n * entry);
  const out: Array<{ offset: number; size: number }> = [];
  for (let i = 0; i < n; i++) {
    const p = i * entry;
    const offset = wide ? Number(table.readBigUInt64BE(p + 8)) : table.readUInt32BE(p + 8);
    const size = wide ? Number(table.readBigUInt64BE(p + 16)) : table.readUInt32BE(p + 12);
    if (offset < 8 + n * entry || offset + size > src.size || size === 0) throw malformed(`fat slice ${i} outside the file`);
    out.push({ offset, size });
  }
  return out;
}

const SEVERITY: Verdict[] = ['bad_signature', 'digest_mismatch', 'malformed', 'expired_no_timestamp', 'untrusted_chain', 'unsigned', 'valid'];

function summarize(slices: SliceInfo[]): MachOInspection {
  const worst = [...slices].sort((a, b) => SEVERITY.indexOf(a.verdict) - SEVERITY.indexOf(b.verdict))[0]!;
  const multi = slices.length > 1;
  const out: MachOInspection = {
    verdict: worst.verdict,
    reason: (multi ? `${worst.arch}: ${worst.reason}` : worst.reason).slice(0, 1024),
    signatures: [], slices,
  };
  const seen = new Set<string>();
  for (const s of slices) {
    for (const sig of s.signatures) {
      if (!seen.has(sig.signer.sha256) && out.signatures.length < 16) { seen.add(sig.signer.sha256); out.signatures.push(sig); }
    }
  }
  const cd = slices.flatMap((s) => s.codeDirectories)[0];
  if (cd) {
    out.identifier = cd.identifier.slice(0, 512);
    if (cd.teamId !== undefined) out.team_id = cd.teamId.slice(0, 64);
  }
  return out;
}

// ---------------------------------------------------------------- one slice

/**
 * Byte-order-aware view of the start of one slice (its header and load commands, `b`), which
 * is `size` bytes long in all.
 */
class Slice {
  readonly le: boolean;
  readonly bits: 32 | 64;
  constructor(readonly b: Buffer, readonly size: number) {
    const m = b.readUInt32LE(0);
    this.le = m === MH_MAGIC || m === MH_MAGIC_64;
    this.bits = m === MH_MAGIC_64 || m === MH_CIGAM_64 ? 64 : 32;
  }
  u32(p: number): number {
    if (p < 0 || p + 4 > this.b.length) throw malformed(`read past the slice at ${p}`);
    return this.le ? this.b.readUInt32LE(p) : this.b.readUInt32BE(p);
  }
}

function inspectSlice(src: ByteReader, offset: number, size: number, opts: MachOOptions): SliceInfo {
  const info: SliceInfo = { arch: 'unknown', offset, size, bits: 64, bigEndian: false, verdict: 'malformed', reason: '', adhoc: false, codeDirectories: [], signatures: [] };
  try {
    if (size < 28) throw malformed('Mach-O header truncated');
    const b = src.read(offset, Math.min(size, 32));
    const s = new Slice(b, size);
    if (![MH_MAGIC, MH_MAGIC_64].includes(s.le ? b.readUInt32LE(0) : b.readUInt32BE(0))) throw malformed('slice is not a thin Mach-O');
    info.bits = s.bits;
    info.bigEndian = !s.le;
    info.arch = CPU_NAMES[s.u32(4)] ?? `cpu ${s.u32(4)}`;
    const cs = findCodeSignature(src, offset, s);
    if (!cs) return { ...info, verdict: 'unsigned', reason: 'no LC_CODE_SIGNATURE' };
    Object.assign(info, checkSignature(src, offset, size, cs, opts));
  } catch (err) {
    info.verdict = 'malformed';
    info.reason = reasonOf(err);
  }
  return info;
}

/**
 * LC_CODE_SIGNATURE's (dataoff, datasize), or null; every load command is bounds-checked. Reads
 * the load commands (and the 8 bytes after them, which a lying ncmds makes the loop look at).
 */
function findCodeSignature(src: ByteReader, offset: number, head: Slice): { off: number; size: number } | null {
  const header = head.bits === 64 ? 32 : 28;
  const ncmds = head.u32(16), sizeofcmds = head.u32(20);
  if (header + sizeofcmds > head.size) throw malformed('load commands run past the slice');
  if (ncmds > MAX_LOAD_COMMANDS || ncmds * 8 > sizeofcmds) throw malformed(`${ncmds} load commands in ${sizeofcmds} bytes`);
  const s = new Slice(src.read(offset, Math.min(head.size, header + sizeofcmds + 8)), head.size);
  let p = header, found: { off: number; size: number } | null = null;
  for (let i = 0; i < ncmds; i++) {
    const cmd = s.u32(p), cmdsize = s.u32(p + 4);
    if (cmdsize < 8 || cmdsize % 4 !== 0 || p + cmdsize > header + sizeofcmds) throw malformed(`load command ${i} has size ${cmdsize}`);
    if (cmd === LC_CODE_SIGNATURE) {
      if (found) throw malformed('two LC_CODE_SIGNATURE commands');
      if (cmdsize < 16) throw malformed('LC_CODE_SIGNATURE too small');
      found = { off: s.u32(p + 8), size: s.u32(p + 12) };
      if (found.off + found.size > s.size || found.size < 12) throw malformed('code signature lies outside the slice');
    }
    p += cmdsize;
  }
  return found;
}

interface Blob { type: number; bytes: Buffer }

/** SuperBlob index → blobs (big-endian whatever the slice's order, as cs_blobs.h says). */
function superBlob(sig: Buffer): Blob[] {
  if (sig.readUInt32BE(0) !== CSMAGIC_EMBEDDED_SIGNATURE) throw malformed('code signature is not an embedded-signature SuperBlob');
  const length = sig.readUInt32BE(4), count = sig.readUInt32BE(8);
  if (length > sig.length || length < 12) throw malformed('SuperBlob length exceeds its space');
  if (count > MAX_BLOBS || 12 + count * 8 > length) throw malformed(`SuperBlob index of ${count} entries`);
  const blobs: Blob[] = [];
  for (let i = 0; i < count; i++) {
    const type = sig.readUInt32BE(12 + i * 8), off = sig.readUInt32BE(16 + i * 8);
    if (off + 8 > length) throw malformed(`blob ${i} outside the SuperBlob`);
    const len = sig.readUInt32BE(off + 4);
    if (len < 8 || off + len > length) throw malformed(`blob ${i} length ${len}`);
    blobs.push({ type, bytes: sig.subarray(off, off + len) });
  }
  return blobs;
}

function checkSignature(src: ByteReader, offset: number, size: number, cs: { off: number; size: number }, opts: MachOOptions): Partial<SliceInfo> {
  if (cs.size > MAX_SIGNATURE_BYTES) throw malformed(`code signature of ${cs.size} bytes exceeds ${MAX_SIGNATURE_BYTES}`);
  const blobs = superBlob(src.read(offset + cs.off, cs.size));
  const cdBlobs = blobs.filter((x) => x.type === CSSLOT_CODEDIRECTORY || (x.type >= CSSLOT_ALTERNATE_FIRST && x.type <= CSSLOT_ALTERNATE_LAST));
  if (cdBlobs.length === 0) throw malformed('no CodeDirectory');
  const cds = cdBlobs.map((x) => parseCodeDirectory(x, size));
  const out: Partial<SliceInfo> = { codeDirectories: cds.map((c) => c.info), signatures: [] };
  for (const cd of cds) {
    const bad = checkPages(src, offset, cd) ?? checkSpecialSlots(blobs, cd);
    if (bad) return { ...out, verdict: 'digest_mismatch', reason: bad };
  }
  const primary = cds.find((c) => c.info.slot === CSSLOT_CODEDIRECTORY) ?? cds[0]!;
  const cms = blobs.find((x) => x.type === CSSLOT_SIGNATURESLOT);
  const adhoc = (primary.info.flags & CS_ADHOC) !== 0;
  if (!cms || cms.bytes.length <= 8) {
    return { ...out, adhoc: true, verdict: 'unsigned', reason: adhoc ? 'ad-hoc signature (no signer)' : 'ad-hoc signature (no signer; no CMS blob)' };
  }
  if (cms.bytes.readUInt32BE(0) !== CSMAGIC_BLOBWRAPPER) throw malformed('signature slot is not a CMS blob wrapper');
  const result = checkCms(cms.bytes.subarray(8), cds, opts);
  return { ...out, adhoc, ...result };
}

// ---------------------------------------------------------------- CodeDirectory

interface ParsedCd { info: CodeDirectoryInfo; bytes: Buffer; hash: { name: HashName; size: number }; hashOffset: number; special: number; codeLimit: number; page: number }

function parseCodeDirectory(blob: Blob, sliceLen: number): ParsedCd {
  const c = blob.bytes;
  if (c.readUInt32BE(0) !== CSMAGIC_CODEDIRECTORY || c.length < 44) throw malformed('CodeDirectory header');
  const version = c.readUInt32BE(8), flags = c.readUInt32BE(12);
  const hashOffset = c.readUInt32BE(16), identOffset = c.readUInt32BE(20);
  const special = c.readUInt32BE(24), codeSlots = c.readUInt32BE(28);
  let codeLimit = c.readUInt32BE(32);
  const hashSize = c[36]!, hashType = c[37]!, pageShift = c[39]!;
  const hash = CD_HASHES[hashType];
  if (!hash || hash.size !== hashSize) throw malformed(`CodeDirectory hash type ${hashType} / size ${hashSize}`);
  if (version >= 0x20300 && c.length >= 64 && c.readBigUInt64BE(56) !== 0n) codeLimit = Number(c.readBigUInt64BE(56));
  if (pageShift > 30) throw malformed(`page size 2^${pageShift}`);
  const page = pageShift === 0 ? Math.max(codeLimit, 1) : 2 ** pageShift;
  if (codeLimit > sliceLen) throw malformed('codeLimit beyond the slice');
  if (codeSlots !== Math.ceil(codeLimit / page)) throw malformed(`${codeSlots} code slots for ${codeLimit} bytes`);
  if (hashOffset - special * hashSize < 44 || hashOffset + codeSlots * hashSize > c.length) throw malformed('hash slots outside the CodeDirectory');
  const info: CodeDirectoryInfo = {
    slot: blob.type, version, flags, identifier: cString(c, identOffset), hashType: hashType === 3 ? 'sha256-truncated' : hash.name,
    pageSize: page, codeSlots, cdhash: createHash(hash.name).update(c).digest('hex').slice(0, 40),
  };
  const teamOffset = version >= 0x20200 && c.length >= 52 ? c.readUInt32BE(48) : 0;
  if (teamOffset !== 0) info.teamId = cString(c, teamOffset);
  return { info, bytes: c, hash, hashOffset, special, codeLimit, page };
}

function cString(b: Buffer, off: number): string {
  if (off >= b.length) throw malformed('string offset outside the CodeDirectory');
  const end = b.indexOf(0, off);
  if (end < 0) throw malformed('unterminated string in the CodeDirectory');
  return b.toString('utf8', off, Math.min(end, off + 512));
}

/**
 * First page whose hash differs, in words; null when every page matches. The code is read in
 * chunks of at most DIGEST_CHUNK, each page's hash fed across chunk boundaries (a page may be
 * as large as the whole code when pageShift is 0).
 */
function checkPages(src: ByteReader, offset: number, cd: ParsedCd): string | null {
  let page = 0, pageEnd = Math.min(cd.page, cd.codeLimit), h = createHash(cd.hash.name);
  for (let pos = 0; pos < cd.codeLimit;) {
    const data = src.read(offset + pos, Math.min(DIGEST_CHUNK, cd.codeLimit - pos));
    for (let at = 0; at < data.length;) {
      const take = Math.min(data.length - at, pageEnd - (pos + at));
      h.update(data.subarray(at, at + take));
      at += take;
      if (pos + at < pageEnd) continue;
      const want = cd.bytes.subarray(cd.hashOffset + page * cd.hash.size, cd.hashOffset + (page + 1) * cd.hash.size);
      if (!h.digest().subarray(0, cd.hash.size).equals(want)) {
        return `code page ${page} does not match its ${cd.info.hashType} hash in CodeDirectory slot ${cd.info.slot}`;
      }
      page++;
      pageEnd = Math.min(pageEnd + cd.page, cd.codeLimit);
      h = createHash(cd.hash.name);
    }
    pos += data.length;
  }
  return null;
}

/** Requirements/entitlements blobs against their special-slot hashes. */
function checkSpecialSlots(blobs: Blob[], cd: ParsedCd): string | null {
  for (const slot of CHECKABLE_SPECIAL_SLOTS) {
    if (slot > cd.special) continue;
    const want = cd.bytes.subarray(cd.hashOffset - slot * cd.hash.size, cd.hashOffset - (slot - 1) * cd.hash.size);
    const blob = blobs.find((x) => x.type === slot);
    if (want.every((x) => x === 0) && !blob) continue;
    const got = blob ? createHash(cd.hash.name).update(blob.bytes).digest().subarray(0, cd.hash.size) : Buffer.alloc(0);
    if (!got.equals(want)) return `special slot ${slot} does not match its blob`;
  }
  return null;
}

// ---------------------------------------------------------------- CMS

interface CmsResult { verdict: Verdict; reason: string; signatures: SignatureInfo[] }

function checkCms(der: Buffer, cds: ParsedCd[], opts: MachOOptions): CmsResult {
  const signed = parseSignedData(der);
  const certs: Cert[] = [];
  for (const c of signed.certificates ?? []) {
    if (c instanceof pkijs.Certificate) { try { certs.push(parseCert(new Uint8Array(c.toSchema().toBER()))); } catch { /* chain misses it */ } }
  }
  const signer = signed.signerInfos[0];
  if (!signer) return { verdict: 'bad_signature', reason: 'CMS has no SignerInfo', signatures: [] };
  const digest = DIGEST_OIDS[signer.digestAlgorithm.algorithmId];
  const cert = findSignerCert(signer, certs, digest);
  if (!cert) return { verdict: 'bad_signature', reason: 'signer certificate is not embedded', signatures: [] };
  const chain = buildChain(cert, certs);
  const sig: SignatureInfo = {
    signer: cert.identity, digest_algorithm: digest ?? signer.digestAlgorithm.algorithmId.slice(0, 32),
    timestamp: timestampOf(signer), code_signing_eku: allowsCodeSigning(cert),
    chain: chain.slice(0, 16).map((c) => c.identity), origin: 'embedded',
  };
  const problem = digest ? checkSignedAttrs(signer, digest, cds) ?? checkSignerSignature(signer, digest, cert) : `digest ${signer.digestAlgorithm.algorithmId} unsupported`;
  const { verdict, reason } = problem ? { verdict: 'bad_signature' as const, reason: problem } : judge(cert, chain, sig.timestamp, opts);
  sig.verdict = verdict;
  sig.reason = reason.slice(0, 1024);
  return { verdict, reason, signatures: [sig] };
}

function parseSignedData(der: Buffer): pkijs.SignedData {
  try {
    const top = asn1js.fromBER(der);
    if (top.offset === -1) throw malformed('CMS blob is not DER');
    const ci = new pkijs.ContentInfo({ schema: top.result });
    if (ci.contentType !== OID_SIGNED_DATA) throw malformed(`CMS content type ${ci.contentType}`);
    return new pkijs.SignedData({ schema: ci.content });
  } catch (err) {
    throw err instanceof AgentError ? err : new AgentError('CW_PKCS7_MALFORMED', reasonOf(err));
  }
}

/**
 * The certificate IssuerAndSerialNumber names. Serials are only unique per issuer, so when
 * several embedded certificates share it, the one whose key verifies the signature wins.
 */
function findSignerCert(signer: pkijs.SignerInfo, certs: Cert[], digest: HashName | undefined): Cert | null {
  const sid = signer.sid;
  if (!(sid instanceof pkijs.IssuerAndSerialNumber)) return certs[0] ?? null;
  const serial = Buffer.from(sid.serialNumber.valueBlock.valueHexView).toString('hex').replace(/^0+/, '') || '0';
  const hits = certs.filter((c) => c.identity.serial === serial);
  if (hits.length > 1 && digest && signer.signedAttrs) return hits.find((c) => checkSignerSignature(signer, digest, c) === null) ?? hits[0]!;
  return hits[0] ?? null;
}

/** messageDigest (and CDHashes2) must name one of this slice's CodeDirectories. */
function checkSignedAttrs(signer: pkijs.SignerInfo, digest: HashName, cds: ParsedCd[]): string | null {
  const attrs = signer.signedAttrs?.attributes;
  if (!attrs) return 'CMS signer has no signed attributes';
  const md = attrs.find((a) => a.type === OID_MESSAGE_DIGEST)?.values[0];
  if (!(md instanceof asn1js.OctetString)) return 'CMS signer has no messageDigest';
  const mdHex = Buffer.from(md.valueBlock.valueHexView).toString('hex');
  if (!cds.some((c) => createHash(digest).update(c.bytes).digest('hex') === mdHex)) return 'messageDigest does not match the CodeDirectory';
  const cdh2 = attrs.find((a) => a.type === OID_CDHASHES2);
  for (const v of cdh2?.values ?? []) {
    const parts = v instanceof asn1js.Sequence ? v.valueBlock.value : [];
    const alg = parts[0] instanceof asn1js.ObjectIdentifier ? DIGEST_OIDS[parts[0].valueBlock.toString()] : undefined;
    const val = parts[1] instanceof asn1js.OctetString ? Buffer.from(parts[1].valueBlock.valueHexView) : null;
    if (!alg || !val) return 'CDHashes2 attribute is malformed';
    if (!cds.some((c) => createHash(alg).update(c.bytes).digest().subarray(0, val.length).equals(val))) return 'CDHashes2 does not match the CodeDirectory';
  }
  return null;
}

function checkSignerSignature(signer: pkijs.SignerInfo, digest: HashName, cert: Cert): string | null {
  // pkijs keeps the signed attributes' encoding re-tagged as SET (0x31): exactly what was signed.
  const data = Buffer.from(signer.signedAttrs!.encodedValue);
  const signature = Buffer.from(signer.signature.valueBlock.valueHexView);
  const pss = signer.signatureAlgorithm.algorithmId === OID_RSA_PSS;
  try {
    const key = pss ? { key: cert.x509.publicKey, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: cryptoConstants.RSA_PSS_SALTLEN_AUTO } : cert.x509.publicKey;
    return cryptoVerify(digest, data, key, signature) ? null : 'CMS signature does not verify with the signer certificate';
  } catch (err) {
    return `CMS signature could not be checked: ${reasonOf(err)}`;
  }
}

/** Signer → issuer → … using only the embedded certificates (names and signatures must agree). */
function buildChain(leaf: Cert, certs: Cert[]): Cert[] {
  const chain = [leaf];
  for (let cur = leaf; chain.length < 16;) {
    if (cur.x509.checkIssued(cur.x509)) break;
    const up = certs.find((c) => !chain.includes(c) && cur.x509.checkIssued(c.x509) && safeVerify(cur, c));
    if (!up) break;
    chain.push(up);
    cur = up;
  }
  return chain;
}

function safeVerify(child: Cert, issuer: Cert): boolean {
  try { return child.x509.verify(issuer.x509.publicKey); } catch { return false; }
}

/** RFC 3161 token's genTime (the TSA's signature is not checked here). */
function timestampOf(signer: pkijs.SignerInfo): string | null {
  const tok = signer.unsignedAttrs?.attributes.find((a) => a.type === OID_TIMESTAMP_TOKEN)?.values[0];
  if (!tok) return null;
  try {
    const sd = new pkijs.SignedData({ schema: new pkijs.ContentInfo({ schema: tok }).content });
    const content = sd.encapContentInfo.eContent;
    if (!content) return null;
    const tst = pkijs.TSTInfo.fromBER(content.getValue());
    return tst.genTime.toISOString();
  } catch {
    return null;
  }
}

function judge(cert: Cert, chain: Cert[], timestamp: string | null, opts: MachOOptions): { verdict: Verdict; reason: string } {
  const now = (opts.now ?? new Date()).getTime();
  const notAfter = Date.parse(cert.identity.not_after);
  if (now > notAfter && (timestamp === null || Date.parse(timestamp) > notAfter)) {
    return { verdict: 'expired_no_timestamp', reason: `signer certificate expired ${cert.identity.not_after} and no timestamp shows it signed in time` };
  }
  if (opts.trustedRoots) {
    const top = chain[chain.length - 1]!;
    const anchored = chain.some((c) => opts.trustedRoots!.has(c.identity.sha256));
    if (!anchored) return { verdict: 'untrusted_chain', reason: `chain ends at ${top.identity.subject}, not a trusted root` };
    return { verdict: 'valid', reason: 'code, CodeDirectory and CMS signature intact; chain trusted' };
  }
  return { verdict: 'valid', reason: 'code, CodeDirectory and CMS signature intact; chain not evaluated (no trusted roots given)' };
}

