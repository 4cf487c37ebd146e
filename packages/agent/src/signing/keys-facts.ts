/**
 * The facts chainwatch keeps about certificates and private keys, and how they are drawn from
 * node:crypto objects: shared by the container readers (keys.ts for PEM, DER, PVK, JKS and
 * keys-pkcs.ts for PKCS#7/#12). Private key bytes go in, only facts come out: algorithm,
 * whether the key is encrypted and its public key SHA-256 (SPKI DER), which pairs it with its
 * certificate.
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { AgentError } from '../errors.js';
import { OID_EKU_CODE_SIGNING, type Cert } from './x509.js';
import { pemWrap } from '../pem.js';

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

/** Entries read from one keystore or PKCS#12 bag list: a crafted count must not pin a core. */
export const MAX_ENTRIES = 1024;

export function malformed(detail: string): AgentError {
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

/** Algorithm and public key fingerprint of an unencrypted DER private key. */
export function keyFacts(der: Buffer, type: 'pkcs8' | 'pkcs1' | 'sec1', dsa = false): FoundKey {
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

/** A DER private key in any of the three encodings, or null when it is none of them. */
export function derKey(der: Buffer): FoundKey | null {
  for (const type of ['pkcs8', 'pkcs1', 'sec1'] as const) {
    try { return keyFacts(der, type); } catch { /* next encoding */ }
  }
  return null;
}
