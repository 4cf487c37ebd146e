/**
 * Test PKI written by the openssl CLI (apt: openssl), so that what the agent computes is checked
 * against an independent implementation: keys (RSA, EC), self-signed and CA-issued certificates
 * with chosen EKUs and validity (expired ones through `openssl ca`), PKCS#12 with and without
 * key or password, PVK, PKCS#7, and openssl's own fingerprints. JKS comes from python3-pyjks.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export class Pki {
  constructor(readonly dir: string) { mkdirSync(dir, { recursive: true }); }

  f(name: string): string { return path.join(this.dir, name); }

  run(args: string[], input?: Buffer): Buffer {
    return execFileSync('openssl', args, { cwd: this.dir, input, stdio: ['pipe', 'pipe', 'pipe'] });
  }

  /** New key `<name>.key` (PKCS#8 PEM). */
  key(name: string, type: 'rsa' | 'ec'): string {
    const args = type === 'rsa' ? ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'] : ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'];
    this.run(['genpkey', ...args, '-out', `${name}.key`]);
    return this.f(`${name}.key`);
  }

  /**
   * Self-signed `<name>.crt` for key `<name>.key`, with an EKU (codeSigning, serverAuth…) and
   * validity; dates in the past go through `openssl ca` (x509 -days cannot make them).
   */
  cert(name: string, cn: string, o: { eku?: string; start?: string; end?: string; ca?: boolean } = {}): string {
    const ext = [`basicConstraints=critical,CA:${o.ca ? 'TRUE' : 'FALSE'}`, o.eku ? `extendedKeyUsage=${o.eku}` : ''].filter(Boolean).join('\n');
    writeFileSync(this.f(`${name}.ext`), `[v3]\n${ext}\n`);
    this.run(['req', '-new', '-key', `${name}.key`, '-subj', `/CN=${cn}/O=Test Org`, '-out', `${name}.csr`]);
    if (o.start && o.end) {
      mkdirSync(this.f(`${name}-ca`), { recursive: true });
      writeFileSync(this.f(`${name}-ca/index.txt`), '');
      writeFileSync(this.f(`${name}-ca/serial`), '1000\n');
      writeFileSync(this.f(`${name}-ca/ca.cnf`), `[ca]\ndefault_ca=c\n[c]\ndatabase=${name}-ca/index.txt\nnew_certs_dir=${name}-ca\nserial=${name}-ca/serial\ndefault_md=sha256\npolicy=p\nunique_subject=no\ncopy_extensions=none\n[p]\ncommonName=supplied\norganizationName=optional\n`);
      this.run(['ca', '-batch', '-config', `${name}-ca/ca.cnf`, '-selfsign', '-keyfile', `${name}.key`, '-in', `${name}.csr`,
        '-startdate', o.start, '-enddate', o.end, '-extfile', `${name}.ext`, '-extensions', 'v3', '-out', `${name}.crt`]);
    } else {
      this.run(['x509', '-req', '-in', `${name}.csr`, '-signkey', `${name}.key`, '-days', '365', '-extfile', `${name}.ext`, '-extensions', 'v3', '-out', `${name}.crt`]);
    }
    return this.f(`${name}.crt`);
  }

  /** PKCS#12 of `<name>`: with or without the key, empty or real password. */
  p12(name: string, out: string, o: { nokeys?: boolean; password?: string } = {}): string {
    this.run(['pkcs12', '-export', '-in', `${name}.crt`, ...(o.nokeys ? ['-nokeys'] : ['-inkey', `${name}.key`]), '-passout', `pass:${o.password ?? ''}`, '-out', out]);
    return this.f(out);
  }

  der(name: string, out: string): string { this.run(['x509', '-in', `${name}.crt`, '-outform', 'DER', '-out', out]); return this.f(out); }

  pvk(name: string, out: string, password?: string): string {
    const pw = password ? ['-passout', `pass:${password}`, '-provider', 'legacy', '-provider', 'default'] : ['-pvk-none'];
    this.run(['rsa', '-in', `${name}.key`, '-outform', 'PVK', ...pw, '-out', out]);
    return this.f(out);
  }

  p7b(names: string[], out: string): string {
    this.run(['crl2pkcs7', '-nocrl', ...names.flatMap((n) => ['-certfile', `${n}.crt`]), '-outform', 'DER', '-out', out]);
    return this.f(out);
  }

  // ---- openssl's answers
  sha256(name: string): string { return this.fingerprint(`${name}.crt`); }

  fingerprint(certFile: string): string {
    return this.run(['x509', '-in', certFile, '-noout', '-fingerprint', '-sha256']).toString().split('=')[1]!.trim().replace(/:/g, '').toLowerCase();
  }

  /** SHA-256 of the SPKI DER, from the key file. */
  spki(name: string): string {
    const der = this.run(['pkey', '-in', `${name}.key`, '-pubout', '-outform', 'DER']);
    return this.run(['dgst', '-sha256', '-r'], der).toString().split(' ')[0]!;
  }

  serial(name: string): string {
    return this.run(['x509', '-in', `${name}.crt`, '-noout', '-serial']).toString().split('=')[1]!.trim().toLowerCase().replace(/^0+/, '') || '0';
  }

  /** openssl's verdict on expiry: `-checkend 0` exits 1 when the certificate has expired. */
  expired(name: string): boolean {
    try { this.run(['x509', '-in', `${name}.crt`, '-noout', '-checkend', '0']); return false; } catch { return true; }
  }

  codeSigning(name: string): boolean {
    return /Code Signing/.test(this.run(['x509', '-in', `${name}.crt`, '-noout', '-ext', 'extendedKeyUsage']).toString());
  }

  /** JKS with one key entry (and its certificate as a trusted entry too), by python3-pyjks. */
  jks(name: string, out: string, alias: string): string {
    const cert = this.run(['x509', '-in', `${name}.crt`, '-outform', 'DER']).toString('base64');
    const key = this.run(['pkcs8', '-topk8', '-nocrypt', '-in', `${name}.key`, '-outform', 'DER']).toString('base64');
    const py = `import jks, base64\nc=base64.b64decode('${cert}')\nk=base64.b64decode('${key}')\n` +
      `ks=jks.KeyStore.new('jks',[jks.PrivateKeyEntry.new('${alias}',[c],k,'pkcs8'),jks.TrustedCertEntry.new('${alias}-ca',c)])\nks.save('${this.f(out)}','changeit')\n`;
    execFileSync('/usr/bin/python3', ['-c', py], { stdio: ['pipe', 'pipe', 'pipe'] });
    return this.f(out);
  }
}
