// Spec: packages/agent/src/signing/pe-digest.ts, pe-file.ts, bytes.ts (streamed Authenticode digests)
// The digest of a PE read in bounded chunks must equal the one computed over the whole file in
// memory, and pesign -h's, for real signed files (Debian Secure Boot binaries, npm-vendored
// Windows executables) and for generated ones with odd layouts: data after the table, slack in
// the table, an unsigned image whose size is not a multiple of 8, chunk boundaries through the
// CheckSum field and the security directory entry. Truncated files are a verdict
// (CW_PE_TRUNCATED), never a crash, and memory stays at one chunk whatever the file size.
import t from 'tap';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeFileSync, ftruncateSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { authenticodeHashes } from '../../src/signing/authenticode-hash.js';
import { MAX_CERT_TABLE_BYTES, parsePe, type PeInfo } from '../../src/signing/pe.js';
import { bufferChunks, DIGEST_CHUNK } from '../../src/signing/bytes.js';
import { peDigests } from '../../src/signing/pe-digest.js';
import { fileChunks, peFileBytes } from '../../src/signing/pe-file.js';
import { parseAuthenticode } from '../../src/signing/pkcs7.js';
import { verifyBuffer, verifyFile } from '../../src/signing/verify.js';
import { peFixtures, type Fixtures } from '../helpers/pe-fixtures.js';
import { haveTool, pesignHash, signedCorpus, type Corpus } from '../helpers/signed-corpus.js';

const missing = ['osslsigncode', 'x86_64-w64-mingw32-gcc', 'openssl', 'pesign'].filter((x) => !haveTool(x));
const skip = missing.length > 0 ? `missing ${missing.join(', ')}` : false;
let corpus: Corpus | null = null;
try { corpus = signedCorpus(); } catch { corpus = null; }

let fx: Fixtures;
t.before(() => { if (!skip) fx = peFixtures(); });

/**
 * The Authenticode digest as the spec words it, over the whole file in memory: everything but
 * CheckSum, the security directory entry and the table; bytes after the table counted from the
 * table's start; an unsigned image padded to 8 bytes. Written apart from digestRanges on purpose.
 */
function wholeFileDigest(buf: Buffer, alg: 'sha1' | 'sha256'): string {
  const pe = parsePe(buf);
  const h = createHash(alg);
  const end = pe.certTable.size > 0 ? pe.certTable.offset : buf.length;
  h.update(buf.subarray(0, pe.checksumOffset));
  h.update(buf.subarray(pe.checksumOffset + 4, pe.securityDirOffset));
  h.update(buf.subarray(pe.securityDirOffset + 8, end));
  if (pe.certTable.size > 0) {
    const extra = buf.length - pe.certTable.size - end;
    if (extra > 0) h.update(buf.subarray(end, end + extra));
  } else if (buf.length % 8 !== 0) {
    h.update(Buffer.alloc(8 - (buf.length % 8)));
  }
  return h.digest('hex');
}

/** Digests of a file read through fileBytes/fileChunks with the given chunk size. */
async function streamed(file: string, chunk: number): Promise<{ sha256: string; sha1: string; file: string; pe: PeInfo }> {
  const fh = await open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    const pe = parsePe(peFileBytes(fh, size));
    const d = await peDigests(fileChunks(fh, size, chunk), pe, ['sha256', 'sha1']);
    return { sha256: d.image.get('sha256')!.toString('hex'), sha1: d.image.get('sha1')!.toString('hex'), file: d.fileSha256.toString('hex'), pe };
  } finally {
    await fh.close();
  }
}

/** Chunk sizes that cut the header fields and the table at every kind of offset. */
const CHUNKS = [1, 3, 7, 64, 4093, 65536, DIGEST_CHUNK];

/** What an independent tool says the SHA-256 Authenticode digest is. */
type Oracle = (file: string) => string | null;

/**
 * For an unsigned image whose size is not a multiple of 8, pesign hashes it unpadded; the
 * digest that counts is the one a signer writes into the signed copy: sign it and read that.
 */
const signedCopyDigest: Oracle = (file) => {
  const out = `${file}.signed`;
  execFileSync('osslsigncode', ['sign', '-certs', 'rsa-signer.pem', '-key', 'rsa-signer.key', '-h', 'sha256', '-in', file, '-out', out], { cwd: fx.dir, stdio: 'ignore' });
  return parseAuthenticode(parsePe(readFileSync(out)).certificates[0]!.data).indirect.digest.toString('hex');
};

async function checkFile(t: Tap.Test, file: string, what: string, chunks = CHUNKS, oracle: Oracle = pesignHash): Promise<void> {
  const buf = readFileSync(file);
  const want = { sha256: wholeFileDigest(buf, 'sha256'), sha1: wholeFileDigest(buf, 'sha1'), file: createHash('sha256').update(buf).digest('hex') };
  for (const c of chunks) {
    const got = await streamed(file, c);
    t.same({ sha256: got.sha256, sha1: got.sha1, file: got.file }, want, `${what}: chunks of ${c} bytes give the whole-file digests`);
  }
  const inMemory = await peDigests(bufferChunks(buf), parsePe(buf), ['sha256']);
  t.equal(inMemory.image.get('sha256')!.toString('hex'), want.sha256, `${what}: in-memory source agrees`);
  t.equal(want.sha256, oracle(file), `${what}: equals ${oracle === pesignHash ? 'pesign -h' : 'the digest signed into a signed copy'}`);
}

t.test('real signed PE files: streamed digest equals whole-file digest and pesign -h', { skip: skip || (corpus === null ? 'no corpus' : false) }, async (t) => {
  for (const f of corpus!.files) await checkFile(t, f.path, `${f.source} ${f.name}`, [4093, DIGEST_CHUNK]);
});

function variant(name: string, edit: (b: Buffer) => Buffer, from?: string): string {
  const out = join(fx.dir, `digest-${name}.exe`);
  writeFileSync(out, edit(Buffer.from(readFileSync(from ?? fx.signed['sha256']!))));
  return out;
}

t.test('generated PE files with odd layouts', { skip }, async (t) => {
  await checkFile(t, fx.signed['sha256']!, 'signed, table at the end');
  await checkFile(t, fx.signed['dual']!, 'nested signature');
  await checkFile(t, fx.unsigned, 'unsigned');
  await checkFile(t, variant('appended', (b) => Buffer.concat([b, Buffer.alloc(101, 0x41)])), 'data after the table');
  await checkFile(t, variant('odd-unsigned', (b) => Buffer.concat([b, Buffer.alloc(5, 0x42)]), fx.unsigned), 'unsigned, size not a multiple of 8', CHUNKS, signedCopyDigest);
  await checkFile(t, variant('slack', (b) => {
    // Table grown by 4 zero bytes of slack after its one entry (fewer than an entry header).
    const pe = parsePe(b);
    const out = Buffer.concat([b, Buffer.alloc(4)]);
    out.writeUInt32LE(pe.certTable.size + 4, pe.securityDirOffset + 4);
    return out;
  }), 'slack inside the table');
  await checkFile(t, variant('odd-entry', (b) => {
    // 13 bytes hidden inside the WIN_CERTIFICATE (3CX style): entry and table sizes not multiples of 8.
    const pe = parsePe(b);
    const out = Buffer.concat([b, Buffer.alloc(13, 0xcc)]);
    out.writeUInt32LE(pe.certTable.size + 13, pe.securityDirOffset + 4);
    out.writeUInt32LE(pe.certificates[0]!.length + 13, pe.certificates[0]!.offset);
    return out;
  }), 'entry and table of odd sizes');
  await checkFile(t, variant('overlay', (b) => Buffer.concat([b, Buffer.alloc(3000, 0x33)]), fx.unsigned), 'unsigned with overlay data');
});

t.test('a big PE is verified with one chunk of memory', { skip }, async (t) => {
  // 96 MiB appended to a real unsigned PE, sparse on disk: reading it whole would cost 96 MiB.
  const f = join(fx.dir, 'digest-big.exe');
  writeFileSync(f, readFileSync(fx.unsigned));
  const fd = openSync(f, 'r+');
  const base = readFileSync(fx.unsigned).length;
  ftruncateSync(fd, base + 96 * 1024 * 1024);
  writeSync(fd, Buffer.from('tail'), 0, 4, base + 96 * 1024 * 1024 - 4);
  closeSync(fd);
  let peak = 0;
  const before = process.memoryUsage().arrayBuffers;
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().arrayBuffers - before); }, 1);
  const r = await verifyFile(f, { systemTrust: false });
  const h = await authenticodeHashes(f, 1 << 30);
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().arrayBuffers - before);
  t.equal(r.verdict, 'unsigned');
  t.equal(r.trailing_bytes, 96 * 1024 * 1024);
  t.equal(h?.sha256, r.authenticode_sha256, 'files source hash equals the verifier\'s');
  t.ok(peak < 16 * 1024 * 1024, `buffers grew by ${(peak / 1048576).toFixed(1)} MiB while verifying a 96 MiB file`);
  await checkFile(t, f, 'big sparse file', [DIGEST_CHUNK]);
});

t.test('truncated PE: CW_PE_TRUNCATED verdict, never a crash', { skip }, async (t) => {
  const signed = readFileSync(fx.signed['sha256']!);
  const pe = parsePe(signed);
  const cuts = [30, 0x40, pe.checksumOffset, pe.securityDirOffset + 4, pe.sections[0]!.rawOffset + 5, pe.certTable.offset + 4, signed.length - 1];
  for (const n of cuts) {
    const f = variant(`cut-${n}`, (b) => b.subarray(0, n));
    const r = await verifyFile(f, { systemTrust: false });
    t.equal(r.verdict, 'malformed', `cut at ${n}: ${r.reason}`);
    t.match(r.reason, /PE file ends before a structure/, `cut at ${n}: the CW_PE_TRUNCATED reason`);
    t.equal(r.sha256, createHash('sha256').update(signed.subarray(0, n)).digest('hex'), `cut at ${n}: file hash still reported`);
    t.equal(await authenticodeHashes(f, 1 << 30), null, `cut at ${n}: no Authenticode hash for the files source`);
    const fh = await open(f, 'r');
    try {
      t.throws(() => parsePe(peFileBytes(fh, n)), { code: 'CW_PE_TRUNCATED' }, `cut at ${n}: parser throws CW_PE_TRUNCATED`);
    } finally { await fh.close(); }
  }
  // A file that shrinks between stat and read: the header reader refuses to invent bytes.
  const f = variant('shrunk', (b) => b.subarray(0, 0x200));
  const fh = await open(f, 'r');
  try {
    t.throws(() => parsePe(peFileBytes(fh, signed.length)), { code: 'CW_PE_TRUNCATED' }, 'shrunk file: CW_PE_TRUNCATED');
  } finally { await fh.close(); }
});

t.test('a certificate table beyond the limit is malformed, not read', { skip }, async (t) => {
  const b = Buffer.from(readFileSync(fx.signed['sha256']!));
  const pe = parsePe(b);
  const grown = Buffer.concat([b, Buffer.alloc(MAX_CERT_TABLE_BYTES)]);
  grown.writeUInt32LE(pe.certTable.size + MAX_CERT_TABLE_BYTES, pe.securityDirOffset + 4);
  const r = await verifyBuffer(grown, 'grown.exe', { systemTrust: false });
  t.equal(r.verdict, 'malformed');
  t.match(r.reason, /certificate table of \d+ bytes exceeds/);
});
