/**
 * Signed PE files built at test time, never committed: a tiny PE32+ from mingw-w64
 * (`x86_64-w64-mingw32-gcc -Os -s`), a test PKI (openssl CLI; node-forge for the backdated
 * expired leaf, which OpenSSL 3.0's `x509 -req` cannot backdate), and osslsigncode to sign,
 * nest and timestamp with its built-in TSA (-TSA-certs/-TSA-key/-TSA-time: no network).
 * Cached per process in a temp dir; tests copy before tampering.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';

export interface Fixtures {
  dir: string;
  ca: string;
  unsigned: string;
  /** name → signed file */
  signed: Record<string, string>;
}

function sh(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

const HELLO = '#include <stdio.h>\nint main(void){ puts("chainwatch test"); return 0; }\n';

/** EC leaf via the openssl CLI (forge cannot hold EC keys), issued now for a year. */
function ecLeaf(dir: string, name: string): void {
  sh('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`], dir);
  sh('openssl', ['req', '-new', '-key', `${name}.key`, '-subj', `/O=Chainwatch Test/CN=${name}`, '-out', `${name}.csr`], dir);
  writeFileSync(join(dir, `${name}.ext`), 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n');
  sh('openssl', ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '365', '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.pem`], dir);
}

const DAY = 24 * 3600 * 1000;
let serial = 0x1000;

/**
 * RSA certificate via node-forge with chosen validity (OpenSSL 3.0's CLI cannot backdate), so
 * that timestamps in the past fall inside every certificate's validity. Self-signed without issuer.
 */
function forgeCert(dir: string, name: string, days: [number, number], ext: object[], issuer?: string): void {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(join(dir, `${name}.key`), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }) as string);
  cert.serialNumber = (serial++).toString(16);
  cert.validity.notBefore = new Date(Date.now() + days[0] * DAY);
  cert.validity.notAfter = new Date(Date.now() + days[1] * DAY);
  const subject = [{ name: 'organizationName', value: 'Chainwatch Test' }, { name: 'commonName', value: name }];
  cert.setSubject(subject);
  const ca = issuer ? forge.pki.certificateFromPem(readFileSync(join(dir, `${issuer}.pem`), 'utf8')) : null;
  cert.setIssuer(ca ? ca.subject.attributes : subject);
  cert.setExtensions(ext);
  const key = readFileSync(join(dir, `${issuer ?? name}.key`), 'utf8');
  cert.sign(forge.pki.privateKeyFromPem(key), forge.md.sha256.create());
  writeFileSync(join(dir, `${name}.pem`), forge.pki.certificateToPem(cert));
}

function pki(dir: string): void {
  forgeCert(dir, 'ca', [-3650, 3650], [{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }]);
  const leafExt = (eku: object) => [{ name: 'basicConstraints', cA: false }, { name: 'keyUsage', digitalSignature: true, critical: true }, { name: 'extKeyUsage', ...eku }];
  forgeCert(dir, 'rsa-signer', [-30, 365], leafExt({ codeSigning: true }), 'ca');
  forgeCert(dir, 'tsa', [-3000, 3000], leafExt({ timeStamping: true, critical: true }), 'ca');
  forgeCert(dir, 'expired', [-3 * 365, -2 * 365], leafExt({ codeSigning: true }), 'ca');
  ecLeaf(dir, 'ec-signer');
}

function sign(dir: string, input: string, out: string, signer: string, extra: string[] = []): string {
  sh('osslsigncode', ['sign', '-certs', `${signer}.pem`, '-key', `${signer}.key`, ...extra, '-in', input, '-out', out], dir);
  return join(dir, out);
}

let cached: Fixtures | null = null;

/** Build (once per process) the unsigned PE, the PKI and the signed variants. */
export function peFixtures(): Fixtures {
  if (cached) return cached;
  const dir = mkdtempSync(join(tmpdir(), 'cw-pe-'));
  writeFileSync(join(dir, 'hello.c'), HELLO);
  sh('x86_64-w64-mingw32-gcc', ['-Os', '-s', '-o', 'hello.exe', 'hello.c'], dir);
  pki(dir);
  const tsa = (t: number): string[] => ['-TSA-certs', 'tsa.pem', '-TSA-key', 'tsa.key', '-TSA-time', String(t)];
  const now = Math.floor(Date.now() / 1000);
  const expiredTime = now - Math.floor(2.5 * 365 * 24 * 3600);
  const signed: Record<string, string> = {
    sha1: sign(dir, 'hello.exe', 'sha1.exe', 'rsa-signer', ['-h', 'sha1']),
    sha256: sign(dir, 'hello.exe', 'sha256.exe', 'rsa-signer', ['-h', 'sha256']),
    ec: sign(dir, 'hello.exe', 'ec.exe', 'ec-signer', ['-h', 'sha256']),
    timestamped: sign(dir, 'hello.exe', 'ts.exe', 'rsa-signer', ['-h', 'sha256', ...tsa(now - 60)]),
    expired: sign(dir, 'hello.exe', 'expired.exe', 'expired', ['-h', 'sha256', '-time', String(expiredTime)]),
    expired_timestamped: sign(dir, 'hello.exe', 'expired-ts.exe', 'expired', ['-h', 'sha256', '-time', String(expiredTime), ...tsa(expiredTime)]),
  };
  signed['dual'] = sign(dir, 'sha1.exe', 'dual.exe', 'ec-signer', ['-nest', '-h', 'sha256']);
  cached = { dir, ca: join(dir, 'ca.pem'), unsigned: join(dir, 'hello.exe'), signed };
  return cached;
}
