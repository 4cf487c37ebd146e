/**
 * PKCS#7 / CMS SignedData as Authenticode uses it (RFC 2315, RFC 5652, Microsoft's
 * "Authenticode_PE.docx"): the SpcIndirectDataContent that carries the image digest, the signer,
 * its authenticated attributes, nested signatures (1.3.6.1.4.1.311.2.4.1), legacy
 * counter-signatures (1.2.840.113549.1.9.6) and RFC 3161 timestamps (1.3.6.1.4.1.311.3.3.1).
 * The structure is walked with der.ts (pkijs/asn1js 4.0 were too slow for the per-file budget,
 * see der.ts; forge rejects Authenticode content and EC keys); node:crypto checks every
 * signature, so RSA PKCS#1 v1.5, RSASSA-PSS and ECDSA all work.
 * Pure: bytes in, facts out. Integrity only — chain trust lives in trust.ts.
 */
import { constants, createHash, verify as cryptoVerify } from 'node:crypto';
import { expect, kid, kids, oid, parseDer, T, time, value, whole, type Tlv } from './der.js';
import { AgentError } from '../errors.js';
import { normalizeSerial } from '@chainwatch/shared/normalize';
import { parseCert, type Cert } from './x509.js';
import type { DigestName } from './authenticode.js';

export const OID_SIGNED_DATA = '1.2.840.113549.1.7.2';
export const OID_SPC_INDIRECT_DATA = '1.3.6.1.4.1.311.2.1.4';
export const OID_NESTED_SIGNATURE = '1.3.6.1.4.1.311.2.4.1';
export const OID_COUNTER_SIGNATURE = '1.2.840.113549.1.9.6';
export const OID_RFC3161_TIMESTAMP = '1.3.6.1.4.1.311.3.3.1';
const OID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';
const OID_SIGNING_TIME = '1.2.840.113549.1.9.5';
const OID_TST_INFO = '1.2.840.113549.1.9.16.1.4';
const MAX_NESTED = 15; // SignatureItem.signatures holds 16

const DIGESTS: Record<string, DigestName> = {
  '1.2.840.113549.2.5': 'md5',
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
  // Some signers put a signature OID where a digest OID belongs; OpenSSL accepts these too.
  '1.2.840.113549.1.1.5': 'sha1',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
};

export function digestName(oid: string): DigestName | null {
  return DIGESTS[oid] ?? null;
}

/** The fields of a SignerInfo (RFC 5652 §5.3) the checks need, as views into the blob. */
export interface SignerInfoRaw {
  /** Serial of IssuerAndSerialNumber (normalised hex); null for a SubjectKeyIdentifier sid. */
  serial: string | null;
  digestOid: string;
  signedAttrs: Tlv | null;
  sigOid: string;
  signature: Uint8Array;
  unsignedAttrs: Attr[];
}

export interface Attr { type: string; values: Tlv[] }

/** One SignerInfo checked against its own SignedData: content digest and signature. */
export interface SignerCheck {
  /** The certificate named by the signer's IssuerAndSerialNumber, when it is embedded. */
  signer: Cert | null;
  digestAlgorithm: DigestName | null;
  digestAlgorithmOid: string;
  /** messageDigest attribute equals the digest of the content (true when there are no attributes). */
  contentDigestOk: boolean;
  signatureOk: boolean;
  /** Why either check failed, in words. */
  problem: string | null;
  signingTime: Date | null;
  info: SignerInfoRaw;
}

/** A parsed SignedData with its raw pieces kept (digests need the exact bytes). */
export interface SignedDataView {
  contentType: string;
  /** eContent value octets (what messageDigest covers): the SEQUENCE body or OCTET STRING value. */
  content: Uint8Array;
  /** The eContent TLV, for callers that decode it further (SpcIndirectDataContent, CTL). */
  contentTlv: Tlv | null;
  certs: Cert[];
  signers: SignerCheck[];
}

function malformed(detail: string, cause?: unknown): AgentError {
  return new AgentError('CW_PKCS7_MALFORMED', detail, cause === undefined ? undefined : { cause });
}

/** Raw DER of each certificate in SignedData.certificates ([0] IMPLICIT SET OF). */
function certificatesOf(set: Tlv | undefined): Cert[] {
  const out: Cert[] = [];
  for (const c of set ? kids(set) : []) {
    // Only plain certificates (SEQUENCE); attribute/other certificate choices are skipped.
    if (c.tag !== T.SEQUENCE) continue;
    try { out.push(parseCert(whole(c))); } catch { /* unreadable cert: chain will miss it */ }
  }
  return out;
}

function attributes(t: Tlv): Attr[] {
  return kids(t).map((a) => ({ type: oid(kid(a, 0)), values: kids(kid(a, 1, T.SET)) }));
}

function signerInfo(t: Tlv): SignerInfoRaw {
  const k = kids(expect(t, T.SEQUENCE, 'SignerInfo'));
  let i = 1;
  const sid = k[i++];
  const serial = sid?.tag === T.SEQUENCE ? normalizeSerial(hex(value(kid(sid, 1, T.INTEGER)))) : null;
  const digestOid = oid(kid(expect(k[i++] ?? t, T.SEQUENCE, 'digestAlgorithm'), 0));
  const signedAttrs = k[i]?.tag === T.CTX0 ? k[i++]! : null;
  const sigOid = oid(kid(expect(k[i++] ?? t, T.SEQUENCE, 'signatureAlgorithm'), 0));
  const signature = value(expect(k[i++] ?? t, T.OCTET_STRING, 'signature'));
  const unsignedAttrs = k[i]?.tag === T.CTX1 ? attributes(k[i]!) : [];
  return { serial, digestOid, signedAttrs, sigOid, signature, unsignedAttrs };
}

/** Parse DER ContentInfo(SignedData). Throws AgentError CW_PKCS7_MALFORMED. */
export function parseSignedData(der: Uint8Array): SignedDataView {
  const ci = expect(parseDer(der), T.SEQUENCE, 'ContentInfo');
  const type = oid(kid(ci, 0));
  if (type !== OID_SIGNED_DATA) throw malformed(`content type ${type} is not SignedData`);
  const sd = kids(expect(kid(kid(ci, 1, T.CTX0), 0), T.SEQUENCE, 'SignedData'));
  const encap = expect(sd[2] ?? ci, T.SEQUENCE, 'encapContentInfo');
  const contentType = oid(kid(encap, 0));
  const wrapper = kids(encap)[1];
  const eContent = wrapper ? kid(expect(wrapper, T.CTX0, 'eContent'), 0) : null;
  const content = eContent ? value(eContent) : new Uint8Array(0);
  const rest = sd.slice(3);
  const certs = certificatesOf(rest.find((x) => x.tag === T.CTX0));
  const infos = rest.find((x) => x.tag === T.SET);
  if (!infos) throw malformed('SignedData has no signerInfos');
  const signers = kids(infos).map((si) => checkSigner(signerInfo(si), content, certs));
  return { contentType, content, contentTlv: eContent, certs, signers };
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

function attrValue(attrs: Attr[], type: string): Tlv | undefined {
  return attrs.find((a) => a.type === type)?.values[0];
}

/** Check one SignerInfo: messageDigest over `content`, then the signature over the attributes. */
export function checkSigner(si: SignerInfoRaw, content: Uint8Array, certs: Cert[]): SignerCheck {
  const alg = digestName(si.digestOid);
  const signer = si.serial === null ? null : certs.find((c) => c.identity.serial === si.serial) ?? null;
  const attrs = si.signedAttrs ? attributes(si.signedAttrs) : [];
  const st = attrValue(attrs, OID_SIGNING_TIME);
  const out: SignerCheck = {
    signer, digestAlgorithm: alg, digestAlgorithmOid: si.digestOid, contentDigestOk: false, signatureOk: false,
    problem: null, signingTime: st ? time(st) : null, info: si,
  };
  if (alg === null) { out.problem = `unknown digest algorithm ${si.digestOid}`; return out; }
  let data: Uint8Array = content;
  if (si.signedAttrs) {
    const md = attrValue(attrs, OID_MESSAGE_DIGEST);
    const want = md?.tag === T.OCTET_STRING ? value(md) : null;
    out.contentDigestOk = want !== null && createHash(alg).update(content).digest().equals(want);
    if (!out.contentDigestOk) out.problem = 'messageDigest attribute does not match the signed content';
    // The signature covers the attributes DER-encoded as a SET, not with their [0] tag.
    const copy = Buffer.from(whole(si.signedAttrs));
    copy[0] = T.SET;
    data = copy;
  } else {
    out.contentDigestOk = true;
  }
  if (signer === null) { out.problem ??= 'signer certificate is not embedded'; return out; }
  out.signatureOk = verifyRaw(alg, si.sigOid, data, signer, si.signature);
  if (!out.signatureOk) out.problem ??= 'signer\'s signature over the authenticated attributes does not verify';
  return out;
}

function verifyRaw(alg: DigestName, sigOid: string, data: Uint8Array, signer: Cert, sig: Uint8Array): boolean {
  try {
    const key = signer.x509.publicKey;
    // RSASSA-PSS: salt length from the parameters is not enforced; AUTO accepts what was used.
    if (sigOid === '1.2.840.113549.1.1.10') {
      return cryptoVerify(alg, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, sig);
    }
    return cryptoVerify(alg, data, key, sig);
  } catch {
    return false;
  }
}

/** SpcIndirectDataContent: what the signer vouches for (the Authenticode image digest). */
export interface IndirectData {
  dataType: string;
  digestAlgorithm: DigestName | null;
  digestAlgorithmOid: string;
  digest: Buffer;
}

/** Decode SpcIndirectDataContent ::= SEQUENCE { data SEQUENCE {type, value}, messageDigest DigestInfo }. */
export function parseIndirectData(t: Tlv | null): IndirectData {
  if (t === null) throw malformed('SpcIndirectDataContent missing');
  const data = kid(expect(t, T.SEQUENCE, 'SpcIndirectDataContent'), 0, T.SEQUENCE);
  const digestInfo = kid(t, 1, T.SEQUENCE);
  const algOid = oid(kid(kid(digestInfo, 0, T.SEQUENCE), 0));
  return {
    dataType: oid(kid(data, 0)), digestAlgorithm: digestName(algOid), digestAlgorithmOid: algOid,
    digest: Buffer.from(value(kid(digestInfo, 1, T.OCTET_STRING))),
  };
}

/** A timestamp on a signature: when the signature existed, as vouched for by a TSA. */
export interface TimestampInfo {
  kind: 'rfc3161' | 'counter-signature';
  time: Date | null;
  /** TSA signature and imprint both verify (integrity only; the TSA chain is not judged). */
  ok: boolean;
  problem: string | null;
  signer: Cert | null;
}

/** One Authenticode signature and the signatures nested in it. */
export interface AuthenticodeSignature {
  sd: SignedDataView;
  signer: SignerCheck;
  indirect: IndirectData;
  timestamp: TimestampInfo | null;
  nested: AuthenticodeSignature[];
  /** Nested signatures that could not be parsed, in words. */
  nestedErrors: string[];
}

/**
 * Parse an Authenticode PKCS#7 blob (a WIN_CERTIFICATE's bCertificate, or a nested signature).
 * Throws only AgentError CW_PKCS7_MALFORMED: any other surprise on hostile input is wrapped.
 */
export function parseAuthenticode(der: Uint8Array, depth = 0): AuthenticodeSignature {
  try {
    return parseAuthenticodeUnsafe(der, depth);
  } catch (err) {
    if (err instanceof AgentError) throw err;
    throw malformed((err as Error)?.message ?? String(err), err);
  }
}

function parseAuthenticodeUnsafe(der: Uint8Array, depth: number): AuthenticodeSignature {
  const sd = parseSignedData(der);
  if (sd.contentType !== OID_SPC_INDIRECT_DATA) throw malformed(`content type ${sd.contentType} is not SpcIndirectDataContent`);
  const signer = sd.signers[0];
  if (signer === undefined || sd.signers.length !== 1) throw malformed(`${sd.signers.length} signer infos (Authenticode has one)`);
  const indirect = parseIndirectData(sd.contentTlv);
  const sig = signer.info.signature;
  const out: AuthenticodeSignature = { sd, signer, indirect, timestamp: timestampOf(signer.info, sig, sd.certs), nested: [], nestedErrors: [] };
  for (const a of signer.info.unsignedAttrs) {
    if (a.type !== OID_NESTED_SIGNATURE) continue;
    for (const v of a.values) {
      if (depth >= MAX_NESTED) { out.nestedErrors.push('too many nested signatures'); break; }
      try {
        out.nested.push(parseAuthenticode(whole(v), depth + 1));
      } catch (err) {
        out.nestedErrors.push((err as Error).message);
      }
    }
  }
  return out;
}

/** The first timestamp on a signer: RFC 3161 token (Microsoft's OID) or a legacy counter-signature. */
export function timestampOf(si: SignerInfoRaw, signature: Uint8Array, certs: Cert[]): TimestampInfo | null {
  for (const a of si.unsignedAttrs) {
    const v = a.values[0];
    if (v === undefined) continue;
    if (a.type === OID_RFC3161_TIMESTAMP) return rfc3161(v, signature);
    if (a.type === OID_COUNTER_SIGNATURE) return counterSignature(v, signature, certs);
  }
  return null;
}

function counterSignature(v: Tlv, signature: Uint8Array, certs: Cert[]): TimestampInfo {
  try {
    // A counter-signature signs the outer signer's signature value (RFC 2315 §9.2).
    const c = checkSigner(signerInfo(v), signature, certs);
    const ok = c.contentDigestOk && c.signatureOk;
    return { kind: 'counter-signature', time: c.signingTime, ok, problem: ok ? null : c.problem, signer: c.signer };
  } catch (err) {
    return { kind: 'counter-signature', time: null, ok: false, problem: (err as Error)?.message ?? String(err), signer: null };
  }
}

/** TSTInfo (RFC 3161 §2.4.2): version, policy, messageImprint {alg, digest}, serial, genTime, … */
function tstInfo(der: Uint8Array): { alg: DigestName | null; imprint: Uint8Array; genTime: Date | null } {
  const t = expect(parseDer(der), T.SEQUENCE, 'TSTInfo');
  const mi = kid(t, 2, T.SEQUENCE);
  return { alg: digestName(oid(kid(kid(mi, 0, T.SEQUENCE), 0))), imprint: value(kid(mi, 1, T.OCTET_STRING)), genTime: time(kid(t, 4, T.GENERALIZED_TIME)) };
}

function rfc3161(v: Tlv, signature: Uint8Array): TimestampInfo {
  const fail = (problem: string): TimestampInfo => ({ kind: 'rfc3161', time: null, ok: false, problem, signer: null });
  try {
    const sd = parseSignedData(whole(v));
    if (sd.contentType !== OID_TST_INFO) return fail(`timestamp content type ${sd.contentType}`);
    const tst = tstInfo(sd.content);
    const tsa = sd.signers[0];
    if (tsa === undefined) return fail('timestamp has no signer');
    const imprintOk = tst.alg !== null && createHash(tst.alg).update(signature).digest().equals(tst.imprint);
    const ok = imprintOk && tsa.contentDigestOk && tsa.signatureOk;
    const problem = ok ? null : imprintOk ? tsa.problem : 'timestamp imprint does not match the signature';
    return { kind: 'rfc3161', time: tst.genTime, ok, problem, signer: tsa.signer };
  } catch (err) {
    return fail((err as Error)?.message ?? String(err));
  }
}
