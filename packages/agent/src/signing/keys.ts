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
 * node:crypto does every key and certificate (forge cannot read EC ones). PKCS#7 and PKCS#12
 * need a full ASN.1 parser (keys-pkcs.ts: asn1js, pkijs, node-forge for empty-password PKCS#12),
 * imported on the first such file: a scan that meets only PEM never loads it.
 */
import { createPublicKey } from 'node:crypto';
import { AgentError } from '../errors.js';
import { kids, parseDer as parseDerTlv, T, value, type Tlv } from './der.js';
import { derKey, describeCert, keyFacts, malformed, MAX_ENTRIES, spkiSha256, type Container, type FoundCert, type FoundKey, type KeyMaterial } from './keys-facts.js';
import { parseCert } from './x509.js';

export type { Container, FoundCert, FoundKey, KeyMaterial } from './keys-facts.js';
export { describeCert, spkiSha256 } from './keys-facts.js';

type Pkcs = typeof import('./keys-pkcs.js');

/** The ASN.1-heavy readers, imported on first need (see the module comment). */
function loadPkcs(): Promise<Pkcs> {
  return import('./keys-pkcs.js');
}

const MAX_PEM_BLOCKS = 512;

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
export async function parseKeyMaterial(buf: Buffer, now: Date = new Date()): Promise<KeyMaterial | null> {
  try {
    return await parseAny(buf, now);
  } catch (err) {
    // asn1js and OpenSSL throw plain errors on hostile bytes (a bad GeneralizedTime, a key that
    // only fails when first used): one error type leaves this module.
    if (err instanceof AgentError) throw err;
    throw malformed((err as Error).message ?? String(err));
  }
}

async function parseAny(buf: Buffer, now: Date): Promise<KeyMaterial | null> {
  const kind = sniffContainer(buf.subarray(0, 16)) ?? (buf.includes('-----BEGIN ') ? 'pem' : null);
  let out: KeyMaterial | null;
  switch (kind) {
    case 'jks': case 'jceks': out = parseJks(buf, kind, now); break;
    case 'pvk': out = parsePvk(buf); break;
    case 'der': out = await parseDer(buf, now); break;
    case 'pem': out = await parsePem(buf, now); break;
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

async function parsePem(buf: Buffer, now: Date): Promise<KeyMaterial | null> {
  const blocks = pemBlocks(buf.toString('latin1'));
  const pkcs = blocks.some((b) => b.type === 'PKCS7' || b.type === 'CMS') ? await loadPkcs() : null;
  const m: KeyMaterial = { container: 'pem', certs: [], keys: [], problems: [] };
  let known = 0;
  for (const b of blocks) {
    try {
      if (pemBlock(b, m, now, pkcs)) known++;
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
function pemBlock(b: PemBlock, m: KeyMaterial, now: Date, pkcs: Pkcs | null): boolean {
  switch (b.type) {
    case 'CERTIFICATE': case 'X509 CERTIFICATE': case 'TRUSTED CERTIFICATE': {
      const len = derLength(b.body);
      m.certs.push(describeCert(parseCert(b.body.subarray(0, len ?? b.body.length)), now));
      return true;
    }
    case 'PKCS7': case 'CMS':
      for (const c of pkcs!.pkcs7Certs(b.body)) m.certs.push(describeCert(c, now));
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

/**
 * A whole-file DER container. Certificates and keys — nearly every DER file on a host — are
 * told apart from the top-level layout with der.ts and read by node:crypto; PKCS#7, PKCS#12 and
 * anything der.ts cannot walk (BER indefinite lengths, long tags) go to keys-pkcs.ts, whose
 * full BER parse decides as before.
 */
async function parseDer(buf: Buffer, now: Date): Promise<KeyMaterial | null> {
  const total = derLength(buf);
  // A DER container fills its file (a trailing newline or padding is tolerated).
  if (total === null || total > buf.length || buf.length - total > 16) return null;
  const der = buf.subarray(0, total);
  const shape = topLevelShape(der);
  if (shape === 'other') return (await loadPkcs()).parseDerContainer(der, now);
  const m: KeyMaterial = { container: 'der', certs: [], keys: [], problems: [] };
  if (shape === 'cert') {
    try { m.certs.push(describeCert(parseCert(der), now)); return m; } catch { return null; }
  }
  const key = derKey(der);
  if (key) { m.keys.push(key); return m; }
  return null;
}

/**
 * What the top-level SEQUENCE's children say: 'cert' (tbsCertificate, algorithm, BIT STRING) or
 * 'key' (a version INTEGER other than PKCS#12's 3 first); 'other' for everything the full
 * parser must decide, including input der.ts refuses.
 */
function topLevelShape(der: Buffer): 'cert' | 'key' | 'other' {
  let k: Tlv[];
  try {
    const top = parseDerTlv(der);
    if (top.tag !== T.SEQUENCE) return 'other';
    k = kids(top);
  } catch {
    return 'other';
  }
  const [k0, , k2] = k;
  if (k.length === 3 && k0?.tag === T.SEQUENCE && (k2?.tag === BIT_STRING || k2?.tag === BIT_STRING_CONSTRUCTED)) return 'cert';
  if (k0?.tag === T.INTEGER && !isThree(value(k0))) return 'key';
  return 'other';
}

const BIT_STRING = 0x03;
const BIT_STRING_CONSTRUCTED = 0x23;

function isThree(v: Uint8Array): boolean {
  let i = 0;
  while (i < v.length - 1 && v[i] === 0) i++;
  return v.length - i === 1 && v[i] === 3;
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
