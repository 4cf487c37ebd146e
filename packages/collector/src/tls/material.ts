/**
 * The collector's own PKI, made on first start when the operator supplies no certificate:
 * a CA (kept beside the database) and a server certificate it signs. Agents pin the CA by its
 * SHA-256 fingerprint. Keys come from node:crypto; node-forge builds the X.509 structures.
 * Files are written 0600 in a 0700 folder.
 */
import { generateKeyPairSync, X509Certificate, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import forge from 'node-forge';

export interface TlsMaterial { cert: string; key: string; caCert: string; caKey: string; caFingerprint: string; created: boolean }

function rsaPem(bits: number): { pub: string; priv: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  return { pub: publicKey.export({ type: 'spki', format: 'pem' }) as string, priv: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

function serial(): string {
  const b = randomBytes(16); b[0]! &= 0x7f; // positive INTEGER
  return b.toString('hex');
}

function makeCa(): { cert: string; key: string } {
  const k = rsaPem(3072);
  const c = forge.pki.createCertificate();
  c.publicKey = forge.pki.publicKeyFromPem(k.pub);
  c.serialNumber = serial();
  c.validity.notBefore = new Date(Date.now() - 60_000);
  c.validity.notAfter = new Date(Date.now() + 10 * 365 * 86400_000);
  const name = [{ name: 'commonName', value: `chainwatch collector CA ${os.hostname()}`.slice(0, 64) }, { name: 'organizationName', value: 'chainwatch' }];
  c.setSubject(name); c.setIssuer(name);
  c.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  c.sign(forge.pki.privateKeyFromPem(k.priv) as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(c), key: k.priv };
}

function makeServer(ca: { cert: string; key: string }, names: string[]): { cert: string; key: string } {
  const k = rsaPem(2048);
  const caCert = forge.pki.certificateFromPem(ca.cert);
  const c = forge.pki.createCertificate();
  c.publicKey = forge.pki.publicKeyFromPem(k.pub);
  c.serialNumber = serial();
  c.validity.notBefore = new Date(Date.now() - 60_000);
  c.validity.notAfter = new Date(Date.now() + 825 * 86400_000);
  c.setSubject([{ name: 'commonName', value: names[0]!.slice(0, 64) }, { name: 'organizationName', value: 'chainwatch' }]);
  c.setIssuer(caCert.subject.attributes);
  const altNames = names.map((n) => (/^[\d.]+$/.test(n) || n.includes(':') ? { type: 7, ip: n } : { type: 2, value: n }));
  c.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames },
  ]);
  c.sign(forge.pki.privateKeyFromPem(ca.key) as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(c), key: k.priv };
}

export function caFingerprint(caPem: string): string {
  return new X509Certificate(caPem).fingerprint256.replace(/:/g, '').toLowerCase();
}

function writeSecret(file: string, content: string): void {
  writeFileSync(file, content, { mode: 0o600 });
  chmodSync(file, 0o600);
}

/** Loads the collector PKI from `dir`, creating CA and server certificate when absent. */
export function ensureTlsMaterial(dir: string, extraNames: string[] = []): TlsMaterial {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const f = (n: string) => path.join(dir, n);
  let created = false;
  if (!existsSync(f('ca.pem')) || !existsSync(f('ca.key'))) {
    const ca = makeCa();
    writeSecret(f('ca.key'), ca.key); writeSecret(f('ca.pem'), ca.cert);
    created = true;
  }
  const ca = { cert: readFileSync(f('ca.pem'), 'utf8'), key: readFileSync(f('ca.key'), 'utf8') };
  if (created || !existsSync(f('server.pem')) || !existsSync(f('server.key'))) {
    const names = [...new Set(['localhost', os.hostname(), '127.0.0.1', '::1', ...extraNames])];
    const s = makeServer(ca, names);
    writeSecret(f('server.key'), s.key); writeSecret(f('server.pem'), s.cert + ca.cert);
  }
  return { cert: readFileSync(f('server.pem'), 'utf8'), key: readFileSync(f('server.key'), 'utf8'), caCert: ca.cert, caKey: ca.key, caFingerprint: caFingerprint(ca.cert), created };
}

export interface ClientCa { cert: string; key: string }

/**
 * mTLS: signs an agent's PKCS#10 request as a client certificate for `hostId`. The subject is
 * ours (CN = host id), whatever the request asked for; only its public key is taken, after its
 * self-signature checks out. Returns the PEM and the serial (kept on the host row, so a
 * rotated or revoked host's old certificate stops opening the stream).
 */
export function signClientCsr(ca: ClientCa, csrPem: string, hostId: string): { cert: string; serial: string } | null {
  let csr: ReturnType<typeof forge.pki.certificationRequestFromPem>;
  try { csr = forge.pki.certificationRequestFromPem(csrPem); } catch { return null; }
  if (!csr.publicKey || !csr.verify()) return null;
  const caCert = forge.pki.certificateFromPem(ca.cert);
  const c = forge.pki.createCertificate();
  c.publicKey = csr.publicKey;
  c.serialNumber = serial();
  c.validity.notBefore = new Date(Date.now() - 60_000);
  c.validity.notAfter = new Date(Date.now() + 397 * 86400_000);
  c.setSubject([{ name: 'commonName', value: hostId }, { name: 'organizationName', value: 'chainwatch agent' }]);
  c.setIssuer(caCert.subject.attributes);
  c.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', clientAuth: true },
  ]);
  c.sign(forge.pki.privateKeyFromPem(ca.key) as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(c), serial: c.serialNumber.toLowerCase() };
}
