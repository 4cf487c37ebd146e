/**
 * Spec: packages/shared/src/inventory/certificate.ts
 *
 * A fake root filled by openssl (apt: openssl, python3-pyjks): code-signing keys left in a home
 * folder, a Jenkins workspace and a GitHub workspace (misplaced), one in an approved folder, a
 * TLS key paired with its certificate in another folder, an expired certificate, a CA bundle in
 * /etc/ssl/certs (not reported) next to a host certificate whose key is on the host (reported),
 * symlinks out of the root, an oversize PEM and broken files. The findings must be exactly
 * the expected ones, and every item must validate against the shared schema.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, copyFileSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { validateItem, type CertificateItem, type InventoryItem, type PrivateKeyItem } from '@chainwatch/shared';
import { certificatesSource } from '../../src/sources/certificates.js';
import { collectAll, testContext } from '../helpers/context.js';
import { Pki } from '../signing/openssl-pki.js';

const base = mkdtempSync(path.join(tmpdir(), 'cw-certs-'));
const root = path.join(base, 'root');
const pki = new Pki(path.join(base, 'pki'));
const outside = path.join(base, 'outside');
mkdirSync(outside);

pki.key('cs', 'rsa'); pki.cert('cs', 'Alice Code Signing', { eku: 'codeSigning' });
pki.key('ci', 'ec'); pki.cert('ci', 'Release Signing', { eku: 'codeSigning' });
pki.key('ok', 'rsa'); pki.cert('ok', 'Approved Signing', { eku: 'codeSigning' });
pki.key('jar', 'rsa'); pki.cert('jar', 'Jar Signing', { eku: 'codeSigning' });
pki.key('tls', 'ec'); pki.cert('tls', 'www.example.com', { eku: 'serverAuth' });
pki.key('host', 'rsa'); pki.cert('host', 'host.example.com', { eku: 'serverAuth' });
pki.key('old', 'rsa'); pki.cert('old', 'Old Signing', { eku: 'codeSigning', start: '20200101000000Z', end: '20210101000000Z' });
for (let i = 0; i < 12; i++) { pki.key(`ca${i}`, 'rsa'); pki.cert(`ca${i}`, `Public Root ${i}`, { ca: true }); }

function put(sys: string, data: Buffer | string): string {
  const real = path.join(root, sys);
  mkdirSync(path.dirname(real), { recursive: true });
  writeFileSync(real, data);
  return sys;
}
const rd = (f: string): Buffer => readFileSync(f);

// Misplaced: code-signing key + certificate outside any approved folder.
put('/home/alice/dev/codesign.pfx', rd(pki.p12('cs', 'cs.pfx')));
put('/var/lib/jenkins/workspace/app/signing.pem', rd(pki.f('ci.crt')));
put('/var/lib/jenkins/workspace/app/keys/signing.key', rd(pki.f('ci.key')));
put('/github/workspace/release.keystore', rd(pki.jks('jar', 'jar.jks', 'release')));
// Password-protected PKCS#12: a key with unknown certificate (no finding, but a key item).
put('/home/alice/dev/locked.bin', rd(pki.p12('cs', 'locked.p12', { password: 'hunter2' })));
// Approved location.
put('/opt/signing/approved.p12', rd(pki.p12('ok', 'ok.p12')));
// TLS pair in separate folders, matched by public key; not code signing.
put('/srv/www/tls.crt', rd(pki.der('tls', 'tls.der')));
put('/home/bob/.keys/www', rd(pki.f('tls.key')));
// PVK of the approved key's twin lying elsewhere: a key item, and it also pairs.
put('/home/bob/win/sign.pvk', rd(pki.pvk('cs', 'cs.pvk')));
// Expired certificate without key.
put('/home/alice/old/old.cer', rd(pki.f('old.crt')));
// Trust store: a bundle (not reported) and a host certificate whose key is on the host.
put('/etc/ssl/certs/ca-certificates.crt', Buffer.concat(Array.from({ length: 12 }, (_, i) => rd(pki.f(`ca${i}.crt`)))));
put('/etc/ssl/certs/host.pem', rd(pki.f('host.crt')));
put('/etc/ssl/private/host.key', rd(pki.f('host.key')));
// A CA bundle outside the trust store (certifi-style): also not reported.
put('/opt/venv/lib/certifi/cacert.pem', Buffer.concat(Array.from({ length: 12 }, (_, i) => rd(pki.f(`ca${i}.crt`)))));
// Noise and trouble.
put('/home/alice/readme.txt', 'nothing to see\n');
put('/home/alice/big.pem', Buffer.concat([rd(pki.f('tls.crt')), Buffer.alloc(1100 * 1024, 0x41)]));
put('/home/alice/broken.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
put('/home/alice/broken.jks', Buffer.from([0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2, 0, 0, 0, 5, 0, 0, 0, 1]));
// Symlinks: out of the root (must not be read) and inside it (not read twice).
copyFileSync(pki.f('cs.key'), path.join(outside, 'secret.key'));
symlinkSync(path.join(outside, 'secret.key'), path.join(root, 'home/alice/escape.key'));
symlinkSync(path.join(root, 'home/bob/.keys/www'), path.join(root, 'home/alice/www-link.key'));
// Not walked: /proc even when '/' is a root.
put('/proc/1/environ.pem', rd(pki.f('cs.key')));

const approvedKeyLocations = ['/opt/signing'];

async function scan(roots?: string[]): Promise<InventoryItem[]> {
  const ctx = testContext(root, { options: { approvedKeyLocations } });
  return collectAll(certificatesSource(roots ? { roots } : {}), ctx);
}

t.test('findings are exactly the expected ones', async (t) => {
  const items = await scan();
  for (const it of items) t.ok(validateItem(it).ok, `schema: ${it.key}`);
  const certs = items.filter((i): i is CertificateItem => i.kind === 'certificate');
  const keys = items.filter((i): i is PrivateKeyItem => i.kind === 'private_key');
  const errors = items.filter((i) => i.kind === 'error');

  const misplaced = certs.filter((c) => c.code_signing && c.has_private_key && !c.approved_location).map((c) => `${c.path} ${c.cert.sha256}`).sort();
  t.same(misplaced, [
    `/github/workspace/release.keystore ${pki.sha256('jar')}`,
    `/home/alice/dev/codesign.pfx ${pki.sha256('cs')}`,
    `/var/lib/jenkins/workspace/app/signing.pem ${pki.sha256('ci')}`,
  ].sort());
  const expired = certs.filter((c) => c.expired).map((c) => c.path);
  t.same(expired, ['/home/alice/old/old.cer']);
  t.equal(pki.expired('old'), true, 'openssl agrees it is expired');
  t.notOk(['cs', 'ci', 'ok', 'jar', 'tls', 'host'].some((n) => pki.expired(n)));

  const byPath = new Map(certs.map((c) => [c.path, c]));
  t.equal(byPath.get('/var/lib/jenkins/workspace/app/signing.pem')!.private_key_path, '/var/lib/jenkins/workspace/app/keys/signing.key');
  t.equal(byPath.get('/var/lib/jenkins/workspace/app/signing.pem')!.public_key_sha256, pki.spki('ci'));
  t.equal(byPath.get('/opt/signing/approved.p12')!.approved_location, true);
  t.equal(byPath.get('/srv/www/tls.crt')!.private_key_path, '/home/bob/.keys/www');
  t.equal(byPath.get('/srv/www/tls.crt')!.code_signing, false);
  t.equal(byPath.get('/home/alice/old/old.cer')!.has_private_key, false);
  // Trust stores: only the certificate whose key is on the host.
  t.same(certs.filter((c) => c.path.startsWith('/etc/ssl/certs/')).map((c) => c.cert.sha256), [pki.sha256('host')]);
  t.notOk(certs.some((c) => c.path.includes('certifi')), 'CA bundle outside the trust store is not itemised');

  const keyPaths = keys.map((k) => k.path).sort();
  t.same(keyPaths, [
    '/etc/ssl/private/host.key', '/github/workspace/release.keystore', '/home/alice/dev/codesign.pfx', '/home/alice/dev/locked.bin',
    '/home/bob/.keys/www', '/home/bob/win/sign.pvk', '/opt/signing/approved.p12', '/var/lib/jenkins/workspace/app/keys/signing.key',
  ]);
  const locked = keys.find((k) => k.path === '/home/alice/dev/locked.bin')!;
  t.equal(locked.encrypted, true);
  t.equal(locked.container, 'pkcs12');
  const pvk = keys.find((k) => k.path === '/home/bob/win/sign.pvk')!;
  t.equal(pvk.public_key_sha256, pki.spki('cs'));
  t.same(pvk.certificates, [pki.sha256('cs')], 'the PVK is paired with the certificate in the PFX');
  t.notOk(items.some((i) => 'path' in i && typeof i.path === 'string' && (i.path.includes('escape') || i.path.includes('www-link') || i.path.startsWith('/proc'))));
  t.notOk(JSON.stringify(items).includes(rd(pki.f('cs.key')).toString().split('\n')[1]!), 'no key bytes in the output');

  const errs = new Map(errors.map((e) => [e.path, e.code]));
  t.same(Object.fromEntries(errs), {
    '/home/alice/big.pem': 'CW_FILE_TOO_LARGE',
    '/home/alice/broken.pem': 'CW_CERT_MALFORMED',
    '/home/alice/broken.jks': 'CW_CERT_MALFORMED',
  });
});

t.test("'/' as a root skips /proc; approved globs; abort stops the walk", async (t) => {
  const items = await scan(['/']);
  t.notOk(items.some((i) => 'path' in i && String(i.path).startsWith('/proc')));
  t.ok(items.some((i) => i.kind === 'private_key' && i.path === '/home/alice/dev/codesign.pfx'));

  const ctx = testContext(root, { options: { approvedKeyLocations: ['/var/lib/jenkins/*/app/keys', '/home/**/dev'] } });
  const certs = (await collectAll(certificatesSource(), ctx)).filter((i): i is CertificateItem => i.kind === 'certificate');
  t.same(certs.filter((c) => c.code_signing && c.has_private_key && !c.approved_location).map((c) => c.path).sort(),
    ['/github/workspace/release.keystore', '/opt/signing/approved.p12']);

  const aborted = testContext(root);
  aborted.controller.abort();
  t.same(await collectAll(certificatesSource(), aborted), [], 'an aborted scan reads nothing');
});

t.test('reading by content: PEM past the first 64 KiB, across a chunk boundary, FIFOs, binaries', async (t) => {
  const r2 = mkdtempSync(path.join(tmpdir(), 'cw-certs-read-'));
  const at = (sys: string, data: Buffer | string): void => {
    mkdirSync(path.dirname(path.join(r2, sys)), { recursive: true });
    writeFileSync(path.join(r2, sys), data);
  };
  const pem = rd(pki.f('tls.crt'));
  const HEAD = 64 * 1024;
  at('/home/u/late.yaml', Buffer.concat([Buffer.alloc(200 * 1024, 0x20), pem]));
  // The marker "-----BEGIN " split by the second chunk's start (chunks overlap by its length).
  at('/home/u/split.txt', Buffer.concat([Buffer.alloc(HEAD - 5, 0x61), pem]));
  at('/home/u/exact.txt', Buffer.concat([Buffer.alloc(HEAD - pem.length, 0x0a), pem]));
  at('/home/u/no-marker.txt', Buffer.alloc(300 * 1024, 0x62));
  // Binary (a NUL in the first 64 KiB) with a PEM later: not text, not a container, not read.
  at('/home/u/blob.bin', Buffer.concat([Buffer.alloc(HEAD, 0), pem]));
  execFileSync('mkfifo', [path.join(r2, 'home/u/pipe.pem')]);
  const items = await collectAll(certificatesSource({ roots: ['/home'] }), testContext(r2));
  const paths = items.filter((i): i is CertificateItem => i.kind === 'certificate').map((c) => c.path).sort();
  t.same(paths, ['/home/u/exact.txt', '/home/u/late.yaml', '/home/u/split.txt']);
  t.same(items.filter((i) => i.kind === 'error'), [], 'no errors: the FIFO is skipped, not waited on');
});

t.test('the event loop keeps turning during a long walk', async (t) => {
  const r3 = mkdtempSync(path.join(tmpdir(), 'cw-certs-walk-'));
  for (let d = 0; d < 40; d++) {
    mkdirSync(path.join(r3, `home/d${d}`), { recursive: true });
    for (let f = 0; f < 250; f++) writeFileSync(path.join(r3, `home/d${d}/f${f}.txt`), `file ${f} of folder ${d}\n`.repeat(20));
  }
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  const t0 = performance.now();
  const items = await collectAll(certificatesSource({ roots: ['/home'] }), testContext(r3));
  const ms = performance.now() - t0;
  clearInterval(timer);
  t.same(items, []);
  // 10,000 files take well over one 20 ms slice; a walk that never yielded would see no tick.
  t.ok(ticks >= Math.floor(ms / 100), `${ticks} timer ticks during a ${ms.toFixed(0)} ms walk`);
});
