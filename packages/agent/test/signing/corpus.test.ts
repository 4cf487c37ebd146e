// Spec: packages/shared/src/inventory/signature.ts
// Real signed files (Debian Secure Boot binaries, npm-vendored Windows executables) checked
// against independent oracles: osslsigncode verify, pesign -h / -S, sbverify --list.
import t from 'tap';
import { Compile } from 'typebox/compile';
import { SignatureItem } from '@chainwatch/shared';
import { verifyFile } from '../../src/signing/verify.js';
import { haveTool, osslsigncodeVerify, pesignHash, pesignSigners, sbverifyList, signedCorpus, type Corpus } from '../helpers/signed-corpus.js';

const tools = ['osslsigncode', 'pesign', 'sbverify'].filter((x) => !haveTool(x));
let corpus: Corpus | null = null;
let fetchError = '';
try { corpus = signedCorpus(); } catch (err) { fetchError = (err as Error).message; }
const check = Compile(SignatureItem);

t.test('corpus', { skip: tools.length > 0 ? `missing ${tools.join(', ')}` : corpus === null ? `fetch failed: ${fetchError}` : false }, async (t) => {
  const c = corpus!;
  t.comment(`corpus versions: ${JSON.stringify(c.versions)}`);
  for (const f of c.files) {
    await t.test(`${f.source} ${f.name}`, async (t) => {
      const r = await verifyFile(f.path);
      t.ok(check.Check(r), 'validates against the shared schema');
      const oss = osslsigncodeVerify(f.path);
      const pesign = pesignHash(f.path);
      if (r.verdict === 'unsigned') {
        t.equal(oss.verdict, 'unsigned', 'osslsigncode also finds no signature');
        return;
      }
      t.equal(r.authenticode_sha256, pesign, 'image hash equals pesign -h');
      const signers = pesignSigners(f.path);
      t.same(r.signatures.map((s) => s.signer.subject_cn), signers, 'signer CNs equal pesign -S (outermost first)');
      t.equal(r.signatures.length, sbverifyList(f.path).length, 'signature count equals sbverify --list');
      if (oss.verdict === 'malformed') {
        // osslsigncode cannot read shim's two WIN_CERTIFICATE entries: pesign and sbverify decided above.
        t.match(oss.output, /Corrupted attribute certificate table/, 'osslsigncode fails only on the known double table');
        return;
      }
      t.equal(r.verdict, oss.verdict, `verdict equals osslsigncode (${r.reason})`);
      t.equal(r.signatures[0]!.signer.serial, oss.serials[0]!.toLowerCase().replace(/^0+/, ''), 'signer serial equals osslsigncode');
      if (oss.digestAlg === 'sha256') t.equal(oss.calculated, r.authenticode_sha256, 'osslsigncode calculated digest equals ours');
    });
  }
});

t.test('debian secure boot chain verifies with the Debian CA as anchor', { skip: corpus === null }, async (t) => {
  // The vendor certificate shim embeds in its .vendor_cert section is the anchor of every
  // Debian-signed EFI binary; with it passed as --trust they become valid.
  const { extractVendorCert } = await import('../helpers/vendor-cert.js');
  const shim = corpus!.files.find((f) => f.name === 'shimx64.efi.signed')!;
  const pem = extractVendorCert(shim.path);
  for (const f of corpus!.files.filter((x) => x.source.startsWith('grub') || x.source.startsWith('fwupd'))) {
    const r = await verifyFile(f.path, { trust: [pem] });
    t.equal(r.verdict, 'valid', `${f.name}: ${r.reason}`);
    t.equal(r.signatures[0]?.code_signing_eku, true, 'signer may sign code');
  }
});
