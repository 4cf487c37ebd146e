/**
 * Certificate identity as every chainwatch report shows it (CertIdentity in
 * packages/shared/src/inventory/signature.ts), from DER via node:crypto's X509Certificate,
 * which reads RSA and EC certificates alike (node-forge cannot read EC ones).
 * Serial: lower hex, no leading zeros (shared's normalizeSerial form) so that it meets indicator serials.
 * Names: RDNs in certificate order joined with ", " (OpenSSL's order, not RFC 4514's reverse).
 */
import { X509Certificate, createHash } from 'node:crypto';
import type { CertIdentity } from '@chainwatch/shared';
import { AgentError } from '../errors.js';
// The subpath, not the package root: the root loads every TypeBox schema (~25 MB) into a scan.
import { normalizeSerial } from '@chainwatch/shared/normalize';

export const OID_EKU_CODE_SIGNING = '1.3.6.1.5.5.7.3.3';
const OID_EKU_ANY = '2.5.29.37.0';

/** A parsed certificate with its DER kept (thumbprints and identity come from the exact bytes). */
export interface Cert {
  der: Buffer;
  x509: X509Certificate;
  identity: CertIdentity;
}

/** Parse one DER certificate. Throws AgentError CW_CERT_MALFORMED when OpenSSL rejects it. */
export function parseCert(der: Uint8Array): Cert {
  const buf = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(buf);
  } catch (err) {
    throw new AgentError('CW_CERT_MALFORMED', (err as Error).message, { cause: err });
  }
  return { der: buf, x509, identity: identityOf(x509, buf) };
}

/** "C=US\nO=Example, Inc." (Node's form) → field map and a one-line string. */
function nameParts(name: string): { line: string; cn?: string; o?: string } {
  const rdns = name.split('\n').filter((s) => s.length > 0);
  const get = (k: string): string | undefined => {
    const hit = rdns.filter((r) => r.startsWith(`${k}=`));
    return hit.length > 0 ? hit[hit.length - 1]!.slice(k.length + 1) : undefined;
  };
  const out: { line: string; cn?: string; o?: string } = { line: rdns.join(', ') };
  const cn = get('CN'), o = get('O');
  if (cn !== undefined) out.cn = cn.slice(0, 512);
  if (o !== undefined) out.o = o.slice(0, 512);
  return out;
}

function iso(openssl: string): string {
  const t = Date.parse(openssl);
  return Number.isNaN(t) ? new Date(0).toISOString() : new Date(t).toISOString();
}

export function identityOf(x509: X509Certificate, der: Buffer): CertIdentity {
  const s = nameParts(x509.subject), i = nameParts(x509.issuer);
  const id: CertIdentity = {
    subject: s.line.slice(0, 2048),
    issuer: i.line.slice(0, 2048),
    serial: (normalizeSerial(x509.serialNumber) ?? '0').slice(0, 128),
    sha1: createHash('sha1').update(der).digest('hex'),
    sha256: createHash('sha256').update(der).digest('hex'),
    not_before: iso(x509.validFrom),
    not_after: iso(x509.validTo),
  };
  if (s.cn !== undefined) id.subject_cn = s.cn;
  if (s.o !== undefined) id.subject_o = s.o;
  if (i.cn !== undefined) id.issuer_cn = i.cn;
  if (i.o !== undefined) id.issuer_o = i.o;
  return id;
}

/**
 * Whether the certificate may sign code: true when it has no EKU extension (unrestricted),
 * or lists codeSigning or anyExtendedKeyUsage. Node names the EKU list `keyUsage`.
 */
export function allowsCodeSigning(cert: Cert): boolean {
  const eku = cert.x509.keyUsage as string[] | undefined;
  if (eku === undefined || eku.length === 0) return true;
  return eku.includes(OID_EKU_CODE_SIGNING) || eku.includes(OID_EKU_ANY);
}

/** Whether `at` lies within the certificate's validity period. */
export function validAt(cert: Cert, at: Date): boolean {
  const t = at.getTime();
  return t >= Date.parse(cert.identity.not_before) && t <= Date.parse(cert.identity.not_after);
}
