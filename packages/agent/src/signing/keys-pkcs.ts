/**
 * The ASN.1-heavy containers: PKCS#7 certificate bundles (.p7b/.spc, PEM "PKCS7"), PKCS#12
 * (.pfx/.p12) and DER that the light reader in keys.ts cannot classify. asn1js and pkijs
 * (~10 MB of heap together) are loaded with this module, which keys.ts imports only when such
 * content is met: most hosts hold PEM and nothing else. node-forge, needed only to open a
 * PKCS#12 whose password is empty, is imported on that first file.
 * Formats: RFC 5652 (CMS), RFC 7292 (PKCS#12), RFC 5208/5958 (PKCS#8).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import type forge from 'node-forge';

type Forge = typeof forge;
import { AgentError } from '../errors.js';
import { derKey, describeCert, keyFacts, malformed, MAX_ENTRIES, type KeyMaterial } from './keys-facts.js';
import { parseCert, type Cert } from './x509.js';

/** PBKDF iteration counts above this are refused: a crafted file must not pin a core. */
const MAX_PBE_ITERATIONS = 200_000;

const OID_DATA = '1.2.840.113549.1.7.1';
const OID_SIGNED_DATA = '1.2.840.113549.1.7.2';
const OID_KEY_BAG = '1.2.840.113549.1.12.10.1.1';
const OID_SHROUDED_KEY_BAG = '1.2.840.113549.1.12.10.1.2';
const OID_CERT_BAG = '1.2.840.113549.1.12.10.1.3';

/**
 * A whole-file DER container, classified by a full BER parse (the light reader in keys.ts
 * sends here what it cannot decide alone). Null when it is no container of ours.
 */
export async function parseDerContainer(der: Buffer, now: Date): Promise<KeyMaterial | null> {
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

async function parsePkcs12(der: Buffer, now: Date): Promise<KeyMaterial> {
  const m: KeyMaterial = { container: 'pkcs12', certs: [], keys: [], problems: [] };
  const view = pkcs12Structure(der);
  if (view.maxIterations > MAX_PBE_ITERATIONS) {
    m.problems.push(`PBE iteration count ${view.maxIterations} refused`);
  } else if (view.emptyPassword && await openPkcs12(der, m, now)) {
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
async function openPkcs12(der: Buffer, m: KeyMaterial, now: Date): Promise<boolean> {
  const forge: Forge = (await import('node-forge')).default;
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
      try { forgeBag(forge, bag, m, now, label); } catch (err) { m.problems.push((err as Error).message); }
    }
  }
  return true;
}

function forgeBag(forge: Forge, bag: forge.pkcs12.Bag, m: KeyMaterial, now: Date, label?: string): void {
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
