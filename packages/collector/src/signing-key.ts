/**
 * The collector's Ed25519 signing key: it signs the manifest of agent packages, so hosts can
 * check that what they install is what this collector's operator built (the install script
 * pins the public key). Generated once on first use and kept beside the database
 * (<db dir>/signing/, 0700; the private key 0600, never served). The public key is served at
 * /install/signing-key.pem and printed by `package agent`.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** SPKI PEM, what `openssl pkeyutl -verify -pubin -inkey` takes. */
  publicPem: string;
  /** SHA-256 over the SPKI DER, hex: the short name operators compare. */
  fingerprint: string;
  created: boolean;
}

export const signingDir = (dbFile: string): string => path.join(path.dirname(path.resolve(dbFile)), 'signing');

export function publicKeyFingerprint(pub: KeyObject): string {
  return createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex');
}

/** Loads the key from `dir`, creating it (0600 in a 0700 folder) when absent. */
export function ensureSigningKey(dir: string): SigningKey {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keyFile = path.join(dir, 'ed25519.key');
  const pubFile = path.join(dir, 'ed25519.pub.pem');
  let created = false;
  if (!existsSync(keyFile)) {
    const { privateKey } = generateKeyPairSync('ed25519');
    // 'wx': never overwrite a key a concurrent process wrote first.
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600, flag: 'wx' });
    created = true;
  }
  chmodSync(keyFile, 0o600);
  const privateKey = createPrivateKey(readFileSync(keyFile));
  const publicKey = createPublicKey(privateKey);
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
  if (!existsSync(pubFile) || readFileSync(pubFile, 'utf8') !== publicPem) writeFileSync(pubFile, publicPem, { mode: 0o644 });
  return { privateKey, publicKey, publicPem, fingerprint: publicKeyFingerprint(publicKey), created };
}

/** Reads only the public half (what the install routes serve); null when no key exists yet. */
export function readPublicKey(dir: string): { publicPem: string; fingerprint: string } | null {
  try {
    const pem = readFileSync(path.join(dir, 'ed25519.pub.pem'), 'utf8');
    return { publicPem: pem, fingerprint: publicKeyFingerprint(createPublicKey(pem)) };
  } catch { return null; }
}

/** Raw 64-byte Ed25519 signature over the exact bytes (openssl pkeyutl -rawin compatible). */
export const signBytes = (key: SigningKey, data: Buffer): Buffer => sign(null, data, key.privateKey);
export const verifyBytes = (publicPem: string, data: Buffer, sig: Buffer): boolean => verify(null, data, createPublicKey(publicPem), sig);
