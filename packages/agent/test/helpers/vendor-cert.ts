/**
 * The Debian Secure Boot CA: shim embeds it (its .vendor_cert section) as the anchor for
 * everything Debian signs. Found by scanning shim for a self-signed DER certificate whose
 * subject is that CA, and written out as PEM for `--trust`.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE } from './signed-corpus.js';

export function extractVendorCert(shimPath: string, cn = 'Debian Secure Boot CA'): string {
  const buf = readFileSync(shimPath);
  const needle = Buffer.from(cn);
  for (let at = buf.indexOf(needle); at >= 0; at = buf.indexOf(needle, at + 1)) {
    for (let s = at; s > Math.max(0, at - 1024); s--) {
      if (buf[s] !== 0x30 || buf[s + 1] !== 0x82) continue;
      const len = 4 + buf.readUInt16BE(s + 2);
      try {
        const x = new X509Certificate(buf.subarray(s, s + len));
        if (x.subject === `CN=${cn}` && x.issuer === x.subject) {
          const out = join(CACHE, 'debian-secure-boot-ca.pem');
          writeFileSync(out, x.toString());
          return out;
        }
      } catch { /* not a certificate start */ }
    }
  }
  throw new RangeError(`${cn} not found in ${shimPath}`);
}
