// Spec: packages/shared/src/inventory/signature.ts
// A Windows security catalog built in the test: the CTL (makecat's layout) with asn1js, signed
// with `openssl cms` by the test signer. An unsigned PE listed in it is origin 'catalog', both
// through the verifier and through the signatures source reading an offline CatRoot.
import t from 'tap';
import * as asn1js from 'asn1js';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SignatureItem } from '@chainwatch/shared';
import { buildCatalogIndex } from '../../src/signing/catalog.js';
import { loadTrustStore } from '../../src/signing/trust.js';
import { verifyFile } from '../../src/signing/verify.js';
import { signatures } from '../../src/sources/signatures.js';
import { collectAll, testContext } from '../helpers/context.js';
import { peFixtures } from '../helpers/pe-fixtures.js';
import { haveTool } from '../helpers/signed-corpus.js';

const skip = ['osslsigncode', 'x86_64-w64-mingw32-gcc', 'openssl'].some((x) => !haveTool(x)) ? 'fixture tools missing' : false;

function member(digestHex: string): asn1js.Sequence {
  const indirect = new asn1js.Sequence({ value: [
    new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: '1.3.6.1.4.1.311.2.1.15' }), new asn1js.Null()] }),
    new asn1js.Sequence({ value: [
      new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: '2.16.840.1.101.3.4.2.1' }), new asn1js.Null()] }),
      new asn1js.OctetString({ valueHex: Buffer.from(digestHex, 'hex') }),
    ] }),
  ] });
  return new asn1js.Sequence({ value: [
    new asn1js.OctetString({ valueHex: Buffer.from(digestHex.toUpperCase() + '\0', 'utf16le') }),
    new asn1js.Set({ value: [new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: '1.3.6.1.4.1.311.2.1.4' }), new asn1js.Set({ value: [indirect] })] })] }),
  ] });
}

function ctl(digests: string[]): Buffer {
  const seq = new asn1js.Sequence({ value: [
    new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: '1.3.6.1.4.1.311.12.1.1' })] }),
    new asn1js.OctetString({ valueHex: Buffer.from('chainwatch-test') }),
    new asn1js.UTCTime({ valueDate: new Date() }),
    new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: '1.3.6.1.4.1.311.12.1.2' }), new asn1js.Null()] }),
    new asn1js.Sequence({ value: digests.map(member) }),
  ] });
  return Buffer.from(seq.toBER());
}

t.test('catalog-signed PE', { skip }, async (t) => {
  const fx = peFixtures();
  const before = await verifyFile(fx.unsigned, { trust: [fx.ca], systemTrust: false });
  t.equal(before.verdict, 'unsigned');
  const ctlPath = join(fx.dir, 'ctl.der'), catPath = join(fx.dir, 'test.cat');
  writeFileSync(ctlPath, ctl(['00'.repeat(32), before.authenticode_sha256!]));
  execFileSync('openssl', ['cms', '-sign', '-binary', '-nodetach', '-nosmimecap', '-md', 'sha256', '-econtent_type', '1.3.6.1.4.1.311.10.1',
    '-in', ctlPath, '-signer', join(fx.dir, 'rsa-signer.pem'), '-inkey', join(fx.dir, 'rsa-signer.key'), '-outform', 'DER', '-out', catPath]);
  const store = loadTrustStore([fx.ca], false);
  const { index, errors } = buildCatalogIndex([{ path: catPath, der: readFileSync(catPath) }], { store, now: new Date() });
  t.equal(errors.length, 0);
  t.equal(index.size, 2, 'both members indexed');
  const r = await verifyFile(fx.unsigned, { store, catalogs: index });
  t.equal(r.verdict, 'valid', r.reason);
  t.equal(r.signatures[0]?.origin, 'catalog');
  t.equal(r.signatures[0]?.catalog, catPath);
  t.equal(r.signatures[0]?.signer.subject_cn, 'rsa-signer');

  const tamperedCat = Buffer.from(readFileSync(catPath));
  const at = tamperedCat.indexOf(Buffer.from(before.authenticode_sha256!, 'hex'));
  tamperedCat[at] ^= 1; // member digest no longer matches the catalog's messageDigest
  const bad = buildCatalogIndex([{ path: 'bad.cat', der: tamperedCat }], { store, now: new Date() });
  const edited = Buffer.from(before.authenticode_sha256!, 'hex');
  edited[0] ^= 1;
  t.equal(bad.index.get(edited.toString('hex'))?.judged.verdict, 'bad_signature', 'an edited catalog does not vouch for anything');
  t.equal(bad.index.get(before.authenticode_sha256!), undefined, 'and no longer lists the original digest');

  const junk = buildCatalogIndex([{ path: 'junk.cat', der: Buffer.from('not a catalog') }], { store, now: new Date() });
  t.equal(junk.errors.length, 1, 'junk catalog is an error, not a throw');
});

t.test('signatures source: catalogs indexed from CatRoot one by one, members verified', { skip }, async (t) => {
  const fx = peFixtures();
  const root = mkdtempSync(join(tmpdir(), 'cw-catroot-'));
  const catDir = join(root, 'Windows/System32/CatRoot/{F750E6C3-38EE-11D1-85E5-00C04FC295EE}');
  mkdirSync(catDir, { recursive: true });
  const unsigned = await verifyFile(fx.unsigned, { systemTrust: false });
  const ctlPath = join(fx.dir, 'ctl-source.der');
  writeFileSync(ctlPath, ctl([unsigned.authenticode_sha256!]));
  execFileSync('openssl', ['cms', '-sign', '-binary', '-nodetach', '-nosmimecap', '-md', 'sha256', '-econtent_type', '1.3.6.1.4.1.311.10.1',
    '-in', ctlPath, '-signer', join(fx.dir, 'rsa-signer.pem'), '-inkey', join(fx.dir, 'rsa-signer.key'), '-outform', 'DER', '-out', join(catDir, 'app.cat')]);
  writeFileSync(join(catDir, 'junk.cat'), 'not a catalog');
  copyFileSync(fx.unsigned, join(root, 'Windows/System32/app.exe'));
  copyFileSync(fx.signed['sha256']!, join(root, 'Windows/System32/signed.exe'));
  const ctx = testContext(root, { options: { trustFiles: [fx.ca] } });
  ctx.signable.set('/Windows/System32/app.exe', 'pe');
  ctx.signable.set('/Windows/System32/signed.exe', 'pe');
  const items = await collectAll(signatures, ctx);
  const byPath = new Map(items.map((i) => ['path' in i ? String(i.path) : i.key, i]));
  const app = byPath.get('/Windows/System32/app.exe') as SignatureItem;
  t.equal(app.verdict, 'valid', app.reason);
  t.equal(app.signatures[0]?.origin, 'catalog');
  t.equal(app.signatures[0]?.catalog, '/Windows/System32/CatRoot/{F750E6C3-38EE-11D1-85E5-00C04FC295EE}/app.cat', 'named as on the scanned system');
  t.equal((byPath.get('/Windows/System32/signed.exe') as SignatureItem).verdict, 'valid', 'embedded signature still judged');
  const errors = items.filter((i) => i.kind === 'error');
  t.equal(errors.length, 1, 'the junk catalog is one error item');
  t.match(errors[0], { code: 'CW_PKCS7_MALFORMED' });
});
