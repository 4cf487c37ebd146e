/**
 * One file → one SignatureItem (packages/shared/src/inventory/signature.ts): sniff the format
 * (PE, MSI, Mach-O), verify every signature it carries and report the worst verdict with a
 * reason in words, signatures outermost first. Malformed input is a verdict, never a throw;
 * only I/O failures (unreadable, too large) throw, as AgentError, for the caller to report.
 * verifyBuffer verifies bytes in memory; verifyFile reads PE and Mach-O files at offsets and
 * streams them through the hashes in bounded chunks (bytes.ts), so such a file of any size
 * costs about one chunk; MSI files are still read whole (cfb needs the whole compound file).
 */
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import type { SignatureInfo, SignatureItem, Verdict } from '@chainwatch/shared';
import { AgentError } from '../errors.js';
import { trailingBytes, type DigestName } from './authenticode.js';
import type { CatalogIndex } from './catalog.js';
import { flatten, judgeAuthenticode, worse, type JudgeContext } from './judge.js';
import { parsePe, WIN_CERT_TYPE_PKCS_SIGNED_DATA, type PeInfo } from './pe.js';
import { bufferBytes, bufferChunks, fileBytes, type ByteReader, type ChunkSource } from './bytes.js';
import { fileSha256, peDigests, type PeDigests } from './pe-digest.js';
import { fileChunks, peFileBytes } from './pe-file.js';
import { parseAuthenticode, type AuthenticodeSignature } from './pkcs7.js';
import { loadTrustStore, type TrustStore } from './trust.js';

export const DEFAULT_MAX_BYTES = 512 * 1024 * 1024;

export interface VerifyOptions {
  /** Extra PEM trust anchor files (`--trust FILE`). */
  trust?: readonly string[];
  /** Largest file read, in bytes (default 512 MiB). */
  maxBytes?: number;
  /** Use the system CA bundle as anchors (default true). */
  systemTrust?: boolean;
  /** A prepared trust store (overrides trust/systemTrust). */
  store?: TrustStore;
  /** Catalog index for PEs without an embedded signature. */
  catalogs?: CatalogIndex;
  /** Time the chain is judged at when no timestamp verifies (default: now). */
  now?: Date;
}

export type FileFormat = SignatureItem['format'];
export type VerifyResult = SignatureItem;

/** Format by magic bytes. 0xCAFEBABE is also a Java class; macho.ts tells them apart. */
export function sniffFormat(buf: Buffer): FileFormat {
  if (buf.length >= 2 && buf[0] === 0x4d && buf[1] === 0x5a) return 'pe';
  if (buf.length >= 8 && buf.readUInt32BE(0) === 0xd0cf11e0 && buf.readUInt32BE(4) === 0xa1b11ae1) return 'msi';
  if (buf.length >= 4) {
    const m = buf.readUInt32BE(0);
    if (m === 0xfeedface || m === 0xfeedfacf || m === 0xcefaedfe || m === 0xcffaedfe || m === 0xcafebabe || m === 0xcafebabf) return 'macho';
  }
  return 'unknown';
}

function item(path: string, format: FileFormat, verdict: Verdict, reason: string, signatures: SignatureInfo[] = []): SignatureItem {
  return { kind: 'signature', key: `signature:${path}`.slice(0, 4352), path: path.slice(0, 4096) || '-', format, verdict, reason: reason.slice(0, 1024), signatures: signatures.slice(0, 16) };
}

function contextOf(opts: VerifyOptions): JudgeContext {
  return { store: opts.store ?? loadTrustStore(opts.trust ?? [], opts.systemTrust ?? true), now: opts.now ?? new Date() };
}

/** Verify a file already in memory. Never throws for bad input. */
export async function verifyBuffer(buf: Buffer, path: string, opts: VerifyOptions = {}): Promise<SignatureItem> {
  const format = sniffFormat(buf);
  if (format === 'pe') return verifyPeBytes(bufferBytes(buf), bufferChunks(buf), path, opts);
  if (format === 'macho') return verifyMachOBytes(bufferBytes(buf), bufferChunks(buf), path, opts);
  let out: SignatureItem;
  try {
    const ctx = contextOf(opts);
    // The MSI (cfb) reader is imported on its first file, as the Mach-O one (pkijs) is: a scan of
    // a Windows or Linux tree never meets a Mach-O file and should not hold its parser in memory.
    if (format === 'msi') out = { ...item(path, format, 'unsigned', ''), ...(await import('./msi.js')).verifyMsi(buf, ctx) };
    else out = item(path, format, 'unsigned', 'not a PE, MSI or Mach-O file: no code signature format');
  } catch (err) {
    out = malformedItem(path, format, err);
  }
  out.sha256 = createHash('sha256').update(buf).digest('hex');
  return out;
}

/** Parsers throw AgentError for bad input; anything else is a bug, still reported as data. */
function malformedItem(path: string, format: FileFormat, err: unknown): SignatureItem {
  const msg = err instanceof Error ? err.message : String(err);
  return item(path, format, 'malformed', err instanceof AgentError ? msg : `unexpected parser failure: ${msg}`);
}

/** Read a file (up to maxBytes) and verify it. Throws AgentError only for I/O failures. */
export async function verifyFile(path: string, opts: VerifyOptions = {}): Promise<SignatureItem> {
  const max = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  let fh: FileHandle;
  try { fh = await open(path, 'r'); } catch (err) { throw unreadable(path, err); }
  try {
    let size: number, head: Buffer;
    try {
      size = (await fh.stat()).size;
      if (size > max) throw new AgentError('CW_FILE_TOO_LARGE', `${path}: ${size} bytes > ${max}`);
      head = Buffer.alloc(Math.min(size, 8));
      await fh.read(head, 0, head.length, 0);
    } catch (err) { throw unreadable(path, err); }
    const format = sniffFormat(head);
    if (format === 'pe' || format === 'macho') {
      try {
        if (format === 'pe') return await verifyPeBytes(peFileBytes(fh, size), fileChunks(fh, size), path, opts);
        return await verifyMachOBytes(machoFileBytes(fh, size), fileChunks(fh, size), path, opts);
      } catch (err) { throw unreadable(path, err); }
    }
    let buf: Buffer;
    try { buf = await fh.readFile(); } catch (err) { throw unreadable(path, err); }
    return await verifyBuffer(buf, path, opts);
  } finally {
    await fh.close();
  }
}

function unreadable(path: string, err: unknown): AgentError {
  if (err instanceof AgentError) return err;
  return new AgentError('CW_FILE_UNREADABLE', `${path}: ${(err as Error).message}`, { cause: err });
}

/**
 * Verify a PE. Signatures are parsed first, so that the one pass over the file hashes every
 * digest algorithm they name; the SHA-256 of the file comes from the same pass. Bad content
 * is a verdict; I/O failures throw AgentError CW_FILE_UNREADABLE.
 */
async function verifyPeBytes(bytes: ByteReader, src: ChunkSource, path: string, opts: VerifyOptions): Promise<SignatureItem> {
  let out: SignatureItem;
  try {
    const ctx = contextOf(opts);
    const pe = parsePe(bytes);
    const entries = pe.certificates.map(parseEntry);
    const catalogs = pe.certificates.length === 0 && opts.catalogs && opts.catalogs.size > 0 ? opts.catalogs : undefined;
    const digests = await peDigests(src, pe, algorithmsFor(entries, catalogs !== undefined));
    out = judgePe(pe, entries, digests, path, ctx, catalogs);
    out.sha256 = digests.fileSha256.toString('hex');
    return out;
  } catch (err) {
    if (isIoError(err)) throw err;
    out = malformedItem(path, 'pe', err);
  }
  out.sha256 = (await fileSha256(src)).toString('hex');
  return out;
}

/** A read failed (errno) or the file changed under us: not a verdict about its content. */
function isIoError(err: unknown): boolean {
  if (err instanceof AgentError) return err.code === 'CW_FILE_UNREADABLE';
  return typeof (err as NodeJS.ErrnoException | null)?.errno === 'number';
}

/** One WIN_CERTIFICATE entry: its signatures (nested flattened), or why it could not be read. */
type Entry = { skipped: number } | { sigs: AuthenticodeSignature[] } | { error: string };

function parseEntry(entry: PeInfo['certificates'][number]): Entry {
  if (entry.type !== WIN_CERT_TYPE_PKCS_SIGNED_DATA) return { skipped: entry.type };
  try { return { sigs: flatten(parseAuthenticode(entry.data)) }; } catch (err) { return { error: (err as Error).message }; }
}

/** Digests one pass must compute: SHA-256 (reported), each signature's, SHA-1 for catalogs. */
function algorithmsFor(entries: Entry[], catalogs: boolean): DigestName[] {
  const algs = new Set<DigestName>(['sha256']);
  if (catalogs) algs.add('sha1');
  for (const e of entries) if ('sigs' in e) for (const s of e.sigs) if (s.indirect.digestAlgorithm) algs.add(s.indirect.digestAlgorithm);
  return [...algs];
}

function judgePe(pe: PeInfo, entries: Entry[], digests: PeDigests, path: string, ctx: JudgeContext, catalogs?: CatalogIndex): SignatureItem {
  const digest = (alg: DigestName | null): Buffer | null => (alg === null ? null : digests.image.get(alg) ?? null);
  const base = item(path, 'pe', 'unsigned', '');
  base.authenticode_sha256 = digest('sha256')!.toString('hex');
  const trailing = trailingBytes(pe);
  if (trailing > 0) base.trailing_bytes = trailing;
  if (pe.certificates.length === 0) return catalogOrUnsigned(base, digests, catalogs);
  let verdict: Verdict = 'valid';
  const reasons: string[] = [];
  for (const [i, entry] of entries.entries()) {
    if ('skipped' in entry) { reasons.push(`entry ${i}: certificate type ${entry.skipped} skipped`); continue; }
    if ('error' in entry) {
      verdict = worse(verdict, 'malformed');
      reasons.push(`entry ${i}: ${entry.error}`);
      continue;
    }
    const sigs = entry.sigs;
    for (const [j, s] of sigs.entries()) {
      const j2 = judgeAuthenticode(s, digest(s.indirect.digestAlgorithm), ctx);
      verdict = worse(verdict, j2.verdict);
      if (j2.info) base.signatures.push(j2.info);
      reasons.push(`${sigs.length > 1 || pe.certificates.length > 1 ? `signature ${i}.${j}: ` : ''}${j2.reason}`);
      for (const e of s.nestedErrors) { verdict = worse(verdict, 'malformed'); reasons.push(`nested signature: ${e}`); }
    }
  }
  if (base.signatures.length === 0 && verdict === 'valid') verdict = 'unsigned';
  base.verdict = verdict;
  base.reason = describe(verdict, reasons, trailing).slice(0, 1024);
  base.signatures = base.signatures.slice(0, 16);
  return base;
}

function describe(verdict: Verdict, reasons: string[], trailing: number): string {
  const tail = trailing > 0 ? `; ${trailing} trailing bytes outside image and signature` : '';
  return `${verdict}: ${reasons.join('; ')}${tail}`;
}

function catalogOrUnsigned(base: SignatureItem, digests: PeDigests, catalogs?: CatalogIndex): SignatureItem {
  if (catalogs) {
    // Catalogs may list the digest with or without the signer's zero padding to 8 bytes.
    const hex = (m: Map<DigestName, Buffer>, alg: DigestName): string => m.get(alg)!.toString('hex');
    const keys = [hex(digests.image, 'sha256'), hex(digests.image, 'sha1'), hex(digests.unpadded, 'sha256'), hex(digests.unpadded, 'sha1')];
    const hit = keys.map((k) => catalogs.get(k)).find((e) => e !== undefined);
    if (hit) {
      base.verdict = hit.judged.verdict;
      base.reason = `${hit.judged.verdict}: listed in catalog ${hit.path}: ${hit.judged.reason}`.slice(0, 1024);
      if (hit.judged.info) base.signatures = [{ ...hit.judged.info }];
      return base;
    }
  }
  base.reason = 'no embedded signature (security directory is empty)';
  return base;
}

/**
 * Verify a Mach-O read at offsets (inspectMachO streams the code pages itself), then hash the
 * file in a second bounded pass: the page hashes are the CodeDirectory's, not the file's.
 */
async function verifyMachOBytes(bytes: ByteReader, src: ChunkSource, path: string, opts: VerifyOptions): Promise<SignatureItem> {
  let out: SignatureItem;
  try {
    // Unused by Mach-O (its roots are not bundled), but a bad --trust file is a verdict for
    // every format alike.
    contextOf(opts);
    const { inspectMachO } = await import('./macho.js');
    const r = inspectMachO(bytes);
    out = item(path, 'macho', r.verdict, r.reason, r.signatures);
    if (r.identifier !== undefined) out.identifier = r.identifier.slice(0, 512);
    if (r.team_id !== undefined) out.team_id = r.team_id.slice(0, 64);
  } catch (err) {
    if (isIoError(err)) throw err;
    out = malformedItem(path, 'macho', err);
  }
  out.sha256 = (await fileSha256(src)).toString('hex');
  return out;
}

/** A Mach-O cut after it was measured is malformed like any other truncated one. */
function machoFileBytes(fh: FileHandle, size: number): ByteReader {
  return fileBytes(fh, size, (detail) => new AgentError('CW_MACHO_MALFORMED', detail));
}
