/**
 * One file → one SignatureItem (packages/shared/src/inventory/signature.ts): sniff the format
 * (PE, MSI, Mach-O), verify every signature it carries and report the worst verdict with a
 * reason in words, signatures outermost first. Malformed input is a verdict, never a throw;
 * only I/O failures (unreadable, too large) throw, as AgentError, for the caller to report.
 * verifyBuffer is the pure core; verifyFile adds the read.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { SignatureInfo, SignatureItem, Verdict } from '@chainwatch/shared';
import { AgentError } from '../errors.js';
import { imageDigest, trailingBytes, type DigestName } from './authenticode.js';
import type { CatalogIndex } from './catalog.js';
import { flatten, judgeAuthenticode, worse, type JudgeContext } from './judge.js';
import { parsePe, WIN_CERT_TYPE_PKCS_SIGNED_DATA, type PeInfo } from './pe.js';
import { parseAuthenticode } from './pkcs7.js';
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
  let out: SignatureItem;
  try {
    const ctx = contextOf(opts);
    // The MSI (cfb) and Mach-O (pkijs) readers are imported on their first file: a scan of a
    // Windows or Linux tree never meets a Mach-O file and should not hold its parser in memory.
    if (format === 'pe') out = verifyPe(buf, path, ctx, opts.catalogs);
    else if (format === 'msi') out = { ...item(path, format, 'unsigned', ''), ...(await import('./msi.js')).verifyMsi(buf, ctx) };
    else if (format === 'macho') out = await verifyMachO(buf, path);
    else out = item(path, format, 'unsigned', 'not a PE, MSI or Mach-O file: no code signature format');
  } catch (err) {
    // Parsers throw AgentError for bad input; anything else is a bug, still reported as data.
    const msg = err instanceof Error ? err.message : String(err);
    out = item(path, format, 'malformed', err instanceof AgentError ? msg : `unexpected parser failure: ${msg}`);
  }
  out.sha256 = createHash('sha256').update(buf).digest('hex');
  return out;
}

/** Read a file (up to maxBytes) and verify it. Throws AgentError only for I/O failures. */
export async function verifyFile(path: string, opts: VerifyOptions = {}): Promise<SignatureItem> {
  const max = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  let buf: Buffer;
  try {
    const fh = await open(path, 'r');
    try {
      const { size } = await fh.stat();
      if (size > max) throw new AgentError('CW_FILE_TOO_LARGE', `${path}: ${size} bytes > ${max}`);
      buf = await fh.readFile();
    } finally {
      await fh.close();
    }
  } catch (err) {
    if (err instanceof AgentError) throw err;
    throw new AgentError('CW_FILE_UNREADABLE', `${path}: ${(err as Error).message}`, { cause: err });
  }
  return verifyBuffer(buf, path, opts);
}

/** Authenticode digest per algorithm, computed at most once each. */
function digester(buf: Buffer, pe: PeInfo): (alg: DigestName | null) => Buffer | null {
  const cache = new Map<DigestName, Buffer>();
  return (alg) => {
    if (alg === null) return null;
    let d = cache.get(alg);
    if (!d) { d = imageDigest(buf, pe, alg); cache.set(alg, d); }
    return d;
  };
}

function verifyPe(buf: Buffer, path: string, ctx: JudgeContext, catalogs?: CatalogIndex): SignatureItem {
  let pe: PeInfo;
  try { pe = parsePe(buf); } catch (err) {
    if (err instanceof AgentError) return item(path, 'pe', 'malformed', err.message);
    throw err;
  }
  const digest = digester(buf, pe);
  const base = item(path, 'pe', 'unsigned', '');
  base.authenticode_sha256 = digest('sha256')!.toString('hex');
  const trailing = trailingBytes(buf, pe);
  if (trailing > 0) base.trailing_bytes = trailing;
  if (pe.certificates.length === 0) return catalogOrUnsigned(base, buf, pe, digest, catalogs);
  let verdict: Verdict = 'valid';
  const reasons: string[] = [];
  for (const [i, entry] of pe.certificates.entries()) {
    if (entry.type !== WIN_CERT_TYPE_PKCS_SIGNED_DATA) { reasons.push(`entry ${i}: certificate type ${entry.type} skipped`); continue; }
    let sigs;
    try { sigs = flatten(parseAuthenticode(entry.data)); } catch (err) {
      verdict = worse(verdict, 'malformed');
      reasons.push(`entry ${i}: ${(err as Error).message}`);
      continue;
    }
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

function catalogOrUnsigned(base: SignatureItem, buf: Buffer, pe: PeInfo, digest: (a: DigestName) => Buffer | null, catalogs?: CatalogIndex): SignatureItem {
  if (catalogs && catalogs.size > 0) {
    // Catalogs may list the digest with or without the signer's zero padding to 8 bytes.
    const unpadded = (alg: DigestName): string => imageDigestUnpadded(buf, pe, alg);
    const keys = [digest('sha256')!.toString('hex'), digest('sha1')!.toString('hex'), unpadded('sha256'), unpadded('sha1')];
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

function imageDigestUnpadded(buf: Buffer, pe: PeInfo, alg: DigestName): string {
  const h = createHash(alg);
  const cs = pe.checksumOffset, sd = pe.securityDirOffset;
  h.update(buf.subarray(0, cs)).update(buf.subarray(cs + 4, sd)).update(buf.subarray(sd + 8));
  return h.digest('hex');
}

async function verifyMachO(buf: Buffer, path: string): Promise<SignatureItem> {
  const { inspectMachO } = await import('./macho.js');
  const r = inspectMachO(buf);
  const out = item(path, 'macho', r.verdict, r.reason, r.signatures);
  if (r.identifier !== undefined) out.identifier = r.identifier.slice(0, 512);
  if (r.team_id !== undefined) out.team_id = r.team_id.slice(0, 64);
  return out;
}
