// Spec: packages/shared/src/inventory/signature.ts
// An OLE compound file built with `cfb`, signed by osslsigncode as an MSI, verified by us and
// by osslsigncode; a tampered stream must become digest_mismatch for both.
import t from 'tap';
import CFB from 'cfb';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { verifyFile } from '../../src/signing/verify.js';
import { peFixtures } from '../helpers/pe-fixtures.js';
import { haveTool, osslsigncodeVerify } from '../helpers/signed-corpus.js';

const skip = ['osslsigncode', 'x86_64-w64-mingw32-gcc', 'openssl'].some((x) => !haveTool(x)) ? 'fixture tools missing' : false;

t.test('msi', { skip }, async (t) => {
  const fx = peFixtures();
  const cfb = CFB.utils.cfb_new();
  CFB.utils.cfb_add(cfb, '/\u4840\u3f7f\u4164', Buffer.from('summary-information'.repeat(50)));
  CFB.utils.cfb_add(cfb, '/Binary/payload', Buffer.alloc(9000, 0x5a));
  CFB.utils.cfb_add(cfb, '/\u4840\u3b3f\u43f2', Buffer.from('tables'));
  const unsigned = join(fx.dir, 'test.msi'), signed = join(fx.dir, 'signed.msi');
  writeFileSync(unsigned, CFB.write(cfb, { type: 'buffer' }) as Buffer);
  t.equal((await verifyFile(unsigned)).verdict, 'unsigned');
  execFileSync('osslsigncode', ['sign', '-certs', join(fx.dir, 'rsa-signer.pem'), '-key', join(fx.dir, 'rsa-signer.key'), '-h', 'sha256', '-in', unsigned, '-out', signed]);
  const opts = { trust: [fx.ca], systemTrust: false };
  const r = await verifyFile(signed, opts);
  const o = osslsigncodeVerify(signed, ['-CAfile', fx.ca]);
  t.equal(r.format, 'msi');
  t.equal(r.verdict, o.verdict, `same verdict as osslsigncode: ${r.reason}`);
  t.equal(r.verdict, 'valid');
  t.equal(r.signatures[0]?.signer.subject_cn, 'rsa-signer');

  const b = Buffer.from(readFileSync(signed));
  b[b.indexOf(Buffer.alloc(64, 0x5a)) + 10] = 0x5b;
  const tampered = join(fx.dir, 'tampered.msi');
  writeFileSync(tampered, b);
  const r2 = await verifyFile(tampered, opts);
  t.equal(r2.verdict, 'digest_mismatch', r2.reason);
  t.equal(osslsigncodeVerify(tampered, ['-CAfile', fx.ca]).verdict, 'digest_mismatch', 'osslsigncode agrees');
});
