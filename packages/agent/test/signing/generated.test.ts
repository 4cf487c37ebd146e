// Spec: packages/shared/src/inventory/signature.ts
// PE files built and signed in the test (mingw-w64 + osslsigncode + a test CA), then tampered;
// every verdict is compared with osslsigncode's, and where osslsigncode stops reading
// (signature not at the end of the file) with sbverify's and pesign's.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifyFile, type VerifyOptions } from '../../src/signing/verify.js';
import { parsePe } from '../../src/signing/pe.js';
import { parseAuthenticode } from '../../src/signing/pkcs7.js';
import { peFixtures, type Fixtures } from '../helpers/pe-fixtures.js';
import { haveTool, osslsigncodeVerify, pesignHash } from '../helpers/signed-corpus.js';

const missing = ['osslsigncode', 'x86_64-w64-mingw32-gcc', 'openssl', 'sbverify', 'pesign'].filter((x) => !haveTool(x));
const skip = missing.length > 0 ? `missing ${missing.join(', ')}` : false;

let fx: Fixtures;
let opts: VerifyOptions;
const oss = (f: string) => osslsigncodeVerify(f, ['-CAfile', fx.ca, '-TSA-CAfile', fx.ca]);

t.before(() => {
  if (skip) return;
  fx = peFixtures();
  opts = { trust: [fx.ca], systemTrust: false };
});

const expected: Record<string, { verdict: string; sigs: number; alg: string; ts: boolean }> = {
  sha1: { verdict: 'valid', sigs: 1, alg: 'sha1', ts: false },
  sha256: { verdict: 'valid', sigs: 1, alg: 'sha256', ts: false },
  ec: { verdict: 'valid', sigs: 1, alg: 'sha256', ts: false },
  timestamped: { verdict: 'valid', sigs: 1, alg: 'sha256', ts: true },
  expired: { verdict: 'expired_no_timestamp', sigs: 1, alg: 'sha256', ts: false },
  expired_timestamped: { verdict: 'valid', sigs: 1, alg: 'sha256', ts: true },
  dual: { verdict: 'valid', sigs: 2, alg: 'sha1', ts: false },
};

t.test('signed variants match osslsigncode', { skip }, async (t) => {
  for (const [name, want] of Object.entries(expected)) {
    const f = fx.signed[name]!;
    const r = await verifyFile(f, opts);
    const o = oss(f);
    t.equal(r.verdict, want.verdict, `${name}: ${r.reason}`);
    t.equal(r.verdict, o.verdict, `${name}: same verdict as osslsigncode`);
    t.equal(r.signatures.length, want.sigs, `${name}: signature count`);
    t.equal(r.signatures[0]!.digest_algorithm, want.alg, `${name}: digest algorithm`);
    t.equal(r.signatures[0]!.timestamp !== null, want.ts, `${name}: timestamp presence`);
    t.equal(r.signatures[0]!.signer.serial, o.serials[0]!.toLowerCase().replace(/^0+/, ''), `${name}: serial equals osslsigncode`);
    t.equal(r.authenticode_sha256, pesignHash(f), `${name}: image hash equals pesign -h`);
    if (o.calculated && want.alg === 'sha256') t.equal(r.authenticode_sha256, o.calculated, `${name}: digest equals osslsigncode's`);
  }
  const dual = await verifyFile(fx.signed['dual']!, opts);
  t.same(dual.signatures.map((s) => s.signer.subject_cn), ['rsa-signer', 'ec-signer'], 'nested: outermost first');
  t.same(dual.signatures.map((s) => s.digest_algorithm), ['sha1', 'sha256'], 'nested: each with its own algorithm');
});

t.test('untrusted without the test CA, like osslsigncode with the system bundle', { skip }, async (t) => {
  const r = await verifyFile(fx.signed['sha256']!, { systemTrust: true });
  t.equal(r.verdict, 'untrusted_chain');
  t.equal(osslsigncodeVerify(fx.signed['sha256']!).verdict, 'untrusted_chain');
});

t.test('unsigned', { skip }, async (t) => {
  const r = await verifyFile(fx.unsigned, opts);
  t.equal(r.verdict, 'unsigned');
  t.equal(oss(fx.unsigned).verdict, 'unsigned');
  t.equal(r.authenticode_sha256, pesignHash(fx.unsigned), 'unsigned image hash equals pesign -h');
});

function tampered(name: string, edit: (b: Buffer) => Buffer): string {
  const out = join(fx.dir, `tampered-${name}.exe`);
  writeFileSync(out, edit(Buffer.from(readFileSync(fx.signed['sha256']!))));
  return out;
}

t.test('tampered copies', { skip }, async (t) => {
  const flipCode = tampered('code', (b) => {
    const text = parsePe(b).sections.find((s) => s.name === '.text')!;
    b[text.rawOffset + 64] ^= 0x01;
    return b;
  });
  let r = await verifyFile(flipCode, opts);
  t.equal(r.verdict, 'digest_mismatch', r.reason);
  t.equal(oss(flipCode).verdict, 'digest_mismatch', 'osslsigncode agrees');

  const flipSig = tampered('sig', (b) => {
    const entry = parsePe(b).certificates[0]!;
    const sig = parseAuthenticode(entry.data).signer.info.signature;
    b[b.indexOf(Buffer.from(sig)) + 10] ^= 0x80;
    return b;
  });
  r = await verifyFile(flipSig, opts);
  t.equal(r.verdict, 'bad_signature', r.reason);
  t.equal(oss(flipSig).verdict, 'bad_signature', 'osslsigncode agrees');

  const flipAttr = tampered('attr', (b) => {
    // A byte of the SpcIndirectDataContent digest: messageDigest no longer matches.
    const entry = parsePe(b).certificates[0]!;
    const d = parseAuthenticode(entry.data).indirect.digest;
    b[b.indexOf(d) + 3] ^= 0x01;
    return b;
  });
  r = await verifyFile(flipAttr, opts);
  t.ok(['digest_mismatch', 'bad_signature'].includes(r.verdict), `signed digest edited: ${r.verdict}`);
  t.equal(r.verdict, oss(flipAttr).verdict, 'osslsigncode agrees');
});

t.test('appended data: Authenticode hash covers it (pesign, sbverify); osslsigncode stops reading', { skip }, async (t) => {
  const f = tampered('appended', (b) => Buffer.concat([b, Buffer.alloc(100, 0x41)]));
  const r = await verifyFile(f, opts);
  t.equal(r.verdict, 'digest_mismatch', r.reason);
  t.equal(r.trailing_bytes, 100);
  t.equal(r.authenticode_sha256, pesignHash(f), 'image hash equals pesign -h');
  const sb = spawnSync('sbverify', ['--cert', fx.ca, f], { encoding: 'utf8' });
  t.match(`${sb.stdout}${sb.stderr}`, /Image fails hash check/, 'sbverify: hash mismatch too');
  t.match(oss(f).output, /Ignoring PE signature not at the end of the file/, 'osslsigncode ignores the signature (documented divergence)');
});

t.test('3CX-style data hidden in the WIN_CERTIFICATE keeps the signature valid and is reported', { skip }, async (t) => {
  const extra = 4096;
  const f = tampered('padded', (b) => {
    const pe = parsePe(b);
    const out = Buffer.concat([b, Buffer.alloc(extra, 0xcc)]);
    out.writeUInt32LE(pe.certTable.size + extra, pe.securityDirOffset + 4);
    out.writeUInt32LE(pe.certificates[0]!.length + extra, pe.certificates[0]!.offset);
    return out;
  });
  const r = await verifyFile(f, opts);
  const o = oss(f);
  t.equal(r.verdict, 'valid', r.reason);
  t.equal(r.verdict, o.verdict, 'osslsigncode also calls it valid');
  t.ok(r.trailing_bytes! >= extra, `trailing_bytes ${r.trailing_bytes} reported`);
  t.match(r.reason, /trailing bytes/);
});

t.test('truncated file is malformed (sbverify cannot parse it either)', { skip }, async (t) => {
  const f = tampered('truncated', (b) => b.subarray(0, b.length - 300));
  const r = await verifyFile(f, opts);
  t.equal(r.verdict, 'malformed', r.reason);
  const sb = spawnSync('sbverify', ['--cert', fx.ca, f], { encoding: 'utf8' });
  t.not(sb.status, 0, 'sbverify fails');
  t.match(oss(f).output, /No signature found|Failed/, 'osslsigncode ignores the cut table (documented divergence)');
  const headerOnly = tampered('headers', (b) => b.subarray(0, 200));
  t.equal((await verifyFile(headerOnly, opts)).verdict, 'malformed');
});

t.test('copy of a signed file keeps its verdict (sanity for the tamper helper)', { skip }, async (t) => {
  const f = join(fx.dir, 'copy.exe');
  copyFileSync(fx.signed['sha256']!, f);
  t.equal((await verifyFile(f, opts)).verdict, 'valid');
});
