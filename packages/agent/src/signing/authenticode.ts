/**
 * What the Authenticode image digest of a parsed PE covers, and the trailing-data count that
 * exposes signature-padding tricks (the hashing itself streams the file: pe-digest.ts). The
 * digest covers the whole file except OptionalHeader.CheckSum, the security directory entry
 * and the attribute certificate table, in file order — what
 * sbsigntool and pesign compute (osslsigncode too, when the table ends the file; the spec's
 * section-by-section order gives the same bytes when sections are contiguous).
 * Trailing data: the trojanized 3CX d3dcompiler_47.dll kept a valid signature while carrying
 * an encrypted payload after the PKCS#7 DER inside its WIN_CERTIFICATE (CVE-2013-3900, opt-in
 * "EnableCertPaddingCheck" on Windows), so those bytes are counted and reported.
 */
import { WIN_CERT_TYPE_PKCS_SIGNED_DATA, type PeInfo } from './pe.js';

export type DigestName = 'md5' | 'sha1' | 'sha256' | 'sha384' | 'sha512';

/**
 * Byte ranges [start, end) that the Authenticode digest covers, in order. They never go back:
 * each starts at or after the end of the one before (pe-digest.ts hashes them in one pass).
 */
export function digestRanges(pe: PeInfo): Array<[number, number]> {
  const end = pe.certTable.size > 0 ? pe.certTable.offset : pe.size;
  const cuts = [[pe.checksumOffset, 4], [pe.securityDirOffset, 8]].sort((a, b) => a[0]! - b[0]!);
  const out: Array<[number, number]> = [];
  let pos = 0;
  for (const [off, len] of cuts) {
    if (off! >= end) break;
    out.push([pos, off!]);
    pos = off! + len!;
  }
  if (pos < end) out.push([pos, end]);
  // Data after the table: the spec hashes "File Size − (table size + bytes hashed)" bytes from
  // where hashing stopped — read literally (as pesign and sbverify do) that is the same count
  // of bytes but starting at the table. Odd, but it is the documented digest and any appended
  // byte changes it, which is the point.
  const extra = pe.size - pe.certTable.size - end;
  if (pe.certTable.size > 0 && extra > 0) out.push([end, end + extra]);
  return out;
}

/**
 * Zero bytes hashed after the image of an unsigned file: signers pad the image to 8 bytes
 * before appending the table, so the digest of an unsigned file equals the one its signed copy
 * will carry. Data appended after a table is covered (see digestRanges), as the spec, pesign and
 * sbverify do, so appending breaks the signature (osslsigncode instead ignores a signature that
 * is not at the end of the file).
 */
export function digestPadding(pe: PeInfo): number {
  return pe.certTable.size === 0 && pe.size % 8 !== 0 ? 8 - (pe.size % 8) : 0;
}

/** Total length of a DER TLV at the start of `b` (definite lengths only), or null. */
export function derTotalLength(b: Uint8Array): number | null {
  if (b.length < 2) return null;
  const l0 = b[1]!;
  if (l0 < 0x80) return 2 + l0;
  const n = l0 & 0x7f;
  if (n === 0 || n > 4 || b.length < 2 + n) return null;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + b[2 + i]!;
  return 2 + n + len;
}

function isZero(b: Uint8Array): boolean {
  for (const x of b) if (x !== 0) return false;
  return true;
}

/**
 * Bytes that are neither image nor signature: appended after the certificate table (or after
 * the last section of an unsigned image), slack in the table after its entries, and bytes
 * inside a WIN_CERTIFICATE after the PKCS#7 DER. Up to 7 zero bytes of alignment are normal.
 */
export function trailingBytes(pe: PeInfo): number {
  if (pe.certTable.size === 0) return Math.max(0, pe.size - pe.imageEnd);
  let n = Math.max(0, pe.size - (pe.certTable.offset + pe.certTable.size));
  let covered = 0;
  for (const c of pe.certificates) {
    covered += Math.ceil(c.length / 8) * 8;
    const der = c.type === WIN_CERT_TYPE_PKCS_SIGNED_DATA ? derTotalLength(c.data) : null;
    if (der === null || der > c.data.length) continue;
    const tail = c.data.subarray(der);
    if (tail.length >= 8 || !isZero(tail)) n += tail.length;
  }
  const slack = pe.certTable.size - covered;
  if (slack > 0) {
    const tail = pe.certTableBytes.subarray(covered);
    if (tail.length >= 8 || !isZero(tail)) n += tail.length;
  }
  return n;
}
