/**
 * Certificate and private-key material recognised by CONTENT, not by file name: PEM (every
 * block type), DER certificates and keys, PKCS#7 (.p7b/.spc), PKCS#12 (.pfx/.p12), Microsoft
 * PVK and Java keystores (JKS/JCEKS). A stolen code-signing key (the 3CX and X_TRADER builds
 * were signed with the vendors' own certificates) is often a renamed .pfx in a build folder,
 * so extensions are only a hint.
 *
 * Pure: bytes in, facts out. Private key bytes never leave this module: callers learn only
 * that a key is there, its algorithm, whether it is encrypted and its public key SHA-256
 * (SPKI DER), which is what pairs a key with its certificate.
 * Formats: RFC 7468 (PEM), RFC 5652 (CMS), RFC 7292 (PKCS#12), RFC 5208/5958 (PKCS#8),
 * PVK as OpenSSL's crypto/pem/pvkfmt.c writes it, JKS as OpenJDK's JavaKeyStore.java does.
 * node-forge opens PKCS#12 (empty password only); node:crypto does every key and certificate,
 * because forge cannot read EC ones.
 */
import { createHash, createHmac, createPrivateKey, createPublicKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import forge from 'node-forge';
import { AgentError } from '../errors.js';
import { parseCert, OID_EKU_CODE_SIGNING, type Cert } from './x509.js';

export type Container = 'pem' | 'der' | 'pkcs7' | 'pkcs12' | 'pvk' | 'jks' | 'jceks' | 'openssh';

export interface FoundCert {
  cert: Cert;
  /** The EKU lists codeSigning. Strict on purpose: a no-EKU TLS certificate is not counted. */
  codeSigning: boolean;
  selfSigned: boolean;
  /** Also a CA certificate (basicConstraints CA:TRUE): never a code signer's leaf. */
  ca: boolean;
  expired: boolean;
  publicKeySha256: string;
  /** Its private key is in the same container. */
  keyInContainer: boolean;
}

export interface FoundKey {
  algorithm?: string;
  encrypted: boolean;
  publicKeySha256?: string;
  /** Keystore alias or PKCS#12 friendlyName, when there is one. */
  label?: string;
}

export interface KeyMaterial {
  container: Container;
  certs: FoundCert[];
  keys: FoundKey[];
  /** Parts that could not be read (the readable rest is kept). */
  problems: string[];
}

const MAX_PEM_BLOCKS = 512;
const MAX_ENTRIES = 1024;
/** PBKDF iteration counts above this are refused: a crafted file must not pin a core. */
const MAX_PBE_ITERATIONS = 200_000;

const OID_DATA = '1.2.840.113549.1.7.1';
const OID_SIGNED_DATA = '1.2.840.113549.1.7.2';
const OID_KEY_BAG = '1.2.840.113549.1.12.10.1.1';
const OID_SHROUDED_KEY_BAG = '1.2.840.113549.1.12.10.1.2';
const OID_CERT_BAG = '1.2.840.113549.1.12.10.1.3';

function malformed(detail: string): AgentError {
  return new AgentError('CW_CERT_MALFORMED', detail);
}

/** SHA-256 of a public key's SPKI DER (the fingerprint that pairs keys with certificates). */
export function spkiSha256(key: KeyObject): string {
  return createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex');
}

/** Facts about one certificate; `now` decides `expired`. */
export function describeCert(cert: Cert, now: Date): FoundCert {
  const x = cert.x509;
  const eku = (x.keyUsage as string[] | undefined) ?? [];
  let selfSigned = false;
  try { selfSigned = x.checkIssued(x) && x.verify(x.publicKey); } catch { selfSigned = false; }
  return {
    cert,
    codeSigning: eku.includes(OID_EKU_CODE_SIGNING),
    selfSigned,
    ca: x.ca,
    expired: Date.parse(cert.identity.not_after) < now.getTime(),
    publicKeySha256: spkiSha256(x.publicKey),
    keyInContainer: false,
  };
}

/** Which container the bytes look like, from the first bytes only (cheap: run on every file). */
export function sniffContainer(head: Buffer): Container | null {
  if (head.length >= 4) {
    const m = head.readUInt32BE(0);
    if (m === 0xfeedfeed) return 'jks';
    if (m === 0xcececece) return 'jceks';
    if (head.readUInt32LE(0) === 0xb0b5f11e) return 'pvk';
  }
  if (head.length >= 2 && head[0] === 0x30 && (head[1]! >= 0x80 ? head[1]! >= 0x81 && head[1]! <= 0x84 : head[1]! > 0)) return 'der';
  if (head.includes('-----BEGIN ')) return 'pem';
  return null;
}

/**
 * Parse key material. Returns null when the bytes are not key material at all, a result with
 * `problems` when parts are unreadable, and throws AgentError CW_CERT_MALFORMED when the bytes
 * claim a container (a PKCS#12 header, a keystore magic) whose structure is broken.
 */
export function parseKeyMaterial(buf: Buffer, now: Date = new Date()): KeyMaterial | null {
  try {
    return parseAny(buf, now);
  } catch (err) {
    // asn1js and OpenSSL throw plain errors on hostile bytes (a bad GeneralizedTime, a key that
    // only fails when first used): one error type leaves this module.
    if (err instanceof AgentError) throw err;
    throw malformed((err as Error).message ?? String(err));
  }
}

function parseAny(buf: Buffer, now: Date): KeyMaterial | null {
  const kind = sniffContainer(buf.subarray(0, 16)) ?? (buf.includes('-----BEGIN ') ? 'pem' : null);
  let out: KeyMaterial | null;
  switch (kind) {
    case 'jks': case 'jceks': out = parseJks(buf, kind, now); break;
    case 'pvk': out = parsePvk(buf); break;
    case 'der': out = parseDer(buf, now); break;
    case 'pem': out = parsePem(buf, now); break;
    default: return null;
  }
  if (out) pairKeys(out);
  return out;
}

/** Marks certificates whose key sits in the same container. */
function pairKeys(m: KeyMaterial): void {
  const fps = new Set(m.keys.map((k) => k.publicKeySha256).filter((f): f is string => f !== undefined));
  for (const c of m.certs) if (fps.has(c.publicKeySha256)) c.keyInContainer = true;
  // An encrypted key hides its public key. One such key with certificates beside it is taken
  // to belong to the first non-CA certificate: that is how PEM bundles and PKCS#12 files are laid out.
  const blind = m.keys.filter((k) => k.publicKeySha256 === undefined);
  const leaf = m.certs.find((c) => !c.ca) ?? m.certs[0];
  if (blind.length === 1 && leaf && !m.certs.some((c) => c.keyInContainer)) {
    leaf.keyInContainer = true;
    blind[0]!.publicKeySha256 = leaf.publicKeySha256;
  }
}

// ---------------------------------------------------------------- PEM

interface PemBlock { type: string; headers: string; body: Buffer }

/** PEM blocks, without a regex (a file full of BEGIN lines and no END must stay linear). */
export function pemBlocks(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  const noEnd = new Set<string>();
  let pos = 0;
  while (out.length < MAX_PEM_BLOCKS) {
    const b = text.indexOf('-----BEGIN ', pos);
    if (b < 0) break;
    const te = text.indexOf('-----', b + 11);
    if (te < 0 || te - b > 80) { pos = b + 11; continue; }
    const type = text.slice(b + 11, te);
    const endMark = `-----END ${type}-----`;
    const e = noEnd.has(type) ? -1 : text.indexOf(endMark, te + 5);
    if (e < 0) { noEnd.add(type); pos = te + 5; continue; }
    const lines = text.slice(te + 5, e).split(/\r?\n/);
    const headers = lines.filter((l) => l.includes(':')).join('\n');
    const b64 = lines.filter((l) => !l.includes(':')).join('').replace(/\s+/g, '');
    out.push({ type, headers, body: Buffer.from(b64, 'base64') });
    pos = e + endMark.length;
  }
  return out;
}

function parsePem(buf: Buffer, now: Date): KeyMaterial | null {
  const blocks = pemBlocks(buf.toString('latin1'));
  const m: KeyMaterial = { container: 'pem', certs: [], keys: [], problems: [] };
  let known = 0;
  for (const b of blocks) {
    try {
      if (pemBlock(b, m, now)) known++;
    } catch (err) {
      known++;
      m.problems.push(`${b.type}: ${(err as Error).message}`);
    }
  }
  if (known === 0) return null;
  if (m.keys.some((k) => k.algorithm?.startsWith('ssh-') || k.algorithm?.startsWith('ecdsa-') || k.algorithm === 'openssh')) {
    if (m.certs.length === 0 && m.keys.length === 1) m.container = 'openssh';
  }
  return m;
}

/** One PEM block into `m`; false when the type is none of ours (public keys, CSRs, params). */
function pemBlock(b: PemBlock, m: KeyMaterial, now: Date): boolean {
  switch (b.type) {
    case 'CERTIFICATE': case 'X509 CERTIFICATE': case 'TRUSTED CERTIFICATE': {
      const len = derLength(b.body);
      m.certs.push(describeCert(parseCert(b.body.subarray(0, len ?? b.body.length)), now));
      return true;
    }
    case 'PKCS7': case 'CMS':
      for (const c of pkcs7Certs(b.body)) m.certs.push(describeCert(c, now));
      return true;
    case 'PRIVATE KEY': m.keys.push(keyFacts(b.body, 'pkcs8')); return true;
    case 'RSA PRIVATE KEY': case 'EC PRIVATE KEY': case 'DSA PRIVATE KEY': {
      if (/Proc-Type:\s*4,ENCRYPTED/i.test(b.headers)) {
        m.keys.push({ algorithm: b.type.split(' ')[0]!.toLowerCase(), encrypted: true });
      } else {
        m.keys.push(keyFacts(b.body, b.type === 'EC PRIVATE KEY' ? 'sec1' : 'pkcs1', b.type === 'DSA PRIVATE KEY'));
      }
      return true;
    }
    case 'ENCRYPTED PRIVATE KEY': m.keys.push({ encrypted: true }); return true;
    case 'OPENSSH PRIVATE KEY': m.keys.push(opensshFacts(b.body)); return true;
    default: return false;
  }
}

/** Algorithm and public key fingerprint of an unencrypted DER private key. */
function keyFacts(der: Buffer, type: 'pkcs8' | 'pkcs1' | 'sec1', dsa = false): FoundKey {
  let key: KeyObject;
  try {
    // OpenSSL reads "DSA PRIVATE KEY" (traditional DSA) only through PEM, so re-wrap it.
    key = dsa
      ? createPrivateKey({ key: pemWrap('DSA PRIVATE KEY', der), format: 'pem' })
      : createPrivateKey({ key: der, format: 'der', type });
  } catch (err) {
    // An encrypted PKCS#8 in a "PRIVATE KEY" block or a DER file: still a key, just locked.
    if ((err as { code?: string }).code === 'ERR_MISSING_PASSPHRASE') return { encrypted: true };
    throw malformed(`private key: ${(err as Error).message}`);
  }
  const out: FoundKey = { encrypted: false, publicKeySha256: spkiSha256(createPublicKey(key)) };
  if (key.asymmetricKeyType) out.algorithm = key.asymmetricKeyType;
  return out;
}

function pemWrap(type: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN ${type}-----\n${b64}\n-----END ${type}-----\n`;
}

/** openssh-key-v1: key type and cipher are in clear; nothing else is read. */
function opensshFacts(body: Buffer): FoundKey {
  const magic = 'openssh-key-v1\0';
  if (body.subarray(0, magic.length).toString('latin1') !== magic) throw malformed('not openssh-key-v1');
  let p = magic.length;
  const str = (): Buffer => {
    if (p + 4 > body.length) throw malformed('openssh key truncated');
    const n = body.readUInt32BE(p);
    if (p + 4 + n > body.length) throw malformed('openssh key truncated');
    const s = body.subarray(p + 4, p + 4 + n);
    p += 4 + n;
    return s;
  };
  const cipher = str().toString('latin1');
  str(); str(); // kdfname, kdfoptions
  p += 4; // number of keys
  const pub = str();
  const type = pub.length >= 4 && pub.readUInt32BE(0) <= pub.length - 4 ? pub.subarray(4, 4 + pub.readUInt32BE(0)).toString('latin1') : 'openssh';
  return { algorithm: type.slice(0, 32), encrypted: cipher !== 'none' };
}

// ---------------------------------------------------------------- DER, PKCS#7

/** Total length of the DER TLV at the start of `b`, or null when the header is not definite. */
export function derLength(b: Uint8Array): number | null {
  if (b.length < 2) return null;
  const l = b[1]!;
  if (l < 0x80) return 2 + l;
  const n = l & 0x7f;
  if (n === 0 || n > 4 || b.length < 2 + n) return null;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + b[2 + i]!;
  return 2 + n + len;
}

function parseDer(buf: Buffer, now: Date): KeyMaterial | null {
  const total = derLength(buf);
  // A DER container fills its file (a trailing newline or padding is tolerated).
  if (total === null || total > buf.length || buf.length - total > 16) return null;
  const der = buf.subarray(0, total);
  let top: ReturnType<typeof asn1js.fromBER>;
  try { top = asn1js.fromBER(der); } catch { return null; /* not DER after all */ }
  if (top.offset === -1 || !(top.result instanceof asn1js.Sequence)) return null;
  const kids = top.result.valueBlock.value;
  const m: KeyMaterial = { container: 'der', certs: [], keys: [], problems: [] };
  const oid0 = kids[0] instanceof asn1js.ObjectIdentifier ? kids[0].valueBlock.toString() : null;
  if (oid0 === OID_SIGNED_DATA) {
    m.container = 'pkcs7';
    for (const c of pkcs7Certs(der)) m.certs.push(describeCert(c, now));
    return m;
  }
  if (kids[0] instanceof asn1js.Integer && kids[0].valueBlock.valueDec === 3 && kids[1] instanceof asn1js.Sequence) {
    const inner = kids[1].valueBlock.value[0];
    if (inner instanceof asn1js.ObjectIdentifier && inner.valueBlock.toString() === OID_DATA) return parsePkcs12(der, now);
  }
  if (kids.length === 3 && kids[0] instanceof asn1js.Sequence && kids[2] instanceof asn1js.BitString) {
    try { m.certs.push(describeCert(parseCert(der), now)); return m; } catch { return null; }
  }
  const key = derKey(der);
  if (key) { m.keys.push(key); return m; }
  return null;
}

/** A DER private key in any of the three encodings, or null when it is none of them. */
function derKey(der: Buffer): FoundKey | null {
  for (const type of ['pkcs8', 'pkcs1', 'sec1'] as const) {
    try { return keyFacts(der, type); } catch { /* next encoding */ }
  }
  return null;
}

/** Certificates of a CMS SignedData (a .p7b, an .spc, a PEM "PKCS7" block). */
export function pkcs7Certs(der: Uint8Array): Cert[] {
  const top = asn1js.fromBER(der);
  if (top.offset === -1) throw malformed('PKCS#7 is not DER');
  let signed: pkijs.SignedData;
  try {
    const ci = new pkijs.ContentInfo({ schema: top.result });
    if (ci.contentType !== OID_SIGNED_DATA) throw malformed(`PKCS#7 content type ${ci.contentType}`);
    signed = new pkijs.SignedData({ schema: ci.content });
  } catch (err) {
    throw err instanceof AgentError ? err : malformed(`PKCS#7: ${(err as Error).message}`);
  }
  const out: Cert[] = [];
  for (const c of signed.certificates ?? []) {
    if (c instanceof pkijs.Certificate) out.push(parseCert(new Uint8Array(c.toSchema().toBER())));
  }
  return out;
}

// ---------------------------------------------------------------- PKCS#12

function parsePkcs12(der: Buffer, now: Date): KeyMaterial {
  const m: KeyMaterial = { container: 'pkcs12', certs: [], keys: [], problems: [] };
  const view = pkcs12Structure(der);
  if (view.maxIterations > MAX_PBE_ITERATIONS) {
    m.problems.push(`PBE iteration count ${view.maxIterations} refused`);
  } else if (view.emptyPassword && openPkcs12(der, m, now)) {
    return m;
  }
  // Password-protected (or refused): what the unencrypted layer shows is still worth reporting.
  for (const c of view.certs) {
    try { m.certs.push(describeCert(parseCert(c), now)); } catch (err) { m.problems.push((err as Error).message); }
  }
  for (let i = 0; i < view.shroudedKeys; i++) m.keys.push({ encrypted: true });
  for (const k of view.plainKeys) m.keys.push(derKey(Buffer.from(k)) ?? { encrypted: false });
  return m;
}

/** What a PKCS#12 shows without its password: bag types in unencrypted SafeContents. */
interface P12View {
  shroudedKeys: number; plainKeys: Uint8Array[]; certs: Uint8Array[]; encryptedParts: number; maxIterations: number;
  /** The MAC verifies with the empty password (true when there is no MAC). */
  emptyPassword: boolean;
}

function pkcs12Structure(der: Buffer): P12View {
  const v: P12View = { shroudedKeys: 0, plainKeys: [], certs: [], encryptedParts: 0, maxIterations: 0, emptyPassword: false };
  let pfx: pkijs.PFX;
  try { pfx = pkijs.PFX.fromBER(der); } catch (err) { throw malformed(`PKCS#12: ${(err as Error).message}`); }
  const iter = pfx.macData?.iterations ?? 1;
  v.maxIterations = iter;
  const authSafe = octets(pfx.authSafe.content);
  if (!authSafe) throw malformed('PKCS#12 authSafe is not data');
  v.emptyPassword = iter <= MAX_PBE_ITERATIONS && macWithEmptyPassword(pfx, authSafe);
  const seq = asn1js.fromBER(authSafe);
  if (seq.offset === -1 || !(seq.result instanceof asn1js.Sequence)) throw malformed('PKCS#12 AuthenticatedSafe');
  for (const part of seq.result.valueBlock.value.slice(0, MAX_ENTRIES)) {
    let ci: pkijs.ContentInfo;
    try { ci = new pkijs.ContentInfo({ schema: part }); } catch { throw malformed('PKCS#12 ContentInfo'); }
    if (ci.contentType !== OID_DATA) {
      v.encryptedParts++;
      v.maxIterations = Math.max(v.maxIterations, iterationsIn(ci.content));
      continue;
    }
    const body = octets(ci.content);
    if (body) safeBags(body, v);
  }
  return v;
}

function safeBags(body: Uint8Array, v: P12View): void {
  const sc = asn1js.fromBER(body);
  if (sc.offset === -1 || !(sc.result instanceof asn1js.Sequence)) throw malformed('PKCS#12 SafeContents');
  for (const bag of sc.result.valueBlock.value.slice(0, MAX_ENTRIES)) {
    const parts = bag instanceof asn1js.Sequence ? bag.valueBlock.value : [];
    const oid = parts[0] instanceof asn1js.ObjectIdentifier ? parts[0].valueBlock.toString() : '';
    const value = (parts[1] as asn1js.Constructed | undefined)?.valueBlock?.value?.[0];
    if (oid === OID_SHROUDED_KEY_BAG) {
      v.shroudedKeys++;
      if (value) v.maxIterations = Math.max(v.maxIterations, iterationsIn(value));
    } else if (oid === OID_KEY_BAG && value) {
      v.plainKeys.push(new Uint8Array(value.toBER()));
    } else if (oid === OID_CERT_BAG && value instanceof asn1js.Sequence) {
      const certValue = (value.valueBlock.value[1] as asn1js.Constructed | undefined)?.valueBlock?.value?.[0];
      const raw = certValue ? octets(certValue) : null;
      if (raw) v.certs.push(raw);
    }
  }
}

const MAC_HASHES: Record<string, { name: string; block: number }> = {
  '1.3.14.3.2.26': { name: 'sha1', block: 64 }, '2.16.840.1.101.3.4.2.1': { name: 'sha256', block: 64 },
  '2.16.840.1.101.3.4.2.2': { name: 'sha384', block: 128 }, '2.16.840.1.101.3.4.2.3': { name: 'sha512', block: 128 },
};

/**
 * Checks the PKCS#12 MAC with the empty password natively before node-forge runs: forge's
 * pure-JS key derivation costs ~60 ms at 2,048 iterations, so a password-protected (or
 * crafted) file is turned away here in a few milliseconds.
 */
function macWithEmptyPassword(pfx: pkijs.PFX, authSafe: Uint8Array): boolean {
  const mac = pfx.macData;
  if (!mac) return true;
  const h = MAC_HASHES[mac.mac.digestAlgorithm.algorithmId];
  if (!h) return true; // unknown MAC: let forge decide
  const want = Buffer.from(mac.mac.digest.valueBlock.valueHexView);
  const size = createHash(h.name).digest().length;
  const key = pkcs12Kdf(h, Buffer.from([0, 0]), Buffer.from(mac.macSalt.valueBlock.valueHexView), mac.iterations ?? 1, size);
  const got = createHmac(h.name, key).update(authSafe).digest();
  return got.length === want.length && timingSafeEqual(got, want);
}

/** RFC 7292 appendix B.2 key derivation, ID 3 (MAC key). `password` is BMPString with its NUL. */
function pkcs12Kdf(h: { name: string; block: number }, password: Buffer, salt: Buffer, iterations: number, n: number): Buffer {
  const v = h.block;
  const fill = (b: Buffer): Buffer => (b.length === 0 ? b : Buffer.alloc(v * Math.ceil(b.length / v), b));
  const I = Buffer.concat([fill(salt), fill(password)]);
  const D = Buffer.alloc(v, 3);
  const out: Buffer[] = [];
  for (let got = 0; got < n;) {
    let A = createHash(h.name).update(D).update(I).digest();
    for (let i = 1; i < iterations; i++) A = createHash(h.name).update(A).digest();
    out.push(A);
    got += A.length;
    const B = Buffer.alloc(v, A);
    for (let j = 0; j < I.length; j += v) {
      let carry = 1; // I_j = (I_j + B + 1) mod 2^(8v)
      for (let k = v - 1; k >= 0; k--) {
        const x = I[j + k]! + B[k]! + carry;
        I[j + k] = x & 0xff;
        carry = x >> 8;
      }
    }
  }
  return Buffer.concat(out).subarray(0, n);
}

/** The value of an OCTET STRING (primitive or constructed), or null. */
function octets(block: unknown): Uint8Array | null {
  if (!(block instanceof asn1js.OctetString)) return null;
  if (!block.idBlock.isConstructed) return block.valueBlock.valueHexView;
  return new Uint8Array(block.getValue());
}

/** Largest INTEGER that follows an OCTET STRING salt anywhere in `block` (PBKDF2 and PKCS#12 PBE params). */
function iterationsIn(block: asn1js.AsnType, depth = 0): number {
  const kids = (block as asn1js.Constructed).valueBlock?.value;
  if (!Array.isArray(kids) || depth > 8) return 0;
  let max = 0;
  kids.forEach((k, i) => {
    const prev = kids[i - 1];
    if (k instanceof asn1js.Integer && prev instanceof asn1js.OctetString) {
      max = Math.max(max, k.valueBlock.valueHexView.length > 6 ? Number.MAX_SAFE_INTEGER : k.valueBlock.valueDec);
    }
    max = Math.max(max, iterationsIn(k, depth + 1));
  });
  return max;
}

/** Open with the empty password (node-forge). False when the password is not empty. */
function openPkcs12(der: Buffer, m: KeyMaterial, now: Date): boolean {
  let p12: forge.pkcs12.Pkcs12Pfx;
  try {
    const asn1 = forge.asn1.fromDer(forge.util.createBuffer(der.toString('binary')));
    p12 = forge.pkcs12.pkcs12FromAsn1(asn1, false, '');
  } catch {
    return false;
  }
  for (const sc of p12.safeContents) {
    for (const bag of sc.safeBags) {
      const label = bag.attributes?.friendlyName?.[0] as string | undefined;
      try { forgeBag(bag, m, now, label); } catch (err) { m.problems.push((err as Error).message); }
    }
  }
  return true;
}

function forgeBag(bag: forge.pkcs12.Bag, m: KeyMaterial, now: Date, label?: string): void {
  const toDer = (a: forge.asn1.Asn1): Buffer => Buffer.from(forge.asn1.toDer(a).getBytes(), 'binary');
  const raw = bag as forge.pkcs12.Bag & { asn1?: forge.asn1.Asn1 };
  if (bag.type === forge.pki.oids.certBag) {
    // forge keeps the ASN.1 of certificates it cannot read (EC): node:crypto reads both.
    const der = bag.cert ? toDer(forge.pki.certificateToAsn1(bag.cert)) : raw.asn1 ? toDer(raw.asn1) : null;
    if (der) m.certs.push(describeCert(parseCert(der), now));
  } else if (bag.type === forge.pki.oids.keyBag || bag.type === forge.pki.oids.pkcs8ShroudedKeyBag) {
    const der = bag.key
      ? toDer(forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(bag.key as forge.pki.rsa.PrivateKey)))
      : raw.asn1 ? toDer(raw.asn1) : null;
    const facts = der ? keyFacts(der, 'pkcs8') : { encrypted: true };
    if (label) facts.label = label.slice(0, 256);
    m.keys.push(facts);
  }
}

// ---------------------------------------------------------------- PVK

/**
 * PVK: a 24-byte header, the salt, then a CryptoAPI PRIVATEKEYBLOB whose 8-byte BLOBHEADER
 * stays in clear; with encryption (RC4) everything after it is hidden, public key included.
 */
function parsePvk(buf: Buffer): KeyMaterial {
  if (buf.length < 24) throw malformed('PVK header truncated');
  const encrypted = buf.readUInt32LE(12) !== 0;
  const saltLen = buf.readUInt32LE(16), keyLen = buf.readUInt32LE(20);
  const blob = 24 + saltLen;
  if (saltLen > 256 || blob + keyLen > buf.length || keyLen < 8) throw malformed('PVK lengths exceed the file');
  const aiKey = buf.readUInt32LE(blob + 4);
  const algorithm = (aiKey & 0xff00) === 0x2200 ? 'dsa' : 'rsa';
  const key: FoundKey = { algorithm, encrypted };
  if (!encrypted && algorithm === 'rsa') key.publicKeySha256 = pvkRsaPublic(buf.subarray(blob + 8, blob + keyLen));
  return { container: 'pvk', certs: [], keys: [key], problems: [] };
}

/** RSAPUBKEY ('RSA2', bit length, exponent) then the little-endian modulus. */
function pvkRsaPublic(b: Buffer): string {
  if (b.length < 12 || b.toString('latin1', 0, 4) !== 'RSA2') throw malformed('PVK RSA blob');
  const bits = b.readUInt32LE(4), e = b.readUInt32LE(8);
  const nLen = Math.ceil(bits / 8);
  if (bits === 0 || bits > 16384 || 12 + nLen > b.length) throw malformed('PVK modulus');
  const n = Buffer.from(b.subarray(12, 12 + nLen)).reverse();
  const eBuf = Buffer.alloc(4);
  eBuf.writeUInt32BE(e);
  const jwk = { kty: 'RSA', n: n.toString('base64url'), e: stripZeros(eBuf).toString('base64url') };
  return spkiSha256(createPublicKey({ key: jwk, format: 'jwk' }));
}

function stripZeros(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

// ---------------------------------------------------------------- JKS / JCEKS

/**
 * JKS/JCEKS: magic, version, count, then entries (1 = private key + chain, 2 = trusted
 * certificate, 3 = JCEKS secret key). Key entries are encrypted with the store password, so
 * the chain's first certificate stands for the key. A JCEKS secret key is a Java serialized
 * object of unknown length: reading stops there (reported as a problem).
 */
function parseJks(buf: Buffer, kind: 'jks' | 'jceks', now: Date): KeyMaterial {
  const m: KeyMaterial = { container: kind, certs: [], keys: [], problems: [] };
  const r = new Reader(buf);
  r.u32();
  const version = r.u32(), count = r.u32();
  if (version !== 1 && version !== 2) throw malformed(`keystore version ${version}`);
  for (let i = 0; i < Math.min(count, MAX_ENTRIES); i++) {
    const tag = r.u32();
    const alias = r.utf();
    r.skip(8); // creation date
    if (tag === 1) {
      r.skip(r.u32()); // encrypted key
      const chain = r.u32();
      if (chain > 64) throw malformed('keystore chain length');
      const certs: FoundCert[] = [];
      for (let j = 0; j < chain; j++) certs.push(jksCert(r, version, now));
      const leaf = certs[0];
      if (leaf) leaf.keyInContainer = true;
      m.certs.push(...certs);
      const key: FoundKey = { algorithm: leaf?.cert.x509.publicKey.asymmetricKeyType ?? undefined, encrypted: true, label: alias.slice(0, 256) };
      if (leaf) key.publicKeySha256 = leaf.publicKeySha256;
      if (key.algorithm === undefined) delete key.algorithm;
      m.keys.push(key);
    } else if (tag === 2) {
      m.certs.push(jksCert(r, version, now));
    } else if (tag === 3 && kind === 'jceks') {
      m.keys.push({ algorithm: 'secret', encrypted: true, label: alias.slice(0, 256) });
      m.problems.push('JCEKS secret key entry: later entries not read');
      break;
    } else {
      throw malformed(`keystore entry tag ${tag}`);
    }
  }
  return m;
}

function jksCert(r: Reader, version: number, now: Date): FoundCert {
  if (version === 2) r.utf(); // certificate type, "X.509"
  return describeCert(parseCert(r.bytes(r.u32())), now);
}

/** Bounds-checked big-endian reader: every overrun is a CW_CERT_MALFORMED. */
class Reader {
  private p = 0;
  constructor(private readonly b: Buffer) {}
  private need(n: number): void {
    if (n < 0 || this.p + n > this.b.length) throw malformed('keystore truncated');
  }
  u32(): number { this.need(4); const v = this.b.readUInt32BE(this.p); this.p += 4; return v; }
  skip(n: number): void { this.need(n); this.p += n; }
  bytes(n: number): Buffer { this.need(n); const s = this.b.subarray(this.p, this.p + n); this.p += n; return s; }
  utf(): string { this.need(2); const n = this.b.readUInt16BE(this.p); this.p += 2; return this.bytes(n).toString('utf8'); }
}
