/**
 * The hand-built PKCS#10 request: openssl verifies its signature, reads the subject back and
 * finds the public key of the key it came with; long names exercise DER's long-form lengths.
 */
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildCsr, makeCsr } from '../../src/transport/csr.js';

const openssl = (args: string[], input: string): string => execFileSync('openssl', args, { input, encoding: 'utf8' });
/** openssl req -verify's verdict (printed on stderr; its exit status is 0 either way on OpenSSL 3). */
const verdict = (args: string[], input?: string): string => {
  const r = spawnSync('openssl', ['req', '-verify', '-noout', ...args], { input, encoding: 'utf8' });
  return /verify OK/.test(r.stderr) && r.status === 0 ? 'ok' : 'failed';
};

t.test('makeCsr: verified by openssl, CN is the host id, key matches', async (t) => {
  const hostId = '3f1c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b';
  const { keyPem, csrPem } = makeCsr(hostId);
  t.match(csrPem, /^-----BEGIN CERTIFICATE REQUEST-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE REQUEST-----\n$/);
  t.equal(verdict([], csrPem), 'ok', 'signature verifies');
  const text = openssl(['req', '-noout', '-subject', '-nameopt', 'RFC2253'], csrPem);
  t.match(text, new RegExp(`subject=CN=${hostId}`));
  const csrKey = openssl(['req', '-noout', '-pubkey'], csrPem);
  const fromKey = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'pem' }) as string;
  t.equal(csrKey.trim(), fromKey.trim(), 'the CSR carries the public half of the returned key');
  const parsed = openssl(['req', '-noout', '-text'], csrPem);
  t.match(parsed, /Signature Algorithm: sha256WithRSAEncryption/);
  t.match(parsed, /Public-Key: \(2048 bit\)/);
  t.match(parsed, /Version: 1 \(0x0\)/);
});

t.test('long subjects use long-form DER lengths and still verify', async (t) => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  for (const n of [1, 127, 128, 255, 256, 1000]) {
    const cn = 'h'.repeat(n);
    const pem = buildCsr(cn, spki, (info) => sign('sha256', info, privateKey));
    t.equal(verdict([], pem), 'ok', `verifies with a CN of ${n} characters`);
    const out = openssl(['req', '-noout', '-subject', '-nameopt', 'RFC2253'], pem);
    t.equal(out.trim().split('\n').pop(), `subject=CN=${cn}`, `CN of ${n} characters`);
  }
});

t.test('a tampered request fails openssl verification', async (t) => {
  const { csrPem } = makeCsr('tamper-me');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cw-csr-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const der = Buffer.from(csrPem.replace(/-----[A-Z ]+-----/g, '').replace(/\s/g, ''), 'base64');
  const at = der.indexOf(Buffer.from('tamper-me'));
  der[at] = 'T'.charCodeAt(0);
  const file = path.join(dir, 'bad.der');
  writeFileSync(file, der);
  t.equal(verdict(['-inform', 'DER', '-in', file]), 'failed', 'signature no longer matches');
  writeFileSync(file, Buffer.from(csrPem.replace(/-----[A-Z ]+-----/g, '').replace(/\s/g, ''), 'base64'));
  t.equal(verdict(['-inform', 'DER', '-in', file]), 'ok', 'the untouched request, same route, verifies');
});
