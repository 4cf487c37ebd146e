/**
 * The mutual-TLS client key and its PKCS#10 request (RFC 2986), built with node:crypto and a
 * few lines of DER. Written by hand because the structure is fixed and tiny — version 0, a
 * subject of one common name, the SubjectPublicKeyInfo node:crypto already exports as DER, no
 * attributes, sha256WithRSAEncryption — while the library that builds it generically
 * (node-forge) costs the agent ~12 MB of resident memory for as long as it runs, an eighth of
 * its 100 MB budget. Checked by `openssl req -verify` and by the collector signing it.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { pemWrap } from '../pem.js';

/** DER length octets: short form below 128, else 0x80|n followed by n big-endian bytes. */
function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One DER element: tag, length, content. */
function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

const SEQUENCE = 0x30, SET = 0x31, INTEGER = 0x02, BIT_STRING = 0x03, NULL = 0x05, UTF8_STRING = 0x0c, CONTEXT_0 = 0xa0;
/** 2.5.4.3 commonName. */
const OID_COMMON_NAME = Buffer.from('0603550403', 'hex');
/** 1.2.840.113549.1.1.11 sha256WithRSAEncryption. */
const OID_SHA256_RSA = Buffer.from('06092a864886f70d01010b', 'hex');

/** CSR (PEM) over `publicKeyDer` (SPKI) for subject CN=`commonName`, signed with `sign(info)`. */
export function buildCsr(commonName: string, publicKeyDer: Buffer, signInfo: (info: Buffer) => Buffer): string {
  const subject = tlv(SEQUENCE, tlv(SET, tlv(SEQUENCE, OID_COMMON_NAME, tlv(UTF8_STRING, Buffer.from(commonName, 'utf8')))));
  const info = tlv(SEQUENCE, tlv(INTEGER, Buffer.from([0])), subject, publicKeyDer, tlv(CONTEXT_0));
  const algorithm = tlv(SEQUENCE, OID_SHA256_RSA, tlv(NULL));
  const der = tlv(SEQUENCE, info, algorithm, tlv(BIT_STRING, Buffer.from([0]), signInfo(info)));
  return pemWrap('CERTIFICATE REQUEST', der);
}

/** A fresh RSA key and a CSR whose common name is the host id. */
export function makeCsr(hostId: string): { keyPem: string; csrPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const csrPem = buildCsr(hostId, spki, (info) => sign('sha256', info, privateKey));
  return { keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, csrPem };
}
