/**
 * Code-signing findings end to end: signed PE files (built with mingw-w64, signed with
 * osslsigncode under a test CA made in the test) and a PKCS#12 holding a code-signing key,
 * planted in a fixture root; an agent process inventories it through a real collector; the
 * alerts that come out are exactly the expected ones.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { startCollector, agentOnce, runCollector, api, tempDir, cleanup } from '../helpers/processes.js';
import { peFixtures } from '../../packages/agent/test/helpers/pe-fixtures.js';
import { parsePe } from '../../packages/agent/src/signing/pe.js';

/** Flips one byte inside the first section's raw data: code changed after signing. */
function tamper(src: string, dst: string): void {
  const buf = readFileSync(src);
  const pe = parsePe(buf);
  const s = pe.sections.find((x) => x.rawSize > 64)!;
  buf[s.rawOffset + 32] ^= 0xff;
  writeFileSync(dst, buf);
}

t.test('signing findings: misplaced key, bad and expired signatures, certificate indicators', async (t) => {
  const fx = peFixtures();
  const dir = await tempDir();
  t.teardown(() => cleanup(dir));
  const root = path.join(dir, 'root');
  mkdirSync(path.join(root, 'opt/app'), { recursive: true });
  mkdirSync(path.join(root, 'home/dev'), { recursive: true });
  const place = (src: string, name: string) => { const p = path.join(root, 'opt/app', name); copyFileSync(src, p); chmodSync(p, 0o755); };
  place(fx.signed.sha256!, 'good.exe');
  tamper(fx.signed.sha256!, path.join(root, 'opt/app/tampered.exe'));
  chmodSync(path.join(root, 'opt/app/tampered.exe'), 0o755);
  place(fx.signed.expired!, 'old.exe');
  execFileSync('openssl', ['pkcs12', '-export', '-in', path.join(fx.dir, 'rsa-signer.pem'), '-inkey', path.join(fx.dir, 'rsa-signer.key'),
    '-passout', 'pass:', '-out', path.join(root, 'home/dev/codesign.pfx')]);
  const signerSerial = new X509Certificate(readFileSync(path.join(fx.dir, 'rsa-signer.pem'))).serialNumber; // upper-case hex

  const c = await startCollector({ dir });
  t.teardown(() => c.stop());
  const admin = (await runCollector(['token', 'create', '--role', 'admin', '--db', c.db])).stdout.trim();
  // The serial as a colon-separated, upper-case, DER-padded string: normalisation must meet it.
  const colon = ('00' + signerSerial).match(/../g)!.join(':');
  const push = await api(c, admin, 'POST', '/api/v1/indicators', { indicators: [{ id: 'Test.Cert.Serial', type: 'cert_serial', value: colon, severity: 'high' }] });
  t.equal(push.status, 200, JSON.stringify(push.json));
  t.equal(push.json.rejected, 0);

  const r = await agentOnce(c, root, path.join(dir, 'state'));
  t.equal(r.code, 0, r.stderr);
  const alerts = (await api(c, admin, 'GET', '/api/v1/alerts?limit=1000')).json.items as any[];
  const got = alerts.map((a) => `${a.indicator.id} ${a.item.kind} ${a.item.path}`).sort();
  t.same(got, [
    'Builtin.ExpiredCodeSigningCertInUse signature /opt/app/old.exe',
    'Builtin.MisplacedCodeSigningKey certificate /home/dev/codesign.pfx',
    'Builtin.SignatureNotValid signature /opt/app/tampered.exe',
    'Builtin.SignatureUntrusted signature /opt/app/good.exe',
    // Chain judged first, as osslsigncode does: an untrusted expired signer is untrusted.
    'Builtin.SignatureUntrusted signature /opt/app/old.exe',
    'Test.Cert.Serial certificate /home/dev/codesign.pfx',
    'Test.Cert.Serial signature /opt/app/good.exe',
    'Test.Cert.Serial signature /opt/app/tampered.exe',
  ]);
  const byPath = (p: string, id: string) => alerts.find((a) => a.item.path === p && a.indicator.id === id);
  t.equal(byPath('/opt/app/tampered.exe', 'Builtin.SignatureNotValid').item.verdict, 'digest_mismatch');
  t.equal(byPath('/home/dev/codesign.pfx', 'Builtin.MisplacedCodeSigningKey').severity, 'critical');
  const cert = byPath('/home/dev/codesign.pfx', 'Test.Cert.Serial').item;
  t.equal(cert.has_private_key, true);
  t.notOk(JSON.stringify(cert).includes('PRIVATE KEY'), 'no key material travels');

  // PE file items carry both hashes, and the search by Authenticode hash finds the same file.
  const inv = (await api(c, admin, 'GET', `/api/v1/hosts/${alerts[0].host.id}/inventory?kind=file&limit=100`)).json.items as any[];
  const good = inv.find((i) => i.path === '/opt/app/good.exe');
  t.match(good, { file_type: 'pe', sha256: /^[0-9a-f]{64}$/, authenticode_sha256: /^[0-9a-f]{64}$/ });
  const pesign = execFileSync('pesign', ['-h', '-i', fx.signed.sha256!], { encoding: 'utf8' }).replace(/^hash:\s*/, '').trim().toLowerCase();
  t.equal(good.authenticode_sha256, pesign, 'Authenticode hash equals pesign -h');
});
