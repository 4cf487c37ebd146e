// Spec: packages/shared/src/inventory/signature.ts
// A Windows security catalog built in the test: the CTL (makecat's layout) with asn1js, signed
// with `openssl cms` by the test signer. An unsigned PE listed in it is origin 'catalog'.
import t from 'tap';
import * as asn1js from 'asn1js';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildCatalogIndex } from '../../src/signing/catalog.js';
import { loadTrustStore } from '../../src/signing/trust.js';
import { verifyFile } from '../../src/signing/verify.js';
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
  const entry = [...bad.index.values()][0]!;
  t.equal(entry.judged.verdict, 'bad_signature', 'an edited catalog does not vouch for anything');

  const junk = buildCatalogIndex([{ path: 'junk.cat', der: Buffer.from('not a catalog') }], { store, now: new Date() });
  t.equal(junk.errors.length, 1, 'junk catalog is an error, not a throw');
});
